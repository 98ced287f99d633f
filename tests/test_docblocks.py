"""--update-doc: the marked blocks of a status document are rewritten, every other byte kept."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import samples
from click.testing import CliRunner

from crawler import docblocks
from crawler.baseline import compare
from crawler.cli import cli
from crawler.errors import UsageError
from crawler.reports import markdown
from crawler.results import Known, Run, dump_run

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "specs" / "demo.yaml"

# A status document as a sprint lead writes it: prose, and blocks (name, stale content).
# Prose keeps trailing spaces, tabs, a fence showing markers, and a marker-like comment
# sharing a line with text: none of that is a block.
Part = str | tuple[str, str]
STATUS: list[Part] = [
    "# Sprint 14 status\n\nProse the lead wrote. *Keep me*   \n\n## Verification\n",
    ("summary", "stale summary\n| a | b |\n"),
    "\nBetween blocks:\ta tab, trailing spaces   \n\n### Billing\n",
    ("group:Billing", ""),
    "\n```markdown\n<!-- crawler:begin summary -->\nshown in a fence, not a block\n"
    "<!-- crawler:end summary -->\n```\n\n"
    "Inline, not a marker: <!-- crawler:begin matrix --> stays.\n\n",
    ("matrix", "old matrix\n\n\n"),
    "~~~\n<!-- crawler:end matrix -->\n~~~\n",
    ("mismatches", "stale\n"),
    ("changes", "was -> now\n"),
    "\nThe end.\n",
]


def _framed(run: Run, name: str, newline: str) -> str:
    """What a block holds after an update: a blank line, the block, a blank line."""
    content = docblocks.Blocks(run).render(name).replace("\n", newline)
    return newline + content + newline * 2


def _document(parts: list[Part], run: Run, newline: str = "\n") -> tuple[str, str]:
    """The document as written by hand, and as it must read after the update."""
    before: list[str] = []
    after: list[str] = []
    for part in parts:
        if isinstance(part, str):
            before.append(part.replace("\n", newline))
            after.append(part.replace("\n", newline))
            continue
        name, stale = part
        begin = f"<!-- crawler:begin {name} -->{newline}"
        end = f"<!-- crawler:end {name} -->{newline}"
        before += [begin, stale.replace("\n", newline), end]
        after += [begin, _framed(run, name, newline), end]
    return "".join(before), "".join(after)


def _write(path: Path, text: str) -> Path:
    path.write_bytes(text.encode("utf-8"))
    return path


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["LF", "CRLF"])
def test_blocks_are_rewritten_and_every_other_byte_is_kept(
    tmp_path: Path, sample_run: Run, newline: str
) -> None:
    before, after = _document(STATUS, sample_run, newline)
    doc = _write(tmp_path / "STATUS.md", before)

    assert docblocks.update([doc], sample_run) == [doc]

    data = doc.read_bytes()
    assert data == after.encode("utf-8")
    if newline == "\r\n":
        assert b"\n" not in data.replace(b"\r\n", b"")  # no bare LF slipped in
    text = data.decode()
    assert "stale" not in text and "was -> now" not in text
    assert "shown in a fence, not a block" in text  # the fenced markers were left alone


def test_running_twice_gives_the_same_file(tmp_path: Path, matrix_run: Run) -> None:
    before, _ = _document(STATUS, matrix_run)
    doc = _write(tmp_path / "STATUS.md", before)
    docblocks.update([doc], matrix_run)
    once = doc.read_bytes()
    mtime = doc.stat().st_mtime_ns

    assert docblocks.update([doc], matrix_run) == []  # already up to date: not written
    assert doc.read_bytes() == once
    assert doc.stat().st_mtime_ns == mtime


def test_a_new_run_replaces_the_previous_blocks(tmp_path: Path) -> None:
    before, _ = _document(STATUS, samples.sample_run())
    doc = _write(tmp_path / "STATUS.md", before)
    docblocks.update([doc], samples.sample_run())
    docblocks.update([doc], samples.all_pass_run())
    _, expected = _document(STATUS, samples.all_pass_run())
    assert doc.read_text() == expected


def test_end_marker_on_the_last_line_without_newline_and_a_bom(
    tmp_path: Path, sample_run: Run
) -> None:
    text = "\ufeffTitle\r\n<!-- crawler:begin summary -->\r\n<!-- crawler:end summary -->"
    doc = _write(tmp_path / "STATUS.md", text)
    docblocks.update([doc], sample_run)
    framed = _framed(sample_run, "summary", "\r\n")
    expected = (
        f"\ufeffTitle\r\n<!-- crawler:begin summary -->\r\n{framed}<!-- crawler:end summary -->"
    )
    assert doc.read_bytes() == expected.encode("utf-8")


def test_markers_may_carry_spaces_around(tmp_path: Path, sample_run: Run) -> None:
    text = "  <!--crawler:begin   group:Billing-->  \nold\n<!--   crawler:end group:Billing -->\n"
    doc = _write(tmp_path / "STATUS.md", text)
    docblocks.update([doc], sample_run)
    assert doc.read_text().startswith("  <!--crawler:begin   group:Billing-->  \n\n## Billing (")


def test_permissions_are_kept_and_a_symlink_stays_a_symlink(
    tmp_path: Path, sample_run: Run
) -> None:
    real = _write(
        tmp_path / "real.md", "<!-- crawler:begin summary -->\n<!-- crawler:end summary -->\n"
    )
    real.chmod(0o644)
    link = tmp_path / "STATUS.md"
    link.symlink_to(real)
    docblocks.update([link], sample_run)
    assert link.is_symlink()
    assert "# Demo API verification" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


# --- what each block holds ----------------------------------------------------------------


def test_group_block_is_the_groups_section_of_the_md_report(matrix_run: Run) -> None:
    report = markdown.render(matrix_run)
    block = docblocks.Blocks(matrix_run).render("group:Billing")
    assert block.startswith("## Billing (7/12 PASS)\n\n")
    assert block + "\n" in report
    assert "## Health" not in block and "## Admin" not in block
    assert "| admin | viewer | anonymous | ops |" in block  # the identity matrix


def test_summary_block_is_title_totals_and_tallies(sample_run: Run) -> None:
    block = docblocks.Blocks(sample_run).render("summary")
    assert block.startswith("# Demo API verification (3/8 PASS)\n")
    assert "| **Total** | **8** |" in block
    assert "| Group | PASS |" in block and "| Billing |" in block
    assert "\n## " not in block and not block.endswith("\n")


def test_matrix_block_is_every_group_in_order(matrix_run: Run) -> None:
    blocks = docblocks.Blocks(matrix_run)
    block = blocks.render("matrix")
    assert block == "\n\n".join(
        blocks.render(f"group:{group}") for group in ("Health", "Billing", "Admin")
    )


def test_mismatches_block_with_and_without_mismatches(mismatch_run: Run, sample_run: Run) -> None:
    block = docblocks.Blocks(mismatch_run).render("mismatches")
    assert block.startswith("## 404 mismatches\n\n**7 404 mismatches across 3 modules")
    assert "### /api/billing (2)" in block
    assert "\n## " not in block  # the group sections that follow are not part of it
    none = docblocks.Blocks(sample_run).render("mismatches")
    assert none == (
        "## 404 mismatches\n\nNo 404 mismatches: no check that expected a route got a 404 or 405."
    )


def test_changes_block_with_and_without_a_baseline(sample_run: Run, all_pass_run: Run) -> None:
    assert "No baseline" in docblocks.Blocks(sample_run).render("changes")
    compared = compare(sample_run, all_pass_run, "runs/yesterday.json")
    block = docblocks.Blocks(compared).render("changes")
    assert block.startswith("## Changes since the baseline\n")
    assert "runs/yesterday.json" in block
    assert "REGRESSED" in block


# --- errors: exit 2 and the file untouched ------------------------------------------------

BEGIN = "<!-- crawler:begin {0} -->\n"
END = "<!-- crawler:end {0} -->\n"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("# Status\n\nNo markers at all.\n", r"STATUS\.md: no <!-- crawler:begin NAME -->"),
        (BEGIN.format("sumary") + END.format("sumary"), r"STATUS\.md:1: unknown block 'sumary'"),
        ("<!-- crawler:begin -->\n", r"STATUS\.md:1: <!-- crawler:begin --> names no block"),
        ("x\n" + BEGIN.format("summary") + "y\n", r"STATUS\.md:2: .*begin summary --> is never"),
        (END.format("summary"), r"STATUS\.md:1: <!-- crawler:end summary --> has no <!-- crawl"),
        (
            BEGIN.format("summary")
            + END.format("summary")
            + BEGIN.format("summary")
            + END.format("summary"),
            r"STATUS\.md:3: block summary appears twice \(first at line 1\)",
        ),
        (
            BEGIN.format("summary")
            + BEGIN.format("matrix")
            + END.format("matrix")
            + END.format("summary"),
            r"STATUS\.md:2: .* is inside block summary .*cannot nest",
        ),
        (
            BEGIN.format("summary") + BEGIN.format("summary") + END.format("summary"),
            r"STATUS\.md:2: .* is inside block summary",
        ),
        (
            BEGIN.format("summary")
            + BEGIN.format("matrix")
            + END.format("summary")
            + END.format("matrix"),
            r"STATUS\.md:2: .* is inside block summary",
        ),
        (
            BEGIN.format("summary") + END.format("matrix"),
            r"STATUS\.md:2: <!-- crawler:end matrix --> while block summary .*cannot overlap",
        ),
        (
            BEGIN.format("group:Shipping") + END.format("group:Shipping"),
            r"STATUS\.md:1: the run has no group 'Shipping'; its groups are Health, Billing, Users",
        ),
        (
            "```\n" + BEGIN.format("summary") + "```\n" + END.format("summary"),
            r"STATUS\.md:4: <!-- crawler:end summary --> has no",
        ),
    ],
    ids=[
        "no-markers",
        "unknown-name",
        "no-name",
        "begin-without-end",
        "end-without-begin",
        "duplicated",
        "nested",
        "nested-same-name",
        "overlapping",
        "end-of-another",
        "unknown-group",
        "begin-in-a-fence",
    ],
)
def test_marker_problems_are_usage_errors_and_leave_the_file_untouched(
    tmp_path: Path, sample_run: Run, text: str, message: str
) -> None:
    doc = _write(tmp_path / "STATUS.md", text)
    with pytest.raises(UsageError, match=message):
        docblocks.update([doc], sample_run)
    assert doc.read_bytes() == text.encode()
    assert [p.name for p in tmp_path.iterdir()] == ["STATUS.md"]


def test_missing_file_is_a_usage_error(tmp_path: Path, sample_run: Run) -> None:
    with pytest.raises(UsageError, match=r"--update-doc .*nope\.md: no such file"):
        docblocks.update([tmp_path / "nope.md"], sample_run)
    assert not (tmp_path / "nope.md").exists()


def test_not_utf8_is_a_usage_error(tmp_path: Path, sample_run: Run) -> None:
    doc = tmp_path / "STATUS.md"
    doc.write_bytes(b"\xff\xfe<!-- crawler:begin summary -->\n")
    with pytest.raises(UsageError, match="not UTF-8"):
        docblocks.update([doc], sample_run)


def test_a_broken_document_leaves_the_good_ones_untouched(tmp_path: Path, sample_run: Run) -> None:
    good = _write(tmp_path / "good.md", BEGIN.format("summary") + END.format("summary"))
    bad = _write(tmp_path / "bad.md", BEGIN.format("summary"))
    with pytest.raises(UsageError, match=r"bad\.md:1"):
        docblocks.update([good, bad], sample_run)
    assert good.read_text() == BEGIN.format("summary") + END.format("summary")


# --- the command line -----------------------------------------------------------------------


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_render_update_doc_from_a_saved_run(tmp_path: Path, matrix_run: Run) -> None:
    run_file = _write(tmp_path / "run.json", dump_run(matrix_run))
    before, after = _document(STATUS, matrix_run)
    doc = _write(tmp_path / "STATUS.md", before)
    other = _write(tmp_path / "OTHER.md", BEGIN.format("group:Admin") + END.format("group:Admin"))

    code, _, err = invoke(
        "render", str(run_file), "--out", str(tmp_path / "out"),
        "--update-doc", str(doc), "--update-doc", str(other),
    )  # fmt: skip

    assert code == 0, err
    assert doc.read_text() == after
    assert other.read_text().startswith(BEGIN.format("group:Admin") + "\n## Admin (")
    assert f"updated: {doc}, {other}" in err


def test_render_with_a_broken_document_exits_2_and_writes_nothing(
    tmp_path: Path, sample_run: Run
) -> None:
    run_file = _write(tmp_path / "run.json", dump_run(sample_run))
    doc = _write(
        tmp_path / "STATUS.md", BEGIN.format("group:Shipping") + END.format("group:Shipping")
    )
    code, out, err = invoke(
        "render", str(run_file), "--out", str(tmp_path / "out"), "--update-doc", str(doc)
    )
    assert code == 2
    assert "error: " in err and "no group 'Shipping'" in err
    assert "Traceback" not in out + err
    assert doc.read_text() == BEGIN.format("group:Shipping") + END.format("group:Shipping")


def test_run_checks_the_document_before_crawling(tmp_path: Path) -> None:
    doc = _write(tmp_path / "STATUS.md", BEGIN.format("summary"))
    out = tmp_path / "out"
    code, _, err = invoke("run", str(DEMO), "--out", str(out), "-q", "--update-doc", str(doc))
    assert code == 2
    assert "STATUS.md:1: <!-- crawler:begin summary --> is never ended" in err
    assert not out.exists() or not list(out.iterdir())  # nothing was crawled nor written


def test_run_missing_document_exits_2(tmp_path: Path) -> None:
    code, _, err = invoke(
        "run", str(DEMO), "--out", str(tmp_path), "-q", "--update-doc", str(tmp_path / "no.md")
    )
    assert code == 2
    assert "no such file" in err


def test_run_updates_the_document_and_keeps_its_exit_code(tmp_path: Path) -> None:
    doc = _write(
        tmp_path / "STATUS.md",
        "# Status\r\n\r\n"
        + (BEGIN + END).format("group:Health").replace("\n", "\r\n")
        + "Footer\r\n",
    )
    code, _, err = invoke(
        "run", str(DEMO), "--out", str(tmp_path / "out"), "-q", "--format", "json",
        "--update-doc", str(doc),
    )  # fmt: skip
    assert code == 1  # the demo fails some checks on purpose; the update does not change that
    text = doc.read_bytes().decode()
    assert text.startswith("# Status\r\n\r\n<!-- crawler:begin group:Health -->\r\n\r\n## Health (")
    assert text.endswith("<!-- crawler:end group:Health -->\r\nFooter\r\n")
    assert "updated: " in err


def test_an_interrupted_run_does_not_update_documents(tmp_path: Path, sample_run: Run) -> None:
    doc = _write(tmp_path / "STATUS.md", BEGIN.format("summary") + END.format("summary"))
    run_file = _write(
        tmp_path / "run.json", dump_run(sample_run.model_copy(update={"interrupted": True}))
    )
    code, _, err = invoke(
        "render", str(run_file), "--out", str(tmp_path / "out"), "--update-doc", str(doc)
    )
    assert code == 0
    assert "interrupted" in err and "not updated" in err
    assert doc.read_text() == BEGIN.format("summary") + END.format("summary")


def test_document_mode_survives_the_cli(tmp_path: Path, sample_run: Run) -> None:
    run_file = _write(tmp_path / "run.json", dump_run(sample_run))
    doc = _write(tmp_path / "STATUS.md", BEGIN.format("summary") + END.format("summary"))
    doc.chmod(0o664)
    code, _, _ = invoke(
        "render", str(run_file), "--out", str(tmp_path / "out"), "--update-doc", str(doc)
    )
    assert code == 0
    assert stat.S_IMODE(doc.stat().st_mode) == 0o664


def test_known_block_with_and_without_known_failures(sample_run: Run) -> None:
    assert docblocks.Blocks(sample_run).render("known") == (
        "## Known failures\n\nNo known failures: no check carries a ticket."
    )
    known = samples.run(
        [
            samples.result(
                "Billing", 0, "/api/billing/invoices", samples.response(404), "XFAIL"
            ).model_copy(update={"known": Known(ticket="T2-3", reason="no list handler yet")})
        ]
    )
    block = docblocks.Blocks(known).render("known")
    assert block.startswith("## Known failures\n")
    assert "T2-3" in block and "BACKLOG" in block


def test_a_group_whose_name_needs_escaping(tmp_path: Path) -> None:
    group = "Odd | [group] *name*"
    odd = samples.run([samples.result(group, 0, "/x", samples.response(200), "PASS")])
    doc = _write(
        tmp_path / "STATUS.md", BEGIN.format(f"group:{group}") + END.format(f"group:{group}")
    )
    docblocks.update([doc], odd)
    assert "\n## Odd \\| \\[group\\] \\*name\\* (1/1 PASS)\n" in doc.read_text()
