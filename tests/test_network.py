"""Network options: a private CA (`--ca-bundle`), client certificates (mTLS), `--insecure`,
a forward proxy, `--header` and the default User-Agent, and digest auth.

Real servers on 127.0.0.1 throughout: uvicorn speaking HTTPS with a throwaway trustme CA
(`tls.py`), a counting forward proxy (`proxy.py`), a digest-auth app (`auth_servers.py`).
Each crawl runs over both transports, since they verify TLS and reach proxies by different
code.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from auth_servers import DigestApp, combine
from proxy import Proxy, serve_proxy
from servers import MockApp, TLSFiles, serve
from tls import Certs, make_certs

from crawler import engine, manifest, netconfig
from crawler.errors import UsageError
from crawler.netconfig import Flags, NetworkOptions
from crawler.redact import Redactor
from crawler.results import CheckResult, load_run

CRAWLER = str(Path(sys.executable).parent / "crawler")


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def https_url(certs: Certs) -> Iterator[str]:
    """An HTTPS server whose certificate is signed by the test CA (unknown to certifi)."""
    with serve(MockApp(), TLSFiles(certs.server_cert, certs.server_key)) as url:
        yield url


@pytest.fixture(scope="module")
def mtls_url(certs: Certs) -> Iterator[str]:
    """An HTTPS server that refuses any client without a certificate from the test CA."""
    tls = TLSFiles(certs.server_cert, certs.server_key, client_ca=certs.ca)
    with serve(MockApp(), tls) as url:
        yield url


@pytest.fixture
def proxy() -> Iterator[Proxy]:
    with serve_proxy() as running:
        yield running


def planned(*checks: str | dict[str, Any], identities: dict[str, Any] | None = None) -> Any:
    document: dict[str, Any] = {"version": 1, "name": "net", "groups": {"Net": list(checks)}}
    if identities:
        document["identities"] = identities
    return manifest.loads(json.dumps(document))


async def crawl(
    base_url: str,
    transport: engine.Transport,
    network: NetworkOptions,
    *checks: str | dict[str, Any],
    identities: dict[str, Any] | None = None,
) -> list[CheckResult]:
    loaded = planned(*checks, identities=identities)
    settings = engine.Settings(timeout=5.0, transport=transport, network=network)
    target = engine.Target(base_url=base_url)
    redactor = Redactor(loaded.secrets)
    async with engine.open_sessions(target, settings, loaded.identities, redactor) as sessions:
        return await engine.crawl(loaded.planned(), sessions, settings, redactor=redactor)


# --- TLS ---------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_an_unknown_ca_is_an_error_that_says_what_to_do(
    https_url: str, transport: engine.Transport
) -> None:
    (result,) = await crawl(https_url, transport, NO, "GET /status/200")
    assert result.verdict == "ERROR"
    assert result.reason.startswith("TLS certificate verify failed: ")
    assert result.reason.endswith("(use --ca-bundle or --insecure)")
    assert "self-signed" in result.reason or "unable to get local issuer" in result.reason


@pytest.mark.anyio
async def test_a_ca_bundle_trusts_a_private_ca(
    https_url: str, certs: Certs, transport: engine.Transport
) -> None:
    network = NetworkOptions(ca_bundle=str(certs.ca))
    results = await crawl(
        https_url, transport, network, "GET /status/200", "GET /status/204 -> 204"
    )
    assert [r.verdict for r in results] == ["PASS", "PASS"]


@pytest.mark.anyio
async def test_insecure_skips_verification(https_url: str, transport: engine.Transport) -> None:
    (result,) = await crawl(https_url, transport, NetworkOptions(insecure=True), "GET /status/200")
    assert result.verdict == "PASS"


@pytest.mark.anyio
async def test_a_server_requiring_a_client_certificate(
    mtls_url: str, certs: Certs, transport: engine.Transport
) -> None:
    without = NetworkOptions(ca_bundle=str(certs.ca))
    (refused,) = await crawl(mtls_url, transport, without, "GET /status/200")
    assert refused.verdict == "ERROR"
    assert refused.observation.kind == "error", refused.reason

    with_cert = NetworkOptions(
        ca_bundle=str(certs.ca), cert=str(certs.client_cert), key=str(certs.client_key)
    )
    (accepted,) = await crawl(mtls_url, transport, with_cert, "GET /status/200")
    assert accepted.verdict == "PASS"

    one_file = NetworkOptions(ca_bundle=str(certs.ca), cert=str(certs.client_pem))
    (accepted_too,) = await crawl(mtls_url, transport, one_file, "GET /status/200")
    assert accepted_too.verdict == "PASS"


def test_a_certificate_that_cannot_be_loaded_is_a_usage_error(tmp_path: Path) -> None:
    bogus = tmp_path / "cert.pem"
    bogus.write_text("not a certificate\n")
    with pytest.raises(UsageError, match="cannot load the"):
        netconfig.ssl_context(NetworkOptions(cert=str(bogus)))


# --- proxy -------------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_every_request_goes_through_the_proxy(
    proxy: Proxy, transport: engine.Transport
) -> None:
    with serve(MockApp()) as url:
        network = NetworkOptions(proxy=proxy.url)
        results = await crawl(url, transport, network, "GET /status/200", "GET /status/404 -> 404")
    assert [r.verdict for r in results] == ["PASS", "PASS"]
    assert sorted(proxy.forwarded) == [f"GET {url}/status/200", f"GET {url}/status/404"]


@pytest.mark.anyio
async def test_an_https_target_is_tunnelled_through_the_proxy(
    proxy: Proxy, https_url: str, certs: Certs, transport: engine.Transport
) -> None:
    network = NetworkOptions(proxy=proxy.url, ca_bundle=str(certs.ca))
    (result,) = await crawl(https_url, transport, network, "GET /status/200")
    assert result.verdict == "PASS"
    assert proxy.tunnels and set(proxy.tunnels) == {https_url.removeprefix("https://")}
    assert proxy.forwarded == []  # the request itself travelled encrypted, inside the tunnel


@pytest.mark.anyio
async def test_without_a_proxy_nothing_reaches_it(proxy: Proxy) -> None:
    with serve(MockApp()) as url:
        (result,) = await crawl(url, "aiohttp", NO, "GET /status/200")
    assert result.verdict == "PASS"
    assert proxy.forwarded == [] and proxy.tunnels == []


NO = NetworkOptions()
S = {"HTTPS_PROXY": "http://s:1"}


@pytest.mark.parametrize(
    ("url", "options", "environ", "expected"),
    [
        # Rule: an explicit proxy always applies, to loopback too.
        ("http://127.0.0.1:8000", NetworkOptions(proxy="http://p:3128"), {}, "http://p:3128"),
        ("https://api.test", NetworkOptions(proxy="http://p:3128"), {"NO_PROXY": "*"}, "http://p:3128"),
        # Rule: the scheme picks the variable; lower case works; ALL_PROXY is the fallback.
        ("https://api.test", NO, S, "http://s:1"),
        ("http://api.test", NO, S, None),
        ("http://api.test", NO, {"http_proxy": "http://h:1"}, "http://h:1"),
        ("http://api.test", NO, {"ALL_PROXY": "http://a:1"}, "http://a:1"),
        # Rule: NO_PROXY names hosts, domains (with or without a dot), ports, or `*`.
        ("https://api.test", NO, {**S, "NO_PROXY": "api.test"}, None),
        ("https://x.corp.test", NO, {**S, "no_proxy": ".corp.test"}, None),
        ("https://x.corp.test", NO, {**S, "NO_PROXY": "corp.test"}, None),
        ("https://notcorp.test", NO, {**S, "NO_PROXY": "corp.test"}, "http://s:1"),
        ("https://api.test:8443", NO, {**S, "NO_PROXY": "api.test:9000"}, "http://s:1"),
        ("https://api.test:8443", NO, {**S, "NO_PROXY": "api.test:8443"}, None),
        ("https://api.test", NO, {**S, "NO_PROXY": "*"}, None),
        # Rule: loopback is never proxied by the environment (a local target stays local).
        ("http://127.0.0.1:8000", NO, {"HTTP_PROXY": "http://h:1"}, None),
        ("http://localhost:8000", NO, {"HTTP_PROXY": "http://h:1"}, None),
        # Rule: trust_env off ignores the environment.
        ("https://api.test", NetworkOptions(trust_env=False), S, None),
    ],
)  # fmt: skip
def test_proxy_for(
    url: str, options: NetworkOptions, environ: dict[str, str], expected: str | None
) -> None:
    assert netconfig.proxy_for(url, options, environ) == expected


# --- headers and User-Agent --------------------------------------------------------------------


@pytest.mark.anyio
async def test_extra_headers_and_the_user_agent_reach_the_server(
    transport: engine.Transport,
) -> None:
    app = MockApp()
    with serve(app) as url:
        network = NetworkOptions(headers=(("X-Env", "smoke"),))
        (result,) = await crawl(url, transport, network, "GET /echo")
    assert result.verdict == "PASS"
    (echoed,) = app.stats.echoes
    assert echoed["headers"]["x-env"] == "smoke"
    assert echoed["headers"]["user-agent"] == netconfig.user_agent()
    assert netconfig.user_agent().startswith("crawler/")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("X-Env: smoke", ("X-Env", "smoke")),
        ("X-Env:smoke", ("X-Env", "smoke")),
        ("Authorization: Bearer a:b", ("Authorization", "Bearer a:b")),
        ("X-Empty:", ("X-Empty", "")),
    ],
)
def test_parse_header(text: str, expected: tuple[str, str]) -> None:
    assert netconfig.parse_header(text) == expected


@pytest.mark.parametrize("text", ["no colon", ": value", "Bad Name: x", "X: a\nb"])
def test_parse_header_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="header"):
        netconfig.parse_header(text)


# --- options from the manifest and the command line --------------------------------------------


def test_manifest_files_are_relative_to_its_folder(certs: Certs, tmp_path: Path) -> None:
    folder = certs.ca.parent
    defaults = manifest.Defaults(ca_bundle="ca.pem", cert="client.pem", key="client.key")
    options = netconfig.options_from(defaults, folder, Flags())
    assert (options.ca_bundle, options.cert, options.key) == (
        str(certs.ca),
        str(certs.client_cert),
        str(certs.client_key),
    )
    # The command line wins, and its --cert replaces the manifest's pair.
    options = netconfig.options_from(defaults, folder, Flags(cert=str(certs.client_pem)))
    assert (options.cert, options.key) == (str(certs.client_pem), None)


@pytest.mark.parametrize(
    ("defaults", "flags", "message"),
    [
        ({"ca_bundle": "missing.pem"}, {}, "ca_bundle .*missing.pem: no such file"),
        ({}, {"key": "ca.pem"}, "key is set without cert"),
        ({"insecure": True}, {"ca_bundle": "{ca}"}, "insecure and ca_bundle contradict"),
        ({}, {"headers": ("nope",)}, "--header 'nope ...' is not a header"),
        ({}, {"proxy": "socks5://p:1"}, "--proxy 'socks5://p:1' is not a proxy URL"),
    ],
)
def test_bad_network_options_are_usage_errors(
    certs: Certs, defaults: dict[str, Any], flags: dict[str, Any], message: str
) -> None:
    folder = certs.ca.parent
    flags = {k: v.format(ca=certs.ca) if isinstance(v, str) else v for k, v in flags.items()}
    if "key" in flags:
        flags["key"] = str(folder / flags["key"])
    with pytest.raises(UsageError, match=message):
        netconfig.options_from(manifest.Defaults(**defaults), folder, Flags(**flags))


def test_a_proxy_in_the_manifest_must_be_a_url() -> None:
    with pytest.raises(manifest.ManifestError, match=r"defaults\.proxy"):
        manifest.loads(
            '{"version": 1, "name": "x", "defaults": {"proxy": "p:1"}, "groups": {"G": ["/"]}}'
        )


# --- digest auth -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_digest_auth(transport: engine.Transport) -> None:
    app = DigestApp()
    identities = {
        "digest": {"kind": "digest", "username": "digest-user", "password": "digest-pass"},
        "wrong": {"kind": "digest", "username": "digest-user", "password": "nope"},
    }
    with serve(combine(app)) as url:
        results = await crawl(
            url,
            transport,
            NetworkOptions(),
            {"path": "/digest/ok", "expect": {"digest": 200, "wrong": 401}},
            {"path": "/digest/ok?again=1", "identities": ["digest"]},
            identities=identities,
        )
    assert [(r.identity, r.verdict) for r in results] == [
        ("digest", "PASS"),
        ("wrong", "PASS"),  # refused, as it expects
        ("digest", "PASS"),
    ]
    assert app.accepted == 2  # both checks as `digest`; never as `wrong`
    # At most one challenge per request as `digest` (fewer once a nonce is known), and
    # two for `wrong` (its first try, then its refused answer).
    assert app.challenges <= 2 + 2


def test_a_digest_identity_needs_its_credentials() -> None:
    with pytest.raises(manifest.ManifestError, match="kind digest needs password"):
        manifest.loads(
            '{"version": 1, "name": "x", "identities": {"d": {"kind": "digest", "user": "u"}},'
            ' "groups": {"G": ["/"]}}'
        )


# --- the command line, as a user runs it ---------------------------------------------------------


def run_cli(
    *args: str, cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CRAWLER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=cwd,
        env={**os.environ, "NO_COLOR": "1", **(env or {})},
        check=False,
    )


MTLS_SPEC = """
version: 1
name: mtls
defaults: {headers: {X-Env: manifest}}
groups:
  Secure:
    - GET /status/200
    - GET /echo
