"""The one place that removes secrets from anything crawler renders, prints or saves.

Rules:
- headers that carry credentials (Authorization, Cookie, Set-Cookie, API-key headers ...)
  keep their name and lose their value;
- query parameters whose name says secret (token, api_key, password ...) lose their value;
- user:password in a URL loses the password;
- known secret values (from the manifest's environment, later from logins) are replaced
  wherever they appear, also inside bodies and messages.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from urllib.parse import (
    SplitResult,
    parse_qsl,
    quote,
    quote_plus,
    unquote_plus,
    urlencode,
    urlsplit,
    urlunsplit,
)

REDACTED = "[REDACTED]"

# Header names whose values are credentials, compared case-insensitively.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "x-api-key",
        "api-key",
        "apikey",
        "x-auth-token",
        "x-access-token",
        "x-csrf-token",
        "x-csrftoken",
        "x-xsrf-token",
        "x-amz-security-token",
    }
)

# Headers whose value is a URL, which may carry secret query parameters.
_URL_HEADERS = frozenset({"location", "content-location"})

# A header, query or form field name that mentions one of these words is treated as a
# secret. Short words only as a whole name or its last part (`pw`, `user_pin`), so that
# `passenger`, `spin` or `pinned` stay readable.
_SECRET_WORDS = re.compile(
    r"(token|secret|passw(or)?d|passwd|pass$|pwd|passcode|passphrase|(^|[-_])(pw|pin)$"
    r"|api[-_]?key|apikey|auth|session|signature|sig$|credential)",
    re.IGNORECASE,
)

# Environment variable names whose values are secrets when substituted into a manifest.
SECRET_ENV_NAME = re.compile(
    r"(TOKEN|SECRET|PASSW(OR)?D|PASS$|PWD|PASSCODE|PASSPHRASE|(^|_)(PW|PIN)$"
    r"|API_?KEY|CREDENTIAL|COOKIE|SESSION)"
)

# Secret values shorter than this are not replaced inside free text: too many false hits.
_MIN_SECRET_LEN = 4


def is_secret_name(name: str) -> bool:
    """A header or query parameter name that carries a credential."""
    return name.lower() in SECRET_HEADERS or bool(_SECRET_WORDS.search(name))


def headers(items: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
    """Copy of the headers with credential values replaced by `[REDACTED]`.

    Repeated headers (several Set-Cookie) are joined with ", " as HTTP allows.
    """
    pairs = items.items() if isinstance(items, Mapping) else items
    out: dict[str, str] = {}
    for name, value in pairs:
        if is_secret_name(name):
            shown = REDACTED
        elif name.lower() in _URL_HEADERS:
            shown = url(value)  # a redirect to /login?token=... carries a secret
        else:
            shown = value
        out[name] = f"{out[name]}, {shown}" if name in out else shown
    return out


# RFC 3986, appendix B: splits any string, where `urlsplit` rejects some (`http://[::1`).
_URL_PARTS = re.compile(r"^(?:([A-Za-z][A-Za-z0-9+.-]*):)?(?://([^/?#]*))?([^?#]*)(?:\?([^#]*))?")


def _split(text: str) -> SplitResult:
    try:
        return urlsplit(text)
    except ValueError:  # a malformed URL still must not leak, nor crash whoever shows it
        found = _URL_PARTS.match(text)
        assert found is not None  # every part is optional
        scheme, netloc, path, query = (part or "" for part in found.groups())
        return SplitResult(scheme, netloc, path, query, text[found.end() + 1 :])


def url(text: str) -> str:
    """The URL with secret query values and any userinfo password replaced.

    Never raises, even for a URL `urlsplit` rejects.
    """
    parts = _split(text)
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, host = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{REDACTED}@{host}" if ":" in userinfo else f"{REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(is_secret_name(name) for name, _ in pairs):
            query = urlencode(
                [(n, REDACTED if is_secret_name(n) else v) for n, v in pairs], safe="[]"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def url_as_env(text: str, prefix: str) -> tuple[str, dict[str, str]]:
    """The URL as a manifest may keep it: its password and secret query values written as
    `${PREFIX_NAME}` placeholders (any other `$` as `$$`), and the values they stand for.

    Each variable's name says secret (`SECRET_ENV_NAME`), so the value a user exports is
    redacted in every report of the run that reads it.

    >>> url_as_env("https://me:pw@h/o.json?token=t&v=1", "INVENTORY")[0]
    'https://me:${INVENTORY_PASSWORD}@h/o.json?token=${INVENTORY_TOKEN}&v=1'
    """
    parts = _split(text)
    values: dict[str, str] = {}

    def variable(name: str, value: str) -> str:
        word = re.sub(r"[^A-Za-z0-9]+", "_", name).strip("_").upper() or "SECRET"
        base = f"{prefix}_{word}"
        base = base if SECRET_ENV_NAME.search(base) else f"{base}_SECRET"
        chosen, n = base, 1
        while chosen in values:  # `?token=a&token=b`
            n += 1
            chosen = f"{base}_{n}"
        values[chosen] = value
        return "${" + chosen + "}"

    def literal(piece: str) -> str:
        return piece.replace("$", "$$")

    netloc = literal(parts.netloc)
    if "@" in parts.netloc:
        userinfo, _, host = parts.netloc.rpartition("@")
        user, colon, password = userinfo.partition(":")
        if colon:
            netloc = f"{literal(user)}:{variable('password', password)}@{literal(host)}"
        else:  # a token alone as the userinfo
            netloc = f"{variable('userinfo', user)}@{literal(host)}"
    fields = []
    for field in parts.query.split("&") if parts.query else []:
        name, equals, value = field.partition("=")
        secret = equals and is_secret_name(unquote_plus(name))
        fields.append(f"{literal(name)}={variable(name, value)}" if secret else literal(field))
    shown = urlunsplit(
        (parts.scheme, netloc, literal(parts.path), "&".join(fields), literal(parts.fragment))
    )
    return shown, values


def url_secrets(text: str) -> list[str]:
    """The secret parts of a URL as written in it: its password (or a token as its userinfo)
    and the values of its secret query parameters."""
    return list(url_as_env(text, "URL")[1].values())


def request_secrets(
    headers: Mapping[str, str], path: str, query: Mapping[str, object], body: object
) -> set[str]:
    """Credential values a request carries: in secret-named headers (the whole value and the
    token after its scheme), query parameters and JSON/form fields.

    Targets echo requests back in bodies and error pages, so these values are hidden in
    answers too, not only where they were sent.
    """
    found = {
        part
        for name, value in headers.items()
        if is_secret_name(name)
        for part in (value, *value.split()[-1:])
    }
    pairs = [*parse_qsl(_split(path).query), *((k, str(v)) for k, v in query.items())]
    found.update(value for name, value in pairs if is_secret_name(name))
    found.update(_json_secrets(body))
    return found


def _json_secrets(data: object) -> Iterable[str]:
    if isinstance(data, dict):
        for key, value in data.items():
            if isinstance(key, str) and is_secret_name(key) and isinstance(value, str | int):
                yield str(value)
            else:
                yield from _json_secrets(value)
    elif isinstance(data, list):
        for item in data:
            yield from _json_secrets(item)


class Redactor:
    """Replaces known secret values in free text (bodies, messages), longest first."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: frozenset[str] = frozenset()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        """Also hide `secrets` from now on (tokens and values captured during a run)."""
        # A secret in a URL or a form body is percent-encoded (`a+b/c` is `a%2Bb%2Fc`).
        values = self._secrets.union(
            form
            for s in secrets
            if len(s) >= _MIN_SECRET_LEN
            for form in {s, quote(s, safe=""), quote_plus(s)}
        )
        if values == self._secrets:
            return
        self._secrets = values
        ordered = sorted(values, key=len, reverse=True)  # longest first: no partial leftovers
        self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def __repr__(self) -> str:
        return "Redactor(<secrets hidden>)"

    def text(self, value: str) -> str:
        return self._pattern.sub(REDACTED, value) if self._pattern else value

    def headers(self, items: Mapping[str, str] | Iterable[tuple[str, str]]) -> dict[str, str]:
        return {name: self.text(value) for name, value in headers(items).items()}

    def url(self, value: str) -> str:
        return self.text(url(value))


def body(text: str, content_type: str | None) -> str:
    """A request body with the values of secret-named JSON keys or form fields replaced."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind == "application/json" or kind.endswith("+json"):
        try:
            data = json.loads(text)
        except ValueError:
            return text
        return json.dumps(_redact_json(data), separators=(",", ":"))
    if kind == "application/x-www-form-urlencoded":
        pairs = parse_qsl(text, keep_blank_values=True)
        if any(is_secret_name(name) for name, _ in pairs):
            return urlencode([(n, REDACTED if is_secret_name(n) else v) for n, v in pairs])
    return text


def _redact_json(data: object) -> object:
    if isinstance(data, dict):
        return {
            k: REDACTED if isinstance(k, str) and is_secret_name(k) else _redact_json(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [_redact_json(item) for item in data]
    return data
