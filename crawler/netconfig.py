"""How the crawl reaches the target: TLS trust, client certificates, proxy, extra headers.

Small pure rules and one cached builder; `engine` applies them to both transports. Every
option comes from the manifest's `defaults:` or the command line (which wins):

- `ca_bundle` trusts a private CA (a PEM file) instead of certifi's public ones;
- `cert` / `key` present a client certificate (mTLS);
- `insecure` skips certificate verification altogether: every report says so, loudly;
- `proxy` sends every request through an HTTP(S) proxy; without it the standard
  `HTTPS_PROXY` / `HTTP_PROXY` / `ALL_PROXY` / `NO_PROXY` variables decide, as curl does;
- `headers` (`--header 'X-Env: smoke'`) are added to every request, under a check's own.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.errors import UsageError

if TYPE_CHECKING:
    from crawler.manifest import Defaults

# httpx is imported inside the functions that need it: the command line's decorators build
# `Flags` at import time, and `crawler --help` must not pay for httpx.


@functools.cache
def user_agent() -> str:
    """`crawler/<version>`, the default User-Agent of every request."""
    try:
        version = metadata.version("crawler")
    except metadata.PackageNotFoundError:  # run from a source tree without installing
        version = "0"
    return f"crawler/{version}"


@dataclass(frozen=True)
class NetworkOptions:
    """TLS, proxy and header options of a crawl; the defaults are what curl would do."""

    ca_bundle: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    proxy: str | None = None
    # Looked up in the environment (HTTPS_PROXY ...) when `proxy` is unset.
    trust_env: bool = True
    headers: tuple[tuple[str, str], ...] = field(default=())

    def problems(self) -> list[str]:
        """What is wrong before anything is sent: missing files, a key without a cert."""
        found = [
            f"{name} {value}: no such file"
            for name, value in (("ca_bundle", self.ca_bundle), ("cert", self.cert))
            if value and not Path(value).is_file()
        ]
        if self.key and not Path(self.key).is_file():
            found.append(f"key {self.key}: no such file")
        if self.key and not self.cert:
            found.append("key is set without cert: a client certificate needs both (or one PEM)")
        if self.insecure and self.ca_bundle:
            found.append("insecure and ca_bundle contradict each other: choose one")
        return found


def ssl_context(options: NetworkOptions) -> ssl.SSLContext:
    """The TLS context for `options` (built once per distinct options: it costs ~20 ms).

    Raises `UsageError` for a CA bundle or certificate that cannot be loaded.
    """
    return _context(options.ca_bundle, options.cert, options.key, options.insecure)


@functools.cache
def _context(
    ca_bundle: str | None, cert: str | None, key: str | None, insecure: bool
) -> ssl.SSLContext:
    import httpx

    try:
        if insecure:
            context = httpx.create_ssl_context(verify=False)
        elif ca_bundle:
            context = ssl.create_default_context(cafile=ca_bundle)
        else:
            context = httpx.create_ssl_context()  # certifi's CAs, verification on
        if cert:
            context.load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        what = "client certificate" if cert and "cert" in str(exc).lower() else "TLS files"
        raise UsageError(f"cannot load the {what}: {exc}") from None
    return context


def proxy_for(
    url: str, options: NetworkOptions, environ: Mapping[str, str] | None = None
) -> str | None:
    """The proxy a request to `url` goes through, or None for a direct connection.

    An explicit `proxy` always applies. Otherwise the environment decides, as curl and
    requests read it: `NO_PROXY` (hosts, domains, `*`) wins, then `HTTPS_PROXY` for https
    URLs or `HTTP_PROXY` for http ones, then `ALL_PROXY`; lower-case names work too.
    Loopback targets are never proxied by the environment (a local demo behind a
    corporate proxy variable would otherwise fail).
    """
    import httpx

    if options.proxy:
        return options.proxy
    if not options.trust_env:
        return None
    env = {k.lower(): v for k, v in (environ if environ is not None else _environ()).items()}
    target = httpx.URL(url)
    host = target.host
    if host in ("localhost", "127.0.0.1", "::1") or host.startswith("127."):
        return None
    if _bypassed(host, target.port, env.get("no_proxy", "")):
        return None
    scheme = target.scheme
    return env.get(f"{scheme}_proxy") or env.get("all_proxy") or None


def _environ() -> Mapping[str, str]:
    return os.environ


def _bypassed(host: str, port: int | None, no_proxy: str) -> bool:
    """Whether NO_PROXY names `host`: `*`, an exact host, a domain suffix (`.corp` or `corp`)."""
    for entry in (e.strip().lower() for e in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        name, _, entry_port = entry.partition(":")
        if entry_port and port is not None and entry_port != str(port):
            continue
        name = name.lstrip(".")
        if host.lower() == name or host.lower().endswith("." + name):
            return True
    return False


def parse_header(text: str) -> tuple[str, str]:
    """`--header 'X-Env: smoke'` as a (name, value) pair; raises ValueError when malformed."""
    name, sep, value = text.partition(":")
    name = name.strip()
    if not sep or not name or any(c in name for c in " \t\r\n"):
        # Only the start is shown: the rest may be a credential (`Authorization Bearer ...`).
        shown = text.split()[0] if text.split() else ""
        raise ValueError(f"'{shown} ...' is not a header; write 'Name: value'")
    value = value.strip()
    if any(c in value for c in "\r\n"):
        raise ValueError(f"{name}: a header value cannot hold a line break")
    return name, value


def proxy_label(proxy: str) -> str:
    """A proxy URL as reports may show it: without its password."""
    import httpx

    url = httpx.URL(proxy)
    if url.password:
        return str(url.copy_with(username=url.username, password="***"))
    if url.username:  # a token given as the user name alone is a credential too
        return str(url.copy_with(username="***"))
    return proxy


@dataclass(frozen=True)
class Flags:
    """The network options given on the command line (None/empty: not given)."""

    headers: tuple[str, ...] = ()
    ca_bundle: str | None = None
    cert: str | None = None
    key: str | None = None
    insecure: bool = False
    proxy: str | None = None


def options_from(defaults: Defaults, folder: Path, flags: Flags) -> NetworkOptions:
    """The crawl's network options: the command line's over the manifest's `defaults`.

    Files the manifest names are relative to its folder; files on the command line to
    the working directory. Raises `UsageError` for a bad header, a missing file, a key
    without a certificate, or `--insecure` with a CA bundle.
    """

    def from_manifest(value: str | None) -> str | None:
        return str(folder / value) if value else None

    try:
        headers = tuple(parse_header(text) for text in flags.headers)
    except ValueError as exc:
        raise UsageError(f"--header {exc}") from None
    if flags.proxy is not None and not flags.proxy.startswith(("http://", "https://")):
        raise UsageError(f"--proxy {flags.proxy!r} is not a proxy URL; write http://host:port")
    cert = flags.cert or from_manifest(defaults.cert)
    options = NetworkOptions(
        ca_bundle=flags.ca_bundle or from_manifest(defaults.ca_bundle),
        cert=cert,
        key=flags.key or (from_manifest(defaults.key) if not flags.cert else None),
        insecure=flags.insecure or defaults.insecure,
        proxy=flags.proxy or defaults.proxy,
        headers=headers,
    )
    problems = options.problems()
    if problems:
        raise UsageError("; ".join(problems) + ".")
    ssl_context(options)  # a certificate that cannot be loaded is a usage error, found now
    return options