"""


def test_cli_mtls_with_a_private_ca(mtls_url: str, certs: Certs, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(MTLS_SPEC)
    proc = run_cli(
        "run", str(spec), "--base-url", mtls_url, "--out", str(tmp_path / "out"),
        "--ca-bundle", str(certs.ca),
        "--cert", str(certs.client_cert), "--key", str(certs.client_key),
        "-H", "X-Env: cli", "--format", "json",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    run = load_run(tmp_path / "out" / "run.json")
    assert [r.verdict for r in run.results] == ["PASS", "PASS"]
    assert run.settings.insecure is False


def test_cli_insecure_is_loud_in_every_report(https_url: str, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(MTLS_SPEC)
    out = tmp_path / "out"
    proc = run_cli(
        "run", str(spec), "--base-url", https_url, "--out", str(out), "--insecure",
        "--format", "md,html,json,junit,mismatches",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "--insecure: TLS certificates will NOT be verified" in proc.stderr
    assert "TLS certificate verification was OFF" in proc.stdout
    for name in ("report.md", "report.html", "junit.xml", "mismatches.md"):
        assert "TLS certificate verification was OFF" in (out / name).read_text(), name
    assert load_run(out / "run.json").settings.insecure is True


def test_cli_an_untrusted_certificate_is_an_error_row_with_a_hint(
    https_url: str, tmp_path: Path
) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(MTLS_SPEC)
    proc = run_cli(
        "run", str(spec), "--base-url", https_url, "--out", str(tmp_path),
        cwd=tmp_path, env={"COLUMNS": "200"},
    )  # fmt: skip
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "(use --ca-bundle or --insecure)" in " ".join(proc.stdout.split())
    reasons = {r.reason for r in load_run(tmp_path / "run.json").results}
    assert len(reasons) == 1 and reasons.pop().endswith("(use --ca-bundle or --insecure)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ca-bundle", "missing.pem"], "ca_bundle missing.pem: no such file"),
        (["-H", "Authorization Bearer SECRET-41"], "--header 'Authorization ...' is not a header"),
        (["--key", "k.pem"], "key k.pem: no such file"),
    ],
)
def test_cli_bad_network_options_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(MTLS_SPEC)
    proc = run_cli("run", str(spec), "--base-url", "http://127.0.0.1:9", *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert message in proc.stderr
    assert "Traceback" not in proc.stderr
    assert "SECRET-41" not in proc.stdout + proc.stderr


CANARY_HEADER = "CANARY-header-41d9"
CANARY_PROXY = "CANARY-proxy-77ae"


def test_cli_a_secret_header_and_a_proxy_password_never_show(proxy: Proxy, tmp_path: Path) -> None:
    """The server echoes every request header into its (failing) answer: the token given
    with -H must be hidden there, in the terminal and in every report, and so must the
    proxy's password."""
    spec = tmp_path / "spec.yaml"
    spec.write_text("version: 1\nname: canary\ngroups:\n  Echo:\n    - GET /echo -> 204\n")
    out = tmp_path / "out"
    with serve(MockApp()) as url:
        proc = run_cli(
            "run", str(spec), "--base-url", url, "--out", str(out),
            "-H", f"X-Api-Token: {CANARY_HEADER}",
            "--proxy", f"http://user:{CANARY_PROXY}@127.0.0.1:{proxy.port}",
            "--format", "md,html,json,junit",
            cwd=tmp_path,
        )  # fmt: skip
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert proxy.forwarded == [f"GET {url}/echo"]
    every = proc.stdout + proc.stderr + "".join(p.read_text() for p in out.iterdir())
    assert CANARY_HEADER not in every
    assert CANARY_PROXY not in every
    run = load_run(out / "run.json")
    assert run.settings.proxy is not None and "***" in run.settings.proxy
    assert "x-api-token" in run.results[0].observation.model_dump_json().lower()


def test_https_proxy_environment_is_honoured_for_a_remote_name() -> None:
    """`HTTPS_PROXY` as CI sets it: a remote https target goes through it (no request is
    sent here; only the decision is checked, as the suite never leaves 127.0.0.1)."""
    options = NetworkOptions()
    environ = {"HTTPS_PROXY": "http://proxy.corp:3128", "NO_PROXY": "localhost,.internal"}
    assert netconfig.proxy_for("https://api.example.com", options, environ) == (
        "http://proxy.corp:3128"
    )
    assert netconfig.proxy_for("https://svc.internal", options, environ) is None
    assert str(httpx.URL(netconfig.proxy_label("http://u:pw@p:1"))) == "http://u:***@p:1"
    assert netconfig.proxy_label("http://TOKEN1234567@p:1") == "http://***@p:1"
    assert netconfig.proxy_label("http://p:1") == "http://p:1"
