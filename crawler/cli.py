"""The command line: parse, call, print, exit. Errors are caught here and nowhere else.

Heavy modules (httpx, anyio, rich, jinja2) are imported inside the commands that need them,
so `crawler --help` and `crawler check` start fast.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, NoReturn

import click

from crawler.errors import CrawlerError, UsageError
from crawler.reports import FILE_FORMATS, FORMATS

if TYPE_CHECKING:
    from crawler.engine import Target
    from crawler.manifest import Manifest, PlannedCheck
    from crawler.netconfig import Flags
    from crawler.redact import Redactor
    from crawler.results import CheckResult, FailOn, Run
    from crawler.selection import Selection

DEFAULT_FORMATS = "md,html,json"


def _manifest() -> ModuleType:
    """`crawler.manifest`, imported when a command needs it: its pydantic models take a
    tenth of a second to build, which `crawler --help` must not pay."""
    from crawler import manifest

    return manifest


def _fail(error: CrawlerError) -> NoReturn:
    click.echo(f"error: {error}", err=True)
    sys.exit(error.exit_code)


def _formats(value: str) -> list[str]:
    names = [name.strip() for name in value.split(",") if name.strip()]
    unknown = [name for name in names if name not in FILE_FORMATS]
    if unknown or not names:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'nothing'}: choose from {', '.join(FILE_FORMATS)}, "
            "comma-separated (e.g. md,html,json)",
            param_hint="--format",
        )
    return names


_out_option = click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("reports"),
    show_default=True,
    help="Folder the reports are written to.",
)


_update_doc_option = click.option(
    "--update-doc",
    "update_docs",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Rewrite the blocks between <!-- crawler:begin NAME --> and <!-- crawler:end NAME --> "
    "lines of this markdown file (NAME: summary, matrix, mismatches, changes, known or "
    "group:NAME), keeping every other byte. Repeatable.",
)


# Latency: the markdown report's summary form, for huge runs.
_summary_only_option = click.option(
    "--summary-only",
    is_flag=True,
    help="Markdown report of tallies, latency and what did not pass, without the per-check "
    "tables (for huge runs).",
)


def _format_option(default: str) -> Callable[[Callable[..., None]], Callable[..., None]]:
    return click.option(
        "--format",
        "formats",
        default=default,
        show_default=True,
        help=f"Report files to write, comma-separated: {', '.join(FILE_FORMATS)}.",
    )


def _selection_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--only`, `--skip`, `--identity`, `--shard` and `--env`: which checks a run sends, where."""
    options = [
        click.option(
            "--only",
            multiple=True,
            metavar="KIND:PATTERN,...",
            help="Send only the checks matching any selector (commas and repeats alike): "
            "group:Billing, tag:smoke, method:GET, path:/api/billing* (glob), name:...",
        ),
        click.option(
            "--skip",
            multiple=True,
            metavar="KIND:PATTERN,...",
            help="Then leave out the checks matching any of these selectors (e.g. tag:slow).",
        ),
        click.option(
            "--identity",
            "identity_names",
            multiple=True,
            metavar="NAME",
            help="Send only as this identity (repeatable); the others do not log in.",
        ),
        click.option(
            "--shard",
            metavar="K/N",
            help="Send shard K of N (e.g. 2/4): a deterministic, stable share of the checks; "
            "`crawler merge` joins the shards' run.json files.",
        ),
        click.option(
            "--env",
            metavar="NAME",
            envvar="CRAWLER_ENV",  # environments: or from the CRAWLER_ENV variable
            help="Crawl the manifest's environment NAME (its base_url, headers, identities, "
            "vars; checks and flows with only_env run only there) [env: CRAWLER_ENV]; "
            "recorded on the run, so `crawler merge` can show environments side by side.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def _network_options(command: Callable[..., None]) -> Callable[..., None]:
    """`--header`, `--ca-bundle`, `--cert`, `--key`, `--insecure`, `--proxy`, passed to the
    command as one `network: netconfig.Flags` argument."""
    from crawler.netconfig import Flags

    options = [
        click.option(
            "--header",
            "-H",
            "headers",
            multiple=True,
            metavar="'NAME: VALUE'",
            help="Add this header to every request, over the manifest's defaults (repeatable).",
        ),
        click.option(
            "--ca-bundle",
            type=click.Path(dir_okay=False),
            metavar="PEM",
            help="Trust the CAs in this PEM file (a private CA) instead of the public ones.",
        ),
        click.option(
            "--cert",
            type=click.Path(dir_okay=False),
            metavar="PEM",
            help="Present this client certificate (mTLS); its key in it or in --key.",
        ),
        click.option("--key", type=click.Path(dir_okay=False), metavar="PEM", help="--cert's key."),
        click.option(
            "--insecure",
            is_flag=True,
            help="Do not verify TLS certificates. Every report then carries a warning.",
        ),
        click.option(
            "--proxy",
            metavar="URL",
            help="Send every request through this http(s) proxy [default: the manifest's, "
            "else HTTPS_PROXY / HTTP_PROXY unless NO_PROXY names the host].",
        ),
    ]

    @functools.wraps(command)
    def wrapped(**kwargs: Any) -> None:
        names = ("headers", "ca_bundle", "cert", "key", "insecure", "proxy")
        flags = Flags(**{name: kwargs.pop(name) for name in names})
        command(network=flags, **kwargs)

    for option in reversed(options):
        wrapped = option(wrapped)
    return wrapped


def _selection(
    only: tuple[str, ...], skip: tuple[str, ...], identities: tuple[str, ...], shard: str | None
) -> Selection:
    from crawler.selection import Selection, Shard, parse_selectors

    names = tuple(name.strip() for value in identities for name in value.split(",") if name.strip())
    return Selection(
        only=parse_selectors(only, "--only"),
        skip=parse_selectors(skip, "--skip"),
        identities=names,
        shard=Shard.parse(shard) if shard is not None else None,
    )


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="crawler")
def cli() -> None:
    """Verify a live API after a deploy: crawl a manifest of routes, judge every answer.

    \b
    Exit codes: 0 every check PASS or SKIP; 1 a check FAILed or ERRORed;
                2 bad usage or invalid manifest; 3 an identity could not log in;
                130 interrupted (partial reports written).
    """


@cli.command()
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--base-url", help="Crawl this live deployment (overrides the manifest's target).")
@click.option("--app", "app_ref", help="Crawl an ASGI/WSGI app in-process: package.module:attr.")
@_out_option
@_format_option(DEFAULT_FORMATS)
@click.option(
    "--concurrency",
    type=click.IntRange(1, 1024),
    help="Requests in flight at once [default: the manifest's, else 16].",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    help="Seconds per check, replacing the manifest's default (else 10); a check's own wins.",
)
@click.option(
    "--allow-mutations",
    is_flag=True,
    help="Also send POST, PUT, PATCH and DELETE checks (never by default).",
)
@click.option(
    "--transport",
    type=click.Choice(["aiohttp", "httpx"]),
    default="aiohttp",
    show_default=True,
    help="HTTP transport for live targets.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="RUN.json",
    help="Compare with a saved run: Was | Now and FIXED / REGRESSED / NEW / GONE.",
)
@click.option(
    "--fail-on",
    type=click.Choice(["any", "regressions", "stubs"]),
    default="any",
    show_default=True,
    help="What fails the run (exit 1): any FAIL or ERROR, or only REGRESSED results "
    "against --baseline (to adopt crawler on a backend that already has failures), "
    "or any FAIL, ERROR or likely STUB (stubs).",
)
# Stub detection: flag 200s with fake, empty or echoed data (STUB, a warning by default).
@click.option(
    "--detect-stubs/--no-detect-stubs",
    default=True,
    show_default=True,
    help="Flag passing answers that look like stubs (same body for different ids, "
    "placeholder values, always-empty lists, echoed requests) as STUB, with evidence.",
)
@click.option(
    "--annotations",
    is_flag=True,
    help="Print GitHub Actions ::error / ::warning lines for failures (they annotate the PR).",
)
@click.option(
    "--retries",
    type=click.IntRange(0, 5),
    default=0,
    show_default=True,
    help="Check a FAIL or ERROR again up to N times (idempotent methods only, never POST or "
    "PATCH); after a transport error, 429 or 503 it first waits Retry-After (at most 10 s) "
    "or a jittered backoff. One that then passes is marked FLAKY.",
)
@click.option(
    "--deadline",
    type=click.FloatRange(min=0, min_open=True),
    metavar="SECONDS",
    help="Seconds the whole run may take, logins included: checks not started by then are "
    "SKIP 'deadline reached' (those in flight end within their own timeouts).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    metavar="N",
    help="At most N requests a second across the run (checks, retries and --probe; logins "
    "excepted), evenly spaced [default: no limit].",
)
@click.option(
    "--per-host",
    type=click.IntRange(1, 1024),
    metavar="N",
    help="At most N requests in flight to one host [default: --concurrency].",
)
@click.option(
    "--inventory",
    metavar="FILE|URL",
    help="The backend's routes, to diagnose 404s: an OpenAPI/Swagger document or a route list "
    "[default: the manifest's inventory, plus the routes that answered].",
)
@click.option(
    "--probe",
    is_flag=True,
    help="After the crawl, confirm the routes suggested for 404s on the target, with at most "
    "20 GET, HEAD or OPTIONS requests.",
)
@_selection_options
@_network_options
@_update_doc_option
@click.option(
    "--metrics-file",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="PATH",
    help="Also write the run's Prometheus metrics (text format, for node_exporter's "
    "textfile collector), e.g. /var/lib/node_exporter/crawler.prom.",
)
@click.option(
    "--pushgateway",
    metavar="URL",
    help="Also push the metrics to this Prometheus pushgateway (PUT URL/metrics/job/crawler, "
    "10 s at most); a failed push is a warning.",
)
@click.option("--quiet", "-q", is_flag=True, help="No live progress; only the summary.")
# Latency: --repeat samples; --summary-only for huge runs' markdown.
@click.option(
    "--repeat",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    metavar="N",
    help="Send each check N times (at most 10000): min/p50/p95/p99/max per check, group and "
    "identity, and SLO verdicts. A check FAILs if any sample does (with the count).",
)
@_summary_only_option
def run(
    manifest: Path,
    base_url: str | None,
    app_ref: str | None,
    out: Path,
    formats: str,
    concurrency: int | None,
    timeout: float | None,
    allow_mutations: bool,
    transport: str,
    baseline: Path | None,
    fail_on: str,
    detect_stubs: bool,
    annotations: bool,
    retries: int,
    deadline: float | None,
    rate: float | None,
    per_host: int | None,
    inventory: str | None,
    probe: bool,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    identity_names: tuple[str, ...],
    shard: str | None,
    env: str | None,
    update_docs: tuple[Path, ...],
    metrics_file: Path | None,
    pushgateway: str | None,
    quiet: bool,
    repeat: int,
    summary_only: bool,
    network: Flags,
) -> None:
    """Crawl MANIFEST's checks and write the reports to --out."""
    from crawler import netconfig, runner
    from crawler.baseline import compare
    from crawler.engine import Settings
    from crawler.flows import steps_of
    from crawler.results import load_run
    from crawler.selection import select, select_flows

    chosen = _formats(formats)
    _check_repeat(repeat)
    if fail_on == "regressions" and baseline is None:
        _fail(UsageError("--fail-on regressions needs --baseline RUN.json to compare with."))
    try:
        selection = _selection(only, skip, identity_names, shard)
        before = load_run(baseline) if baseline is not None else None
        loaded = _manifest().load(manifest)
        if env is not None:
            loaded = _environment(loaded, env)
        target = _target(loaded, base_url, app_ref)
        _warn_empty_credentials(loaded)
        _writable(out)  # before crawling: a crawl whose reports cannot be written is lost
        _check_publish(update_docs, pushgateway)
        options = netconfig.options_from(loaded.defaults, manifest.parent, network)
        if options.headers:  # the command line's headers win over the manifest's defaults
            loaded = loaded.model_copy(
                update={
                    "defaults": loaded.defaults.model_copy(
                        update={"headers": {**loaded.defaults.headers, **dict(options.headers)}}
                    )
                }
            )
        if options.insecure and target.base_url:
            click.echo("warning: --insecure: TLS certificates will NOT be verified", err=True)
        settings = Settings(
            concurrency=concurrency or loaded.defaults.concurrency,
            timeout=timeout or loaded.defaults.timeout,
            allow_mutations=allow_mutations,
            transport="httpx" if transport == "httpx" else "aiohttp",
            retries=retries,
            deadline=deadline,
            rate=rate,
            per_host=per_host,
            network=options,
            detect_stubs=detect_stubs,
            repeat=repeat,
        )
        place = runner.inventory_place(loaded, manifest, inventory)
        flows = select_flows(loaded.planned_flows(settings.timeout), selection)  # flows
        checks = select(
            loaded.planned(settings.timeout),
            selection,
            loaded.identity_names,
            allow_empty=bool(flows),
        )
        progress = _Progress([*checks * repeat, *steps_of(flows)], quiet)  # --repeat: samples
        observer = runner.Observer(
            on_result=progress.advance,
            on_login_failure=lambda name, why: click.echo(
                f"identity {name} could not log in: {why}", err=True
            ),
            on_warning=lambda message: click.echo(f"warning: {message}", err=True),
            on_mutations=lambda preview: click.echo(preview, err=True),
        )
        with progress:
            run_ = runner.execute(
                loaded,
                manifest,
                target,
                settings,
                place=place,
                observer=observer,
                probe=runner.PROBE_LIMIT if probe else 0,
                checks=checks,
                flows=flows,
            )
        if env is not None:
            run_ = run_.model_copy(update={"environment": env})
    except CrawlerError as error:
        _fail(error)
    # Big runs: the reports need only the run; the manifest's checks go before rendering.
    del loaded, checks
    _settle()
    if before is not None:
        run_ = compare(run_, before, str(baseline))
    code = _finish(
        run_,
        out,
        chosen,
        fail_on=_fail_on(fail_on),
        annotations=annotations,
        summary_only=summary_only,
    )
    _publish(run_, update_docs, metrics_file, pushgateway)
    sys.exit(code)


def _warn_empty_credentials(loaded: Manifest) -> None:
    """An empty credential is almost always an environment variable nobody exported."""
    for name, identity in loaded.identities.items():
        empty = identity.empty_credentials()
        if empty:
            click.echo(
                f"warning: identity {name}: {', '.join(empty)} is empty; export the "
                "environment variable the manifest names, or its checks will be refused",
                err=True,
            )


def _environment(loaded: Manifest, name: str) -> Manifest:
    """`loaded` in environment `name`; an error names CRAWLER_ENV when that chose it."""
    try:
        return loaded.for_environment(name)
    except UsageError as exc:
        source = click.get_current_context().get_parameter_source("env")
        if source is click.core.ParameterSource.ENVIRONMENT:
            raise UsageError(f"CRAWLER_ENV={name} (as --env): {exc}") from None
        raise


def _writable(out: Path) -> None:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(
            f"--out {out}: cannot create the folder ({exc.strerror or exc})."
        ) from None
    if not os.access(out, os.W_OK):
        raise UsageError(f"--out {out}: the folder is not writable.")


def _target(loaded: Manifest, base_url: str | None, app_ref: str | None) -> Target:
    from crawler.engine import Target

    if base_url and app_ref:
        raise UsageError("Pass --base-url or --app, not both.")
    if base_url:
        problem = _manifest().url_problem(base_url)
        if problem:
            raise UsageError(f"--base-url {base_url!r}: {problem}.")
        return Target(base_url=base_url.rstrip("/"))
    if app_ref:
        return Target(app=app_ref)
    if loaded.app or loaded.base_url:
        return Target(base_url=loaded.base_url, app=loaded.app)
    raise UsageError("No target: set base_url or app in the manifest, or pass --base-url or --app.")


class _Progress:
    """Live progress: a rich bar on a terminal, plain lines in CI logs, nothing when quiet."""

    # Above this many checks, plain output prints a line per 10% instead of per check.
    PLAIN_LINE_LIMIT = 500

    def __init__(self, checks: list[PlannedCheck], quiet: bool) -> None:
        self.total = len(checks)
        self.count = 0
        self.quiet = quiet
        self.tty = sys.stdout.isatty()
        self._bar: Callable[[], None] | None = None
        self._live: object = None

    def __enter__(self) -> _Progress:
        if self.quiet:
            return self
        if self.tty:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

            progress = Progress(
                "[progress.description]{task.description}",
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                transient=True,
            )
            task = progress.add_task("crawling", total=self.total)
            progress.start()
            self._live = progress
            self._bar = lambda: progress.advance(task)
        else:
            self._line(f"crawling {self.total} checks")
        return self

    @staticmethod
    def _line(text: str) -> None:
        # Flushed at once: a CI log shows progress live even though stdout is a pipe.
        click.echo(text)
        sys.stdout.flush()

    def advance(self, result: CheckResult) -> None:
        self.count += 1
        if self.quiet:
            return
        if self._bar is not None:
            self._bar()
            return
        every = max(1, self.total // 10)
        if self.total <= self.PLAIN_LINE_LIMIT:
            ms = f"{result.elapsed_ms:.0f} ms" if result.elapsed_ms is not None else ""
            width = len(str(self.total))
            self._line(
                f"[{self.count:>{width}}/{self.total}] {result.verdict:<5} {result.got:>4} "
                f"{result.method} {result.path} {ms}".rstrip()
            )
        elif self.count % every == 0 or self.count == self.total:
            self._line(f"[{self.count}/{self.total}] checks done")

    def __exit__(self, *exc: object) -> None:
        from rich.progress import Progress

        if isinstance(self._live, Progress):
            self._live.stop()


def _fail_on(choice: str) -> FailOn:
    """`--fail-on`'s choice as the `summarize` policy."""
    return "regressions" if choice == "regressions" else "stubs" if choice == "stubs" else "any"


def _finish(
    run_: Run,
    out: Path,
    formats: list[str],
    fail_on: FailOn = "any",
    *,
    annotations: bool = False,
    summary_only: bool = False,
) -> int:
    """Write the report files, the GitHub step summary (when `GITHUB_STEP_SUMMARY` is set)
    and `--annotations`, print the terminal summary; return the run's exit code."""
    from crawler.files import write_atomic
    from crawler.reports import github, terminal
    from crawler.results import summarize

    written = []
    for name in formats:
        fmt = FORMATS[name]
        assert fmt.filename is not None
        path = out / fmt.filename
        if name in ("json", "html"):  # streamed: the same text, never one huge string
            from crawler.reports import html, json_report

            stream = json_report.chunks if name == "json" else html.stream
            write_atomic(path, stream(run_))
        else:
            write_atomic(path, _rendered(run_, name, summary_only=summary_only, fail_on=fail_on))
        written.append(str(path))
    summary_file = github.summary_path(os.environ)
    if summary_file is not None:
        github.append_step_summary(run_, summary_file, fail_on=fail_on)
    if annotations:
        click.echo(github.annotations(run_, fail_on=fail_on), nl=False)
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = min(shutil.get_terminal_size().columns, 140) if sys.stdout.isatty() else 100
    click.echo(terminal.render(run_, color=color, width=width), nl=False)
    click.echo(f"reports: {', '.join(written)}", err=True)
    return summarize(run_, fail_on).exit_code


# --- latency: --repeat and --summary-only ----------------------------------------------------


def _settle() -> None:
    """The run is built and lives until exit: take its objects out of the cyclic garbage
    collector's sight (`gc.freeze`), so rendering 100,000 results does not traverse them
    again and again (it made rendering a huge run superlinear). They are freed as usual."""
    import gc

    gc.collect()
    gc.freeze()


def _check_repeat(repeat: int) -> None:
    from crawler.repeat import MAX_REPEAT

    if repeat > MAX_REPEAT:
        _fail(
            UsageError(
                f"--repeat {repeat}: at most {MAX_REPEAT} samples per check; for a load test "
                "use a dedicated tool (Locust, k6)."
            )
        )


def _rendered(run_: Run, name: str, *, summary_only: bool, fail_on: FailOn = "any") -> str:
    """The report `name` of the run; with `summary_only`, markdown's summary form."""
    if summary_only and name == "md":
        from crawler.reports import markdown

        return markdown.render_summary(run_)
    return FORMATS[name].render_for(run_, fail_on)


def _check_publish(docs: Sequence[Path], pushgateway: str | None = None) -> None:
    """Before the work: the documents' markers and the pushgateway's URL."""
    from crawler import docblocks

    docblocks.check(docs)
    if pushgateway and (problem := _manifest().url_problem(pushgateway)):
        raise UsageError(f"--pushgateway: {problem}.")  # the URL may hold a password


def _publish(
    run_: Run,
    docs: Sequence[Path],
    metrics_file: Path | None = None,
    pushgateway: str | None = None,
) -> None:
    """After the reports: write and push the metrics, rewrite the documents' blocks. A file
    that cannot be written, or a document whose blocks cannot be, exits 2; a failed push
    only warns. An interrupted run's partial results go to neither."""
    from crawler import docblocks

    if run_.interrupted:
        if docs or metrics_file or pushgateway:
            click.echo("interrupted: documents and metrics not updated (partial results)", err=True)
        return
    try:
        if metrics_file is not None or pushgateway:
            _metrics(run_, metrics_file, pushgateway)
        written = docblocks.update(docs, run_)
    except CrawlerError as error:
        _fail(error)
    if written:
        click.echo(f"updated: {', '.join(str(path) for path in written)}", err=True)


def _metrics(run_: Run, metrics_file: Path | None, pushgateway: str | None) -> None:
    """Write the run's Prometheus metrics to `metrics_file`, push them to `pushgateway`."""
    from crawler import engine, metrics
    from crawler.files import write_atomic

    text = metrics.render(run_)
    if metrics_file is not None:
        try:
            write_atomic(metrics_file, text)
        except OSError as exc:
            raise UsageError(
                f"--metrics-file {metrics_file}: cannot be written ({exc.strerror or exc})."
            ) from None
        click.echo(f"metrics: {metrics_file}", err=True)
    if pushgateway:
        problem = engine.push_text(metrics.push_url(pushgateway), text, metrics.CONTENT_TYPE)
        if problem:
            click.echo(f"warning: --pushgateway: metrics not pushed ({problem})", err=True)


@cli.command()
@click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
def check(manifest: Path) -> None:
    """Validate MANIFEST and list its checks per group, sending nothing."""
    from crawler.redact import Redactor
    from crawler.verdict import guard

    try:
        loaded = _manifest().load(manifest)
    except CrawlerError as error:
        _fail(error)
    _warn_empty_credentials(loaded)
    hidden = Redactor(loaded.secrets)  # `?token=${API_TOKEN}` is printed as [REDACTED]
    planned = loaded.planned()
    target = (
        f"app:{loaded.app}"
        if loaded.app
        else hidden.url(loaded.base_url or "") or "(none: pass --base-url)"
    )
    checks = sum(len(group.checks) for group in loaded.groups.values())
    click.echo(
        f"{manifest}: valid. {loaded.name}: {checks} checks in {len(loaded.groups)} groups, "
        f"{len(planned)} requests, target {target}"
    )
    if loaded.identities:
        kinds = ", ".join(f"{name} ({i.kind})" for name, i in loaded.identities.items())
        click.echo(f"identities: {kinds}")
    runs: dict[tuple[str, int], list[PlannedCheck]] = {}
    for run_ in planned:
        runs.setdefault((run_.group, run_.index), []).append(run_)
    for group_name, group in loaded.groups.items():
        click.echo(f"\n{group_name} ({len(group.checks)})")
        labels = [f"{c.method} {hidden.url(c.path)}" for c in group.checks]
        width = max(len(label) for label in labels)
        for index, item in enumerate(group.checks):
            note = f"  {hidden.text(item.name)}" if item.name else ""
            if guard(item, allow_mutations=False) is not None:
                note += "  [not sent without --allow-mutations]"
            if item.only_env is not None:  # environments: not planned without --env
                note += f"  [only in {', '.join(item.only_env)}]"
            expects = [(p.identity, str(p.expect)) for p in runs.get((group_name, index), [])]
            if loaded.identities and expects:
                shown = ", ".join(f"{who} {status}" for who, status in expects)
            else:
                shown = expects[0][1] if expects else str(item.expect)
            click.echo(f"  {labels[index]:<{width}} -> {shown}{note}")
    _list_flows(loaded, hidden)
    _warn_unresolved(loaded)


def _list_flows(loaded: Manifest, hidden: Redactor) -> None:
    """`crawler check`'s listing of the flows: each step in order, as who, expecting what."""
    from crawler.verdict import guard

    for name, flow in loaded.flows.items():
        who = ", ".join(loaded.flow_identities(flow))
        only = f"  [only in {', '.join(flow.only_env)}]" if flow.only_env else ""
        click.echo(f"\nFlow {name} ({len(flow.steps)} steps, as {who}){only}")
        labels = [f"{s.method} {hidden.url(s.path)}" for s in flow.steps]
        width = max(len(label) for label in labels)
        for number, step in enumerate(flow.steps, start=1):
            note = f"  {hidden.text(step.name)}" if step.name else ""
            if step.capture:
                note += f"  captures {', '.join(step.capture)}"
            if step.always:
                note += "  [always]"
            if guard(step, allow_mutations=False) is not None:
                note += "  [not sent without --allow-mutations]"
            click.echo(f"  {number}. {labels[number - 1]:<{width}} -> {step.expect}{note}")


@cli.command()
def schema() -> None:
    """Print the manifest's JSON Schema (point your editor's YAML support at it)."""
    click.echo(json.dumps(_manifest().json_schema(), indent=2))


@cli.command()
@click.argument("run_file", metavar="RUN.json", type=click.Path(dir_okay=False, path_type=Path))
@_out_option
@_format_option("md,html")
@_update_doc_option
@_summary_only_option
def render(
    run_file: Path, out: Path, formats: str, update_docs: tuple[Path, ...], summary_only: bool
) -> None:
    """Re-render the reports of a saved run (the run.json of `crawler run`)."""
    from crawler.results import load_run

    chosen = _formats(formats)
    try:
        saved = load_run(run_file)
        _settle()
        _writable(out)
        _check_publish(update_docs)
    except CrawlerError as error:
        _fail(error)
    _finish(saved, out, chosen, summary_only=summary_only)  # exit 0 whatever the verdicts
    _publish(saved, update_docs)


@cli.command("merge")
@click.argument(
    "run_files",
    metavar="RUN.json...",
    nargs=-1,
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
)
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="MERGED.json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The merged run to write; render it with `crawler render MERGED.json`.",
)
def merge_command(run_files: tuple[Path, ...], output: Path) -> None:
    """Join saved runs of one manifest into one run.

    \b
    The runs of `--shard k/n` become the run of the whole manifest; runs of several
    `--env` environments become one matrix with a column per environment (per
    environment/identity when there are several identities). Exit codes: 0 merged (the
    shards' own exit codes are the gate); 2 the runs cannot be merged (different
    manifests, overlapping shards) or a file cannot be read or written.
    """
    from crawler.files import write_atomic
    from crawler.merge import merge
    from crawler.results import dump_run, load_run, summarize

    try:
        merged = merge([load_run(path) for path in run_files], [str(p) for p in run_files])
        try:
            write_atomic(output, dump_run(merged))
        except OSError as exc:
            raise UsageError(f"-o {output}: cannot be written ({exc.strerror or exc}).") from None
    except CrawlerError as error:
        _fail(error)
    click.echo(f"{output}: {len(run_files)} runs merged. {summarize(merged).line}")


# --- crawler import ---------------------------------------------------------------------------


@cli.group("import")
def import_group() -> None:
    """Write a manifest from another description of the API, to review before use."""


@import_group.command("openapi")
@click.argument("spec", metavar="SPEC")
@click.option(
    "-o",
    "--output",
    required=True,
    metavar="OUT.yaml",
    help="The manifest to write; - prints it instead.",
)
@click.option("--force", is_flag=True, help="Overwrite OUT.yaml if it exists.")
@click.option("--name", help="The manifest's name [default: the document's title].")
@click.option(
    "--base-url",
    metavar="URL",
    help="The target's origin, written as ${BASE_URL:-URL} [default: the document's server].",
)
def import_openapi(
    spec: str, output: str, force: bool, name: str | None, base_url: str | None
) -> None:
    """Turn an OpenAPI 3.x or Swagger 2 document into a manifest.

    SPEC is a file (JSON or YAML) or an http(s) URL. One check per operation, grouped by
    tag; the expected status is the first documented 2xx; path parameters without an
    example become {TODO_name} placeholders (`crawler check` lists them); security
    schemes become identities reading ${ENV} variables. Review the file before use.
    """
    from crawler import openapi_import
    from crawler.files import write_atomic

    out = None if output == "-" else Path(output)
    try:
        if base_url and (problem := _manifest().url_problem(base_url)):
            raise UsageError(f"--base-url {base_url!r}: {problem}.")
        if out is not None and out.is_dir():
            raise UsageError(f"-o {out}: is a folder; name the manifest file to write.")
        if out is not None and out.exists() and not force:
            raise UsageError(f"-o {out}: already exists; pass --force to overwrite it.")
        read = openapi_import.read_spec(spec, _fetch_document)
        imported = openapi_import.convert(
            read.document, name=name, base_url=base_url, source=read.source
        )
        if out is not None:
            try:
                write_atomic(out, imported.text)
            except OSError as exc:
                raise UsageError(f"-o {out}: cannot be written ({exc.strerror or exc}).") from None
    except CrawlerError as error:
        _fail(error)
    if out is None:
        click.echo(imported.text, nl=False)
        return
    todos = imported.todo_checks
    todo = f", {todos} with {{TODO_...}} placeholders" if todos else ""
    click.echo(
        f"{out}: {imported.checks} checks in {imported.groups} groups{todo}. "
        f"Review it, then: crawler check {out}",
        err=True,
    )
    if imported.env:
        click.echo(f"identities read {', '.join(imported.env)} from the environment", err=True)


def _fetch_document(url: str) -> str:
    """GET an OpenAPI document over the network (through the engine, the network edge)."""
    from crawler import engine, redact
    from crawler.openapi_import import SpecError

    text, problem = engine.fetch_document(url)
    if text is None:
        shown = redact.url(url)
        raise SpecError(f"{shown}: the OpenAPI document could not be fetched ({problem}).")
    return text


def _warn_unresolved(loaded: Manifest) -> None:
    """`crawler check`: name the {TODO_...} placeholders an import left for a person to fill."""
    from crawler.openapi_import import unresolved
    from crawler.redact import Redactor

    hidden = Redactor(loaded.secrets)
    count = 0
    for group_name, group in loaded.groups.items():
        for index, item in enumerate(group.checks):
            names = [f"{{{name}}}" for name in unresolved(item)]
            if not names:
                continue
            count += 1
            what = (
                f"unresolved placeholder {names[0]}: fill in a real value"
                if len(names) == 1
                else f"unresolved placeholders {', '.join(names)}: fill in real values"
            )
            label = f"{item.method} {hidden.url(item.path)}"
            click.echo(f"warning: groups.{group_name}[{index}] {label}: {what}", err=True)
    if count:
        click.echo(
            f"{count} checks have unresolved placeholders; `crawler run` SKIPs them until "
            "they are filled in.",
            err=True,
        )


# --- crawler xref -----------------------------------------------------------------------------


@cli.command("xref")
@click.option(
    "--frontend",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The frontend's source folder (JS, TS, JSX, TSX, Vue, Svelte).",
)
@click.option(
    "--backend",
    required=True,
    metavar="SOURCE",
    help="The backend's routes: an OpenAPI/Swagger file or http(s) URL, a route list file, "
    "or a manifest (its inventory:, else its checks).",
)
@_out_option
@click.option(
    "--format",
    "formats",
    default="md,html,json",
    show_default=True,
    help="Report files to write, comma-separated: md (xref.md), html (xref.html), "
    "json (xref.json).",
)
@click.option(
    "--call-pattern",
    "call_patterns",
    multiple=True,
    metavar="NAME[:METHOD]",
    help="Also a call: a wrapper with a fixed method (apiGet:GET, api.post:POST), or a "
    "fetch-like one (apiFetch). Repeatable.",
)
@click.option(
    "--api-prefix",
    "api_prefixes",
    multiple=True,
    default=("/api",),
    show_default=True,
    metavar="PREFIX",
    help="Paths under this prefix are API calls (also any top-level segment the backend "
    "serves). Repeatable.",
)
@click.option(
    "--emit-manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Also write a manifest with one check per distinct call, grouped by module.",
)
@click.option(
    "--live",
    is_flag=True,
    help="Also crawl the calls against the running backend (--base-url or --app) and diagnose "
    "the 404s it answers; writes xref-live.yaml and live-* reports to --out.",
)
@click.option("--base-url", help="With --live: the running backend.")
@click.option("--app", "app_ref", help="With --live: the backend app in-process (module:attr).")
@click.option(
    "--identities-from",
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="MANIFEST",
    help="With --live: send the calls as this manifest's identities (logging in as it says).",
)
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
def xref_command(
    frontend: Path,
    backend: str,
    out: Path,
    formats: str,
    call_patterns: tuple[str, ...],
    api_prefixes: tuple[str, ...],
    emit_manifest: Path | None,
    live: bool,
    base_url: str | None,
    app_ref: str | None,
    identities_from: Path | None,
    quiet: bool,
) -> None:
    """Cross-reference the API calls in a frontend's source with the backend's routes.

    \b
    Each call (file:line) is matched to a backend route, or gets the mismatch's cause and
    the routes the backend has instead. Exit codes: 0 every call is served; 1 some are not;
    2 bad usage, or a backend source that cannot be read.
    """
    from crawler import xref
    from crawler.files import write_atomic

    names = [name.strip() for name in formats.split(",") if name.strip()]
    unknown = [name for name in names if name not in xref.FORMATS]
    if unknown or not names:
        raise click.BadParameter(
            f"{', '.join(unknown) or 'nothing'}: choose from {', '.join(xref.FORMATS)}, "
            "comma-separated (e.g. md,html,json)",
            param_hint="--format",
        )
    bad_prefix = [p for p in api_prefixes if not p.startswith("/")]
    if bad_prefix:
        raise click.BadParameter(
            f"{bad_prefix[0]!r}: a prefix is a path such as /api", param_hint="--api-prefix"
        )
    try:
        patterns = xref.parse_patterns(call_patterns)
        _writable(out)
        inventory = xref.load_backend(backend)
        prefixes = (*api_prefixes, *xref.inventory_prefixes(inventory))
        found = xref.scan(frontend, patterns, prefixes)
        result = xref.cross_reference(
            found, inventory, frontend=str(frontend), backend=inventory.source
        )
        written = []
        for name in names:
            fmt = xref.FORMATS[name]
            write_atomic(out / fmt.filename, fmt.render(result))
            written.append(str(out / fmt.filename))
        if emit_manifest is not None:
            reference = xref.backend_reference(backend, emit_manifest)
            write_atomic(emit_manifest, xref.emit_manifest(result, inventory=reference))
            written.append(str(emit_manifest))
    except CrawlerError as error:
        _fail(error)
    except OSError as exc:
        _fail(UsageError(f"cannot write the reports: {exc.strerror or exc}."))
    text = xref.render_terminal(result)
    click.echo(text.splitlines()[-1] if quiet else text, nl=quiet)
    code = result.exit_code
    if live:
        code = max(code, _xref_live(result, backend, out, base_url, app_ref, identities_from))
    click.echo(f"reports: {', '.join(written)}", err=True)
    sys.exit(code)


def _xref_live(
    result: Any,
    backend: str,
    out: Path,
    base_url: str | None,
    app_ref: str | None,
    identities_from: Path | None,
) -> int:
    """`xref --live`: crawl the frontend's calls on the running backend; the run's exit code."""
    from crawler import runner, xref
    from crawler.engine import Settings
    from crawler.files import write_atomic

    if not (base_url or app_ref):
        _fail(UsageError("--live needs the running backend: pass --base-url or --app."))
    path = out / "xref-live.yaml"
    try:
        text = xref.emit_manifest(result, inventory=xref.backend_reference(backend, path))
        text = xref.for_live_run(text, identities_from, backend)
        write_atomic(path, text)
        # The backend URL's credentials are `${INVENTORY_...}` in the file, values from here.
        loaded = _manifest().load(path, {**os.environ, **xref.backend_environ(backend)})
        target = _target(loaded, base_url, app_ref)
        _warn_empty_credentials(loaded)
        place = runner.inventory_place(loaded, path, None)
        observer = runner.Observer(
            on_login_failure=lambda name, why: click.echo(
                f"identity {name} could not log in: {why}", err=True
            ),
            on_warning=lambda message: click.echo(f"warning: {message}", err=True),
        )
        run_ = runner.execute(loaded, path, target, Settings(), place=place, observer=observer)
    except CrawlerError as error:
        _fail(error)
    for name in ("md", "json", "mismatches"):
        fmt = FORMATS[name]
        write_atomic(out / f"live-{fmt.filename}", fmt.render(run_))
    from crawler.reports import mismatches
    from crawler.results import summarize

    click.echo(f"live: {mismatches.collect(run_).line}")
    summary = summarize(run_)
    click.echo(f"live: {summary.line}")
    return summary.exit_code


@cli.command()
@click.argument("old", metavar="OLD.json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", metavar="NEW.json", type=click.Path(dir_okay=False, path_type=Path))
def diff(old: Path, new: Path) -> None:
    """Compare two saved runs, Was -> Now, without crawling. Exit 1 if any REGRESSED."""
    from crawler.baseline import compare
    from crawler.reports import terminal
    from crawler.results import changes, load_run

    try:
        compared = compare(load_run(new), load_run(old), str(old))
    except CrawlerError as error:
        _fail(error)
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    width = min(shutil.get_terminal_size().columns, 140) if sys.stdout.isatty() else 100
    click.echo(terminal.render_changes(compared, color=color, width=width), nl=False)
    sys.exit(1 if changes(compared)["REGRESSED"] else 0)


def main() -> None:
    """Console entry point: no traceback reaches the user unless CRAWLER_DEBUG is set."""
    try:
        cli()
    except Exception as exc:
        if os.environ.get("CRAWLER_DEBUG"):
            raise
        click.echo(
            f"internal error: {type(exc).__name__}: {exc}\n"
            "This is a bug in crawler; run again with CRAWLER_DEBUG=1 for the traceback.",
            err=True,
        )
        sys.exit(70)
