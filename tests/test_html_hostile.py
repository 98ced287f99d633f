"""Hostile responses in the HTML report, checked in a real headless Chromium.

Every place text from the target reaches the report (paths, names, identity names, status
reasons, header names and values, bodies, diagnoses) carries payloads that would, if any
ran, change `document.title` or mark the root element; links carry `javascript:` URLs;
some payloads close a `<textarea>`/`<title>` or break out of an attribute. The test loads
the report from a file, lets its own script run, and asserts that nothing of the target's
ran or became an element, then takes a screenshot to check the page actually rendered.
"""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import samples
from test_html_report import dump_dom, parse

from crawler.reports import html
from crawler.results import Diagnosis, IdentityStatus, Run

TITLE_PAYLOADS = [
    "<script>document.title='pwned'</script>",
    "<img src=x onerror=\"document.title='pwned'\">",
    "<svg onload=\"document.documentElement.setAttribute('data-pwned','1')\">",
    "<a href=\"javascript:document.title='pwned'\">click</a>",
    "javascript:document.title='pwned'",
    "</textarea><script>document.title='pwned'</script>",
    "</title><script>document.title='pwned'</script>",
    '" onmouseover="document.title=\'pwned\'" x="',
    "' autofocus onfocus='document.title=`pwned`' x='",
    "<iframe srcdoc=\"<script>parent.document.title='pwned'</script>\"></iframe>",
    "<style>body{display:none}</style>",
    '<base href="javascript:/">',
    '<meta http-equiv="refresh" content="0;url=javascript:document.title=\'pwned\'">',
]
HOSTILE = "".join(TITLE_PAYLOADS)


def hostile_run() -> Run:
    """Failures whose every target-controlled field is hostile, as two identities."""
    results = []
    for index, payload in enumerate(TITLE_PAYLOADS):
        identity = "admin" if index % 2 else f"evil{payload[:12]}"
        results.append(
            samples.result(
                f"Group {payload}",
                index,
                f"/api/{payload}",
                samples.response(
                    500,
                    reason=payload,
                    headers={"content-type": "text/html", f"x-{index}": payload},
                    body=HOSTILE,
                ),
                "FAIL",
                reason=f"expected 200, got 500 {payload}",
                name=payload,
                url=f"javascript:document.title='pwned'//{index}",
                identity=identity,
                headers={"X-Echo": payload},
            )
        )
    results.append(
        samples.result(
            "Mismatches",
            98,
            f"/api/missing/{TITLE_PAYLOADS[3]}",
            samples.response(404, reason=TITLE_PAYLOADS[4], body=HOSTILE),
            "FAIL",
            reason="expected 200, got 404",
            diagnosis=Diagnosis(
                cause="near_miss",
                detail=HOSTILE,
                suggestions=(f"GET /api/{TITLE_PAYLOADS[3]}",),
                confirmed=(f"GET /api/{TITLE_PAYLOADS[7]}",),
            ),
        )
    )
    results.append(samples.result("Fine", 99, "/health", samples.response(200, body="ok"), "PASS"))
    names = sorted({r.identity for r in results})
    return samples.run(
        results,
        name=f"Hostile {TITLE_PAYLOADS[5]}",
        identities=tuple(IdentityStatus(name=n, kind="bearer") for n in names),
    )


def png_pixels_vary(png: bytes) -> bool:
    """Whether a PNG's decoded scanlines hold more than a couple of distinct byte values:
    a blank (or all-white) page does not."""
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    position, data = 8, b""
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        if kind == b"IDAT":
            data += png[position + 8 : position + 8 + length]
        position += 12 + length
    pixels = zlib.decompress(data)
    return len(set(pixels)) > 16


def test_hostile_text_is_inert_in_chromium(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    report.write_text(html.render(hostile_run()), encoding="utf-8")
    page = parse(dump_dom(report, tmp_path / "profile"))

    assert page.one("body").attrs.get("data-ready") == "1"  # the report's own script ran
    title = page.one("title").all_text
    # A payload that ran would have set it to 'pwned'; shown as text, it is all there.
    assert title == f"Hostile {TITLE_PAYLOADS[5]} verification (1/15 PASS)"
    assert "data-pwned" not in page.one("html").attrs
    for tag in ("img", "svg", "iframe", "textarea", "base", "style"):
        found = [e for e in page.find(tag) if tag != "style" or "display:none" in e.all_text]
        assert not found, tag
    assert len(page.find("script")) == 1
    assert [m for m in page.find("meta") if m.attrs.get("http-equiv") == "refresh"] == []
    hrefs = [a.attrs.get("href") or "" for a in page.find("a")]
    assert not [h for h in hrefs if h.strip().lower().startswith("javascript:")]
    attributes = {name for element in page.find() for name in element.attrs}
    assert not {"onmouseover", "onfocus", "onerror", "onload", "autofocus"} & attributes
    # The payloads are shown, as text.
    assert TITLE_PAYLOADS[0] in page.one(id="failures").all_text


def test_hostile_report_renders_a_visible_page(tmp_path: Path) -> None:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("chromium is not installed (Debian: apt-get install chromium; `make browser`)")
    report = tmp_path / "report.html"
    report.write_text(html.render(hostile_run()), encoding="utf-8")
    shot = tmp_path / "shot.png"
    completed = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={tmp_path / 'profile'}",
            "--window-size=1200,900",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    assert png_pixels_vary(shot.read_bytes())
