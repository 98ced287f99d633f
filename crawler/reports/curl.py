"""Copy-pasteable `curl` reproductions of a check's (already redacted) request."""

from __future__ import annotations

import re
import shlex
from urllib.parse import urlsplit, urlunsplit

from crawler.reports.matrix import shows_identity
from crawler.results import CheckResult, Run

# Where an in-process run's requests go when reproduced against a served copy of the app.
IN_PROCESS_ORIGIN = "${BASE_URL:-http://127.0.0.1:8000}"

# curl reads [] and {} in a URL as ranges and sets ("globbing"); `[REDACTED]` would break it.
_GLOB_CHARS = re.compile(r"[\[\]{}]")

# Characters that would end the identity comment, or drive a terminal it is printed on.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

# Characters that keep their meaning inside double quotes: backslash-escape them.
_DOUBLE_QUOTE_SPECIAL = re.compile(r'([\\$`"])')


def curl_command(run: Run, result: CheckResult, *, label: bool | None = None) -> str:
    """One shell line that sends the check's request again, e.g.

    `curl -sS -i -X POST 'http://host/path?q=1' -H 'Accept: application/json' --data-raw '{"a":1}'`

    Every argument is shell-quoted. GET needs no `-X`; HEAD is sent with `-I` (headers
    only) instead of `-i`. Redacted values stay `[REDACTED]` so the user sees what to fill
    in. For an in-process run the recorded origin (`http://testserver`) is not reachable,
    so the URL starts with `"${BASE_URL:-http://127.0.0.1:8000}"`, expanded by the shell.

    When the run has identities, a trailing shell comment says whose request it is
    (`  # as viewer`), since its credentials show only as `[REDACTED]`. `label` forces
    it on or off; by default it is on when `matrix.shows_identity(run)`.
    """
    request = result.request
    method = request.method.upper()
    body = request.body
    args = ["curl", "-sS", "-I" if method == "HEAD" else "-i"]
    if method not in ("GET", "HEAD") or (method == "GET" and body is not None):
        args += ["-X", shlex.quote(method)]  # curl would turn a GET with a body into a POST
    if _GLOB_CHARS.search(request.url):
        args.append("--globoff")
    args.append(_url_argument(request.url, in_process=run.in_process))
    header_names = set()
    for name, value in request.headers.items():
        header_names.add(name.lower())
        # `-H 'Name:'` would remove the header; `-H 'Name;'` sends it empty.
        args += ["-H", shlex.quote(f"{name}: {value}" if value else f"{name};")]
    if request.content_type and "content-type" not in header_names:
        args += ["-H", shlex.quote(f"Content-Type: {request.content_type}")]
    if body is not None:
        args += ["--data-raw", shlex.quote(body)]
    line = " ".join(args)
    if shows_identity(run) if label is None else label:
        # A comment runs to the end of the line: nothing in the name may end the line.
        line += f"  # as {_CONTROL.sub('?', result.identity)}"
    return line


def _url_argument(url: str, *, in_process: bool) -> str:
    if not in_process:
        return shlex.quote(url)
    parts = urlsplit(url)
    rest = urlunsplit(("", "", parts.path or "/", parts.query, parts.fragment))
    if "!" in rest:
        # Interactive shells expand `!` even inside double quotes: single-quote the rest.
        return f'"{IN_PROCESS_ORIGIN}"{shlex.quote(rest)}'
    escaped = _DOUBLE_QUOTE_SPECIAL.sub(r"\\\1", rest)
    return f'"{IN_PROCESS_ORIGIN}{escaped}"'
