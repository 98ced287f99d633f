"""Frontend cross-reference: the API calls a frontend's source makes, matched against the backend.

Three steps, each a plain function:

1. `scan(folder)` reads JS/TS/JSX/TSX/Vue/Svelte source and returns every API call it finds
   (`FrontendCall`: method, path template, file, line), through a small tokenizer (strings,
   template literals, comments and regex literals are told apart; no JS parser needed).
2. `cross_reference(scan, inventory)` matches each distinct call against the backend's route
   inventory; a call that is not served gets `mismatch.diagnose`'s cause and suggestions.
3. `FORMATS[name].render(xref)` renders the result (md, html, json); `emit_manifest(xref)`
   writes a manifest with one check per call, to crawl against a live backend.

What counts as a call::

    fetch(url, {method: 'POST'})     $fetch / ofetch(url, {method})   method option, default GET
    axios.get/post/put/patch/delete/head/options(url)                 the method named
    axios({url, method}) / axios(url, {method}) / axios.request({url, method})
    useSWR(url) / useSWRImmutable(url)                                 GET (a key array: its first)
    ky.get/post/put/patch/delete/head(url) / ky(url, {method})
    --call-pattern apiGet:GET        a wrapper (or an instance: api.get:GET) with a fixed method
    --call-pattern apiFetch          a fetch-like wrapper: method from its options, default GET

How a URL argument becomes a path template::

    '/api/users' "/api/users" `/api/users`      /api/users
    `/api/calls/${id}/notes`                     /api/calls/{param}/notes
    '/api/users/' + user.id                      /api/users/{param}
    `${API_BASE}/api/x`, baseURL + '/api/x'      /api/x   (a base dropped before an API path)
    '/api/x?limit=10', `/api/x${query}`          /api/x   (query strings, and an expression
                                                          glued to the path's end, dropped)
    `/api/files/${name}.pdf`                     /api/files/{param} (a segment with an
                                                          expression is a parameter)
    id ? `/api/r/${id}` : null                   /api/r/{param}   (each branch of a ?: and ||)

Only paths under an API prefix (`/api` by default, `--api-prefix`) are calls; external URLs
(`https://cdn...`), protocol-relative ones, `mailto:`, relative paths and static files outside
the prefix are not. A path whose every segment after the prefix is an expression
(`` `/api/${path}` `` inside a wrapper) is too dynamic to check, and skipped.
"""

from __future__ import annotations

import bisect
import itertools
import json
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from crawler import redact
from crawler.errors import UsageError
from crawler.mismatch import Call, diagnose
from crawler.results import Diagnosis
from crawler.routes import (
    HTTP_METHODS,
    PARAM,
    Inventory,
    InventoryError,
    Route,
    from_openapi,
    load_document,
    load_file,
    module_of,
    segments,
)

if TYPE_CHECKING:
    from jinja2 import Environment

    from crawler.engine import Target
    from crawler.manifest import Manifest

XREF_SCHEMA = "crawler.xref/1"

# Files that can hold API calls, and folders that hold only generated or vendored code.
SOURCE_SUFFIXES = (".js", ".jsx", ".ts", ".tsx", ".vue", ".svelte", ".mjs", ".cjs")
SKIPPED_DIRS = frozenset(
    {"node_modules", "dist", "build", ".next", ".nuxt", ".svelte-kit", ".output", ".git"}
)
# Larger files are bundles or generated code, not source a person wrote: skipped.
MAX_FILE_BYTES = 2 * 1024 * 1024

DEFAULT_PREFIXES: tuple[str, ...] = ("/api",)

# How a call's path spells an expression it cannot know: `/api/calls/{param}/notes`.
PLACEHOLDER = "{param}"


# --- what the scanner finds --------------------------------------------------------------------


@dataclass(frozen=True)
class FrontendCall:
    """One API call in the frontend's source: `GET /api/calls/{param}/notes` at file:line."""

    method: str
    path: str
    file: str  # relative to the scanned folder, with `/` separators
    line: int
    via: str  # what made the call: `fetch`, `axios.get`, `apiGet`

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(frozen=True)
class CallPattern:
    """A user's own call to recognise: `apiGet:GET` (fixed method) or `apiFetch` (fetch-like).

    >>> CallPattern.parse("api.get:get")
    CallPattern(name='api.get', method='GET')
    """

    name: str
    method: str | None = None  # None: like fetch, from the options' `method` (default GET)

    @classmethod
    def parse(cls, text: str) -> CallPattern:
        name, _, method = text.partition(":")
        name, method = name.strip(), method.strip().upper()
        if not re.fullmatch(r"[A-Za-z_$][\w$]*(\.[A-Za-z_$][\w$]*)*", name):
            raise ValueError(
                f"{text!r}: write NAME:METHOD, e.g. apiGet:GET or api.post:POST "
                "(or NAME alone for a fetch-like wrapper)"
            )
        if method and method not in HTTP_METHODS:
            raise ValueError(f"{text!r}: {method} is not one of {', '.join(HTTP_METHODS)}")
        return cls(name, method or None)


@dataclass(frozen=True)
class Scan:
    """Every call found in a folder, in file then line order, and how many files were read."""

    calls: tuple[FrontendCall, ...]
    files: int


# --- the tokenizer -----------------------------------------------------------------------------

TokenKind = Literal["name", "string", "number", "punct", "regex"]


@dataclass(frozen=True, slots=True)
class _Token:
    kind: TokenKind
    text: str
    line: int
    # A string's text, or a template literal's pieces: literal text, None for each `${...}`.
    parts: tuple[str | None, ...] = ()


_LEXEME = re.compile(
    r"""
      (?P<space>[\s\ufeff]+)
    | (?P<comment>//[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<name>[A-Za-z_$\u0080-\uffff][\w$\u0080-\uffff]*)
    | (?P<number>\.?\d[\w.]*)
    | (?P<string>'(?:[^'\\\n]|\\.)*'?|"(?:[^"\\\n]|\\.)*"?)  # ends at its line, closed or not
    | (?P<punct>=>|\?\.|\?\?|\|\||&&|\.\.\.|</|.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
# After these, a `/` starts a regex literal rather than a division.
_BEFORE_EXPRESSION = frozenset(
    {"return", "typeof", "case", "do", "else", "in", "of", "new", "delete", "void", "throw"}
    | {"yield", "await", "instanceof"}
)


def _tokens(text: str) -> list[_Token]:
    """The tokens of JS/TS source; comments and whitespace dropped, lines 1-based.

    Tolerant by design: JSX text, TypeScript types and broken code never stop it. A quote
    that is not closed ends at its line, so a `Don't` in JSX text costs one line at most.
    """
    newlines = [m.start() for m in re.finditer("\n", text)]

    def line_at(position: int) -> int:
        return bisect.bisect_right(newlines, position - 1) + 1

    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == "`":
            parts, end = _template(text, i)
            tokens.append(_Token("string", text[i:end], line_at(i), parts))
            i = end
            continue
        if char == "/" and text[i + 1 : i + 2] not in ("/", "*") and _regex_may_start(tokens):
            regex_end = _regex_end(text, i)
            if regex_end is not None:
                tokens.append(_Token("regex", text[i:regex_end], line_at(i)))
                i = regex_end
                continue
        match = _LEXEME.match(text, i)
        assert match is not None  # the last alternative takes any character
        kind = match.lastgroup
        lexeme = match.group()
        if kind == "string":
            body = lexeme[1:-1] if len(lexeme) > 1 and lexeme[-1] == lexeme[0] else lexeme[1:]
            tokens.append(_Token("string", lexeme, line_at(i), (_ESCAPE.sub(r"\1", body),)))
        elif kind in ("name", "number", "punct"):
            tokens.append(_Token(kind, lexeme, line_at(i)))  # type: ignore[arg-type]
        i = match.end()
    return tokens


def _regex_may_start(tokens: list[_Token]) -> bool:
    # Rule: a `/` where an expression may begin (after an operator, `(`, `,`, a keyword such
    # as `return`) opens a regex literal; after a value (a name, `)`, `]`) it divides.
    if not tokens:
        return True
    last = tokens[-1]
    if last.kind == "punct":
        return last.text not in (")", "]", "}")
    return last.kind == "name" and last.text in _BEFORE_EXPRESSION


def _regex_end(text: str, start: int) -> int | None:
    """Where the regex literal starting at `start` ends (after its flags); None if it is none."""
    i, in_class = start + 1, False
    while i < len(text) and text[i] != "\n":
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "[":
            in_class = True
        elif char == "]":
            in_class = False
        elif char == "/" and not in_class:
            i += 1
            while i < len(text) and (text[i].isalnum() or text[i] == "_"):
                i += 1
            return i
        i += 1
    return None


def _template(text: str, start: int) -> tuple[tuple[str | None, ...], int]:
    """A template literal's pieces (None for each `${...}`) and the index after its backtick."""
    parts: list[str | None] = []
    chunk: list[str] = []
    i = start + 1
    while i < len(text):
        char = text[i]
        if char == "\\":
            chunk.append(text[i + 1 : i + 2])
            i += 2
        elif char == "`":
            i += 1
            break
        elif char == "$" and text[i + 1 : i + 2] == "{":
            parts.extend(["".join(chunk), None])
            chunk = []
            i = _expression_end(text, i + 2) + 1
        else:
            chunk.append(char)
            i += 1
    parts.append("".join(chunk))
    return tuple(p for p in parts if p != ""), i


def _expression_end(text: str, start: int) -> int:
    """The index of the `}` closing a template's `${` expression that starts at `start`.

    Templates nest inside expressions and expressions inside templates to any depth
    (`${`${`${x}`}`}`), so this keeps a stack instead of recursing: one entry per open
    expression (its `{` depth) or nested template literal (`_IN_TEMPLATE`).
    """
    stack = [1]
    i = start
    while i < len(text):
        char = text[i]
        if stack[-1] == _IN_TEMPLATE:
            if char == "\\":
                i += 2
                continue
            if char == "`":
                stack.pop()
            elif char == "$" and text[i + 1 : i + 2] == "{":
                stack.append(1)
                i += 1
            i += 1
            continue
        if char == "{":
            stack[-1] += 1
        elif char == "}":
            stack[-1] -= 1
            if stack[-1] == 0:
                stack.pop()
                if not stack:
                    return i
        elif char == "`":
            stack.append(_IN_TEMPLATE)
        elif char in "'\"":
            match = _LEXEME.match(text, i)
            i = match.end() if match else i + 1
            continue
        i += 1
    return len(text)


# On `_expression_end`'s stack: inside a template literal, not an expression.
_IN_TEMPLATE = 0


_SCRIPT = re.compile(r"(<script\b[^>]*>)(.*?)(</script\s*>)", re.DOTALL | re.IGNORECASE)


def _script_only(text: str) -> str:
    """A Vue/Svelte file's `<script>` blocks, everything else blanked (lines kept)."""
    kept: list[str] = []
    last = 0
    for match in _SCRIPT.finditer(text):
        kept.append(_blank(text[last : match.start(2)]))
        kept.append(match.group(2))
        last = match.end(2)
    kept.append(_blank(text[last:]))
    return "".join(kept)


def _blank(text: str) -> str:
    return re.sub(r"[^\n]", " ", text)


# --- recognising calls -------------------------------------------------------------------------

# How a callee takes its arguments:
#   fetch   (url, {method})        the method from the options, default GET
#   fixed   (url)                  the method is the callee's (axios.get, useSWR, apiGet:GET)
#   axios   ({url, method}) or (url, {method})
#   config  ({url, method})
Style = Literal["fetch", "fixed", "axios", "config"]


@dataclass(frozen=True)
class _Callee:
    names: tuple[str, ...]
    style: Style
    method: str = "GET"

    @property
    def label(self) -> str:
        return ".".join(self.names)


def _builtin_callees() -> list[_Callee]:
    callees = [_Callee((name,), "fetch") for name in ("fetch", "$fetch", "ofetch")]
    callees += [_Callee((name,), "fixed") for name in ("useSWR", "useSWRImmutable")]
    callees += [_Callee(("axios",), "axios"), _Callee(("axios", "request"), "config")]
    callees.append(_Callee(("ky",), "fetch"))
    for verb in ("get", "post", "put", "patch", "delete", "head", "options"):
        callees.append(_Callee(("axios", verb), "fixed", verb.upper()))
        if verb != "options":
            callees.append(_Callee(("ky", verb), "fixed", verb.upper()))
    return callees


BUILTIN_CALLEES: tuple[_Callee, ...] = tuple(_builtin_callees())

# `window.fetch(...)`, `this.api.get(...)`: a callee may hang off these, and nothing else.
_GLOBAL_OWNERS = frozenset({"window", "globalThis", "self", "this"})


def _callees(patterns: Sequence[CallPattern]) -> dict[str, list[_Callee]]:
    """Callees by their first name, the longest (most specific) first."""
    mine = [
        _Callee(tuple(p.name.split(".")), "fixed" if p.method else "fetch", p.method or "GET")
        for p in patterns
    ]
    table: dict[str, list[_Callee]] = {}
    for callee in [*mine, *BUILTIN_CALLEES]:
        table.setdefault(callee.names[0], []).append(callee)
    for entries in table.values():
        entries.sort(key=lambda c: -len(c.names))
    return table


def scan_source(
    text: str,
    file: str,
    patterns: Sequence[CallPattern] = (),
    prefixes: Sequence[str] = DEFAULT_PREFIXES,
) -> list[FrontendCall]:
    """The API calls in one file's source, in order. `file` names it in the results; a `.vue`
    or `.svelte` file is read for its `<script>` blocks only."""
    if file.endswith((".vue", ".svelte")):
        text = _script_only(text)
    tokens = _tokens(text)
    table = _callees(patterns)
    calls = []
    for index, token in enumerate(tokens):
        if token.kind != "name" or token.text not in table or not _standalone(tokens, index):
            continue
        for callee in table[token.text]:
            opening = _call_opening(tokens, index, callee.names)
            if opening is None:
                continue
            arguments = _arguments(tokens, opening)
            for method, parts in _requests(callee, arguments):
                for path in _api_paths(parts, prefixes):
                    calls.append(FrontendCall(method, path, file, token.line, callee.label))
            break
    return calls


def _standalone(tokens: Sequence[_Token], index: int) -> bool:
    # Rule: `fetch(` and `window.fetch(` are the call; `cache.fetch(` or `function fetch(` not.
    if index == 0:
        return True
    before = tokens[index - 1].text
    if before in (".", "?."):
        return index >= 2 and tokens[index - 2].text in _GLOBAL_OWNERS
    return before != "function"


def _call_opening(tokens: Sequence[_Token], index: int, names: tuple[str, ...]) -> int | None:
    """The index of the `(` after `names` (and any `<TypeArguments>`), else None."""
    i = index
    for k, name in enumerate(names):
        if k:
            if i + 2 >= len(tokens) or tokens[i + 1].text not in (".", "?."):
                return None
            i += 2
        if tokens[i].kind != "name" or tokens[i].text != name:
            return None
    i += 1
    if i < len(tokens) and tokens[i].text == "<":  # apiGet<Plan[]>(...)
        depth = 0
        for j in range(i, min(i + 64, len(tokens))):
            depth += {"<": 1, ">": -1}.get(tokens[j].text, 0)
            if depth == 0:
                i = j + 1
                break
        else:
            return None
    if i < len(tokens) and tokens[i].text == "(":
        return i
    return None


_OPEN = {"(": ")", "[": "]", "{": "}"}


def _arguments(tokens: Sequence[_Token], opening: int) -> list[list[_Token]]:
    """The top-level, comma-separated arguments of the call whose `(` is at `opening`."""
    arguments: list[list[_Token]] = [[]]
    depth = 0
    for position in range(opening + 1, len(tokens)):  # not a slice: that copies the rest
        token = tokens[position]
        if token.kind == "punct":
            if token.text in _OPEN:
                depth += 1
            elif token.text in _OPEN.values():
                if depth == 0:
                    break
                depth -= 1
            elif token.text == "," and depth == 0:
                arguments.append([])
                continue
        arguments[-1].append(token)
    return [argument for argument in arguments if argument]


def _requests(
    callee: _Callee, arguments: list[list[_Token]]
) -> Iterator[tuple[str, tuple[str | None, ...]]]:
    """(method, URL pieces) for each URL the call may request."""
    if not arguments:
        return
    first, options = arguments[0], arguments[1] if len(arguments) > 1 else []
    match callee.style:
        case "fixed":
            urls, method = _urls(first), callee.method
        case "fetch":
            urls, method = _urls(first), _method_of(options) or "GET"
        case "axios" if not _is_object(first):
            urls, method = _urls(first), _method_of(options) or "GET"
        case "axios" | "config":
            url = _property(first, "url")
            urls, method = (_urls(url) if url else []), _method_of(first) or "GET"
    for parts in urls:
        yield method, parts


def _is_object(argument: Sequence[_Token]) -> bool:
    return bool(argument) and argument[0].text == "{"


def _top_level(argument: Sequence[_Token]) -> Iterator[tuple[int, _Token]]:
    """The tokens of `argument` outside any brackets, with their positions."""
    depth = 0
    for position, token in enumerate(argument):
        if token.kind == "punct" and token.text in _OPEN:
            depth += 1
        elif token.kind == "punct" and token.text in _OPEN.values():
            depth -= 1
        elif depth == 0:
            yield position, token


def _property(argument: Sequence[_Token], key: str) -> list[_Token] | None:
    """The value tokens of `key: value` in an object literal `{...}` (its own keys only)."""
    if not _is_object(argument):
        return None
    inner = argument[1:-1] if argument[-1].text == "}" else argument[1:]
    for entry in _split(inner, ","):
        if len(entry) >= 3 and entry[0].text.strip("'\"") == key and entry[1].text == ":":
            return entry[2:]
        if len(entry) == 1 and entry[0].text == key:  # shorthand `{url}`: a variable
            return entry
    return None


def _split(tokens: Sequence[_Token], separator: str) -> list[list[_Token]]:
    """`tokens` cut at each top-level `separator` token."""
    cuts = [p for p, t in _top_level(tokens) if t.kind == "punct" and t.text == separator]
    bounds = [-1, *cuts, len(tokens)]
    return [list(tokens[a + 1 : b]) for a, b in itertools.pairwise(bounds)]


def _method_of(options: Sequence[_Token]) -> str | None:
    """The literal `method: 'post'` of an options object, upper-cased; None when absent."""
    value = _property(options, "method")
    if value is None or len(value) != 1 or value[0].kind != "string":
        return None
    parts = value[0].parts
    if len(parts) != 1 or parts[0] is None or not parts[0].isalpha():
        return None
    return parts[0].upper()


# Nesting of `(`, `[`, `?:` and `||` an argument is looked into at most: deeper is no URL a
# person wrote (and recursing further would exhaust Python's stack).
MAX_EXPRESSION_DEPTH = 64


def _urls(argument: Sequence[_Token], depth: int = 0) -> list[tuple[str | None, ...]]:
    """The pieces of each URL an argument expression may evaluate to (see the module doc)."""
    if depth > MAX_EXPRESSION_DEPTH:
        return []
    deeper = depth + 1
    top = [(p, t.text) for p, t in _top_level(argument) if t.kind in ("punct", "name")]
    cast = next((p for p, text in top if text in ("as", "satisfies")), None)
    if cast is not None:  # TypeScript: `url as string`
        return _urls(argument[:cast], deeper)
    if not argument:
        return []
    if argument[0].text == "[" and argument[-1].text == "]":  # a SWR key array: its first item
        return _urls(_split(argument[1:-1], ",")[0], deeper)
    question = next((p for p, text in top if text == "?"), None)
    if question is not None:  # cond ? a : b: each branch may be the URL
        depth = 0
        for position, text in top:
            if position <= question:
                continue
            if text == "?":
                depth += 1
            elif text == ":" and depth == 0:
                return _urls(argument[question + 1 : position], deeper) + _urls(
                    argument[position + 1 :], deeper
                )
            elif text == ":":
                depth -= 1
        return []
    either = next((p for p, text in top if text in ("||", "??")), None)
    if either is not None:  # a || b: either side may be the URL
        return _urls(argument[:either], deeper) + _urls(argument[either + 1 :], deeper)
    both = [p for p, text in top if text == "&&"]
    if both:  # id && `/api/x/${id}`: the last operand is the value
        return _urls(argument[both[-1] + 1 :], deeper)
    pieces: list[str | None] = []
    for operand in _split(argument, "+"):
        pieces.extend(_operand(operand, deeper))
    return [tuple(pieces)]


def _operand(tokens: list[_Token], depth: int) -> tuple[str | None, ...]:
    """A concatenation operand: a string's text, a template's pieces, else an unknown value."""
    if len(tokens) == 1 and tokens[0].kind == "string":
        return tokens[0].parts
    if len(tokens) >= 2 and tokens[0].text == "(" and tokens[-1].text == ")":
        inner = _urls(tokens[1:-1], depth)
        return inner[0] if len(inner) == 1 else (None,)
    return (None,)


_HOLE = "\x00"  # an unknown value inside a path, while it is being worked out


def _api_paths(parts: tuple[str | None, ...], prefixes: Sequence[str]) -> list[str]:
    """The path template a URL's pieces make, if it is an API path (a list of 0 or 1)."""
    text = "".join(_HOLE if p is None else p.replace(_HOLE, "") for p in parts)
    if text.startswith(_HOLE):  # `${API_BASE}/api/x`: the base is dropped before an API path
        text = text.lstrip(_HOLE)
        if not _prefix_of(re.split(r"[?#]", text, maxsplit=1)[0], prefixes):
            return []
    text = re.split(r"[?#]", text, maxsplit=1)[0]
    if not text.startswith("/") or text.startswith("//"):
        return []  # external (https://, //cdn), relative (./x), mailto:, or unknown
    if text.endswith(_HOLE) and text.rstrip(_HOLE)[-1] != "/":
        text = text.rstrip(_HOLE)  # `/api/x${query}`: glued to the end, a query or suffix
    path = "/".join(PLACEHOLDER if _HOLE in s else s for s in text.split("/"))
    prefix = _prefix_of(path, prefixes)
    if prefix is None:
        return []
    rest = [s for s in path[len(prefix) :].split("/") if s]
    if rest and all(s == PLACEHOLDER for s in rest):
        return []  # `/api/${path}`: too dynamic to check
    return [path]


def _prefix_of(path: str, prefixes: Sequence[str]) -> str | None:
    """The longest of `prefixes` that `path` is under, segment-wise (`/api` holds `/api/x`)."""
    found = [
        p
        for p in (prefix.rstrip("/") for prefix in prefixes)
        if path == p or path.startswith(p + "/") or p == ""
    ]
    return max(found, key=len) if found else None


def source_files(folder: Path) -> Iterator[Path]:
    """The source files under `folder`, in a stable order, skipping generated folders."""
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d not in SKIPPED_DIRS)
        for name in sorted(files):
            if name.endswith(SOURCE_SUFFIXES) and not name.endswith(".d.ts"):
                yield Path(root) / name


def _read_source(path: Path) -> str | None:
    """A regular file's text; None for anything else (a FIFO, a device such as a link to
    /dev/zero: reading them blocks or never ends), an unreadable file, or one larger than
    `MAX_FILE_BYTES` (a bundle). Never reads more than that."""
    try:
        # Non-blocking: opening a FIFO for reading would otherwise wait for a writer.
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        return None
    with os.fdopen(fd, "rb") as file:
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                return None
            data = file.read(MAX_FILE_BYTES + 1)
        except OSError:
            return None
    if len(data) > MAX_FILE_BYTES:
        return None
    # Universal newlines, as a file read as text has: lines are counted at "\n".
    text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def scan(
    folder: Path,
    patterns: Sequence[CallPattern] = (),
    prefixes: Sequence[str] = DEFAULT_PREFIXES,
) -> Scan:
    """Every API call in the source files under `folder` (see `scan_source`)."""
    calls: list[FrontendCall] = []
    files = 0
    for path in source_files(folder):
        text = _read_source(path)
        if text is None:
            continue
        files += 1
        calls += scan_source(text, path.relative_to(folder).as_posix(), patterns, prefixes)
    return Scan(tuple(calls), files)


# --- matching against the backend --------------------------------------------------------------


@dataclass(frozen=True)
class Matched:
    """The backend serves the call: `route` as the backend writes it."""

    route: str
    kind: Literal["match"] = "match"


@dataclass(frozen=True)
class Mismatched:
    """The backend does not serve the call: why, and what it serves instead."""

    diagnosis: Diagnosis
    kind: Literal["mismatch"] = "mismatch"


Outcome = Matched | Mismatched


@dataclass(frozen=True)
class Entry:
    """One distinct `method path` the frontend calls, every place it is called, the outcome."""

    method: str
    path: str
    calls: tuple[FrontendCall, ...]
    outcome: Outcome

    @property
    def module(self) -> str:
        return module_of(self.path)

    @property
    def where(self) -> str:
        return ", ".join(call.where for call in self.calls)


@dataclass(frozen=True)
class Xref:
    """The cross-reference: every distinct call in first-seen (file, line) order."""

    frontend: str
    backend: str
    entries: tuple[Entry, ...]
    files: int = 0
    inventory: Inventory = field(default_factory=lambda: Inventory(()), compare=False)

    @property
    def matched(self) -> list[Entry]:
        return [e for e in self.entries if isinstance(e.outcome, Matched)]

    @property
    def mismatched(self) -> list[Entry]:
        """Mismatches grouped by module, then by path and method."""
        found = [e for e in self.entries if isinstance(e.outcome, Mismatched)]
        return sorted(found, key=lambda e: (e.module, e.path, e.method))

    @property
    def call_sites(self) -> int:
        return sum(len(e.calls) for e in self.entries)

    @property
    def summary(self) -> str:
        """`14 calls, 6 match, 8 mismatches across 6 modules`."""
        modules = len({e.module for e in self.mismatched})
        return (
            f"{_count(len(self.entries), 'call')}, {len(self.matched)} match, "
            f"{_count(len(self.mismatched), 'mismatch', 'mismatches')} across "
            f"{_count(modules, 'module')}"
        )

    @property
    def exit_code(self) -> int:
        """0 when every call is served, 1 when any is not."""
        return 1 if self.mismatched else 0


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


# What an expression in a path stands for when a call is matched and diagnosed: the browser
# sends a value there, most often an id, so the call is judged with an id-like sample value.
_SAMPLE = "1000000001"


def judge(method: str, path: str, inventory: Inventory) -> Outcome:
    """Whether the backend serves `method path` (a frontend template), and if not, why not.

    Each `{param}` is judged as the id-like value the browser would send in its place. A
    route whose parameter takes a literal word of the call (`/api/recordings/{id}` for
    `/api/recordings/latest`) serves it when no rule finds a closer explanation, such as an
    extra segment (`mismatch.diagnose` then says `resource_not_found`).
    """
    sent = path.replace(PLACEHOLDER, _SAMPLE)
    served = inventory.serving(method, sent)
    diagnosis = diagnose(Call(method, sent), inventory)
    if served and diagnosis.cause == "resource_not_found":
        return Matched(_shown_route(inventory, served))
    return Mismatched(_restored(diagnosis))


def _restored(diagnosis: Diagnosis) -> Diagnosis:
    """The diagnosis with the sample value written as `{param}` again."""

    def back(text: str) -> str:
        return text.replace(_SAMPLE, PLACEHOLDER)

    return diagnosis.model_copy(
        update={
            "detail": back(diagnosis.detail),
            "suggestions": tuple(back(s) for s in diagnosis.suggestions),
        }
    )


def _shown_route(inventory: Inventory, served: list[Route]) -> str:
    # The most specific route: the one with the most literal segments.
    best = max(served, key=lambda r: sum(s != PARAM for s in r.segments))
    return f"{best.method} {inventory.shown(best.template)}"


def cross_reference(
    found: Scan, inventory: Inventory, *, frontend: str = "", backend: str = ""
) -> Xref:
    """Match every distinct call of `found` against `inventory` (see `judge`)."""
    grouped: dict[tuple[str, str], list[FrontendCall]] = {}
    for call in found.calls:
        grouped.setdefault((call.method, call.path), []).append(call)
    entries = tuple(
        Entry(method, path, tuple(calls), judge(method, path, inventory))
        for (method, path), calls in grouped.items()
    )
    return Xref(frontend, backend or inventory.source, entries, found.files, inventory)


# --- where the backend's routes come from ------------------------------------------------------


def inventory_prefixes(inventory: Inventory) -> tuple[str, ...]:
    """The backend's top-level segments (`/api`, `/v1`, `/health`): paths worth checking."""
    firsts = (segments(t)[:1] for t in inventory.templates())
    return tuple(sorted({"/" + first[0] for first in firsts if first and first[0] != PARAM}))


def load_backend(source: str, timeout: float = 30.0) -> Inventory:
    """The backend's routes from SOURCE: an OpenAPI/Swagger file or http(s) URL, a route list,
    or a manifest (its `inventory:` when it has one, else the routes its checks expect to be
    served). Documents on the network are fetched through `engine`, a path on a manifest's
    target from its live base URL or in-process app. Raises a `CrawlerError`.
    """
    if source.startswith(("http://", "https://")):
        return _openapi_at(None, source, timeout, redact.url(source))
    path = Path(source)
    if not path.is_file():
        raise InventoryError(
            f"--backend {source}: no such file; give an OpenAPI document, a route list, "
            "a manifest or an http(s) URL."
        )
    if path.suffix in (".yaml", ".yml", ".json"):
        try:
            document = load_document(path.read_text(encoding="utf-8"), source)
        except (OSError, UnicodeDecodeError) as exc:
            raise InventoryError(f"{source}: cannot be read ({exc}).") from None
        if "paths" not in document and "groups" in document:
            return _from_manifest_file(path, timeout)
        if "paths" not in document:
            raise InventoryError(
                f"{source}: neither an OpenAPI document (no paths) nor a manifest (no groups)."
            )
    return load_file(path)


def _from_manifest_file(path: Path, timeout: float) -> Inventory:
    from crawler import manifest as manifest_mod
    from crawler.engine import Target
    from crawler.runner import inventory_place

    loaded = manifest_mod.load(path)
    place = inventory_place(loaded, path, None)
    if place is None:
        return from_checks(loaded, str(path))
    if place.kind == "file":
        return load_file(place.location)
    # The manifest's own secrets (`?token=${API_TOKEN}`) are hidden in the label as well.
    hidden = redact.Redactor(loaded.secrets)
    if place.kind == "url":
        return _openapi_at(None, place.location, timeout, hidden.url(place.location))
    if not (loaded.app or loaded.base_url):
        raise InventoryError(
            f"{path}: inventory openapi {place.location} is a path on the target, but the "
            "manifest has no app or base_url to fetch it from."
        )
    target = Target(base_url=loaded.base_url, app=loaded.app)
    label = f"{path}: {hidden.url(place.location)} on {hidden.url(target.label)}"
    return _openapi_at(target, place.location, timeout, label)


def from_checks(loaded: Manifest, source: str = "manifest") -> Inventory:
    """The routes a manifest's checks expect to be served: every check not expecting 404."""
    routes = []
    for group in loaded.groups.values():
        for check in group.checks:
            expects = check.expect.values() if isinstance(check.expect, dict) else [check.expect]
            if any(not e.matches(404) for e in expects):
                routes.append(Route.of(check.method, check.path))
    return Inventory(tuple(dict.fromkeys(routes)), f"{source} (its checks)")


def _openapi_at(target: Target | None, location: str, timeout: float, label: str = "") -> Inventory:
    """Fetch an OpenAPI document (a URL, or a path on `target`) through `engine`.

    `label` names it in messages and as the inventory's source: never its credentials.
    """
    from crawler import engine

    label = label or redact.url(location)
    text, problem = engine.fetch_document(location, target, timeout)
    if text is None:
        problem = redact.Redactor(redact.url_secrets(location)).text(str(problem))
        raise InventoryError(f"{label}: the OpenAPI document could not be read: {problem}.")
    return from_openapi(load_document(text, label), label)


# --- reports -----------------------------------------------------------------------------------


def _backend_has(outcome: Outcome) -> list[str]:
    if isinstance(outcome, Matched):
        return [outcome.route]
    return list(outcome.diagnosis.suggestions)


def render_markdown(xref: Xref) -> str:
    """`xref.md`: the summary, the mismatch table (by module), then the matched calls."""

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")

    def code(text: str) -> str:
        return f"`{cell(text)}`"

    lines = [
        "# Frontend -> backend cross-reference",
        "",
        f"**{xref.summary}**",
        "",
        f"Frontend `{cell(xref.frontend)}`: {_count(xref.call_sites, 'call site')} in "
        f"{_count(xref.files, 'file')}. Backend: `{cell(xref.backend)}` "
        f"({_count(len(xref.inventory), 'route')}).",
        "",
    ]
    if xref.mismatched:
        lines += [
            "## Mismatches",
            "",
            "| Method | Frontend calls | Backend has | Cause | Where |",
            "|---|---|---|---|---|",
        ]
        for entry in xref.mismatched:
            assert isinstance(entry.outcome, Mismatched)
            has = ", ".join(code(s) for s in _backend_has(entry.outcome)) or "nothing"
            where = ", ".join(code(c.where) for c in entry.calls)
            lines.append(
                f"| {entry.method} | {code(entry.path)} | {has} | "
                f"{cell(entry.outcome.diagnosis.detail)} | {where} |"
            )
        lines.append("")
    if xref.matched:
        lines += [
            "## Matched calls",
            "",
            "| Method | Frontend calls | Backend route | Where |",
            "|---|---|---|---|",
        ]
        for entry in xref.matched:
            where = ", ".join(code(c.where) for c in entry.calls)
            route = _backend_has(entry.outcome)[0]
            lines.append(f"| {entry.method} | {code(entry.path)} | {code(route)} | {where} |")
        lines.append("")
    if not xref.entries:
        lines += ["No API calls found.", ""]
    return "\n".join(lines)


def _call_record(call: FrontendCall, entry: Entry) -> dict[str, object]:
    record: dict[str, object] = {
        "file": call.file,
        "line": call.line,
        "method": call.method,
        "path": call.path,
        "via": call.via,
        "module": entry.module,
        "status": entry.outcome.kind,
    }
    if isinstance(entry.outcome, Matched):
        record["route"] = entry.outcome.route
    else:
        diagnosis = entry.outcome.diagnosis
        record.update(
            cause=diagnosis.cause, detail=diagnosis.detail, suggestions=list(diagnosis.suggestions)
        )
    return record


def render_json(xref: Xref) -> str:
    """`xref.json`: the summary and every call site (file, line, method, path, outcome),
    in file and line order."""
    records = sorted(
        (_call_record(call, entry) for entry in xref.entries for call in entry.calls),
        key=lambda r: (str(r["file"]), int(str(r["line"]))),
    )
    document = {
        "schema": XREF_SCHEMA,
        "frontend": xref.frontend,
        "backend": xref.backend,
        "summary": {
            "text": xref.summary,
            "calls": len(xref.entries),
            "matched": len(xref.matched),
            "mismatched": len(xref.mismatched),
            "modules": len({e.module for e in xref.mismatched}),
            "call_sites": xref.call_sites,
            "files": xref.files,
        },
        "calls": records,
    }
    return json.dumps(document, indent=2) + "\n"


_HTML = """\
<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Frontend cross-reference: {{ xref.summary }}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 2rem; color: #1f2328; }
table { border-collapse: collapse; margin: 1rem 0 2rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
code { font: 12.5px ui-monospace, monospace; }
.summary { font-size: 1.1rem; font-weight: 600; }
.bad { color: #b42318; } .good { color: #1a7f37; }
.cause { white-space: nowrap; font-weight: 600; }
</style>
</head>
<body>
<h1>Frontend &rarr; backend cross-reference</h1>
<p class="summary {{ 'bad' if xref.mismatched else 'good' }}">{{ xref.summary }}</p>
<p>Frontend <code>{{ xref.frontend }}</code>: {{ sites }} in {{ files }}.
Backend <code>{{ xref.backend }}</code> ({{ routes }}).</p>
{% if xref.mismatched %}
<h2>Mismatches</h2>
<table>
<thead><tr><th>Method</th><th>Frontend calls</th><th>Backend has</th><th>Cause</th>
<th>Where</th></tr></thead>
<tbody>
{% for entry in xref.mismatched %}
<tr>
<td>{{ entry.method }}</td>
<td><code>{{ entry.path }}</code></td>
<td>{% for route in entry.outcome.diagnosis.suggestions %}<code>{{ route }}</code><br>
{% else %}nothing{% endfor %}</td>
<td><span class="cause">{{ entry.outcome.diagnosis.cause }}</span><br>
{{ entry.outcome.diagnosis.detail }}</td>
<td>{% for call in entry.calls %}<code>{{ call.where }}</code><br>{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% if xref.matched %}
<h2>Matched calls</h2>
<table>
<thead><tr><th>Method</th><th>Frontend calls</th><th>Backend route</th><th>Where</th></tr>
</thead>
<tbody>
{% for entry in xref.matched %}
<tr>
<td>{{ entry.method }}</td>
<td><code>{{ entry.path }}</code></td>
<td><code>{{ entry.outcome.route }}</code></td>
<td>{% for call in entry.calls %}<code>{{ call.where }}</code><br>{% endfor %}</td>
</tr>
{% endfor %}
</tbody>
</table>
{% endif %}
{% if not xref.entries %}<p>No API calls found.</p>{% endif %}
</body>
</html>
"""


@cache
def _environment() -> Environment:
    from jinja2 import Environment, StrictUndefined

    # Autoescape: file names and paths come from source we do not control.
    return Environment(autoescape=True, undefined=StrictUndefined, keep_trailing_newline=True)


def render_html(xref: Xref) -> str:
    """`xref.html`: one self-contained page (no scripts, no fetches), everything escaped."""
    return (
        _environment()
        .from_string(_HTML)
        .render(
            xref=xref,
            sites=_count(xref.call_sites, "call site"),
            files=_count(xref.files, "file"),
            routes=_count(len(xref.inventory), "route"),
        )
    )


def render_terminal(xref: Xref) -> str:
    """The mismatches, one line each with where they are called, then the summary line."""
    lines = []
    for entry in xref.mismatched:
        assert isinstance(entry.outcome, Mismatched)
        diagnosis = entry.outcome.diagnosis
        instead = f" -> {', '.join(diagnosis.suggestions)}" if diagnosis.suggestions else ""
        lines.append(
            f"MISMATCH {entry.method} {entry.path}: {diagnosis.detail}{instead}  ({entry.where})"
        )
    lines.append(xref.summary)
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class XrefFormat:
    """An xref report format: its name, the file it is written to, its renderer."""

    name: str
    filename: str
    render: Callable[[Xref], str]


FORMATS: dict[str, XrefFormat] = {
    f.name: f
    for f in (
        XrefFormat("md", "xref.md", render_markdown),
        XrefFormat("html", "xref.html", render_html),
        XrefFormat("json", "xref.json", render_json),
    )
}


# --- a manifest of the frontend's calls --------------------------------------------------------


def emit_manifest(xref: Xref, name: str = "", inventory: tuple[str, str] | None = None) -> str:
    """A manifest (YAML) with one check per distinct call, grouped by module.

    GET expects 200; other methods expect 2xx and are not marked `safe`, so the mutation
    guard keeps them unsent unless the run says `--allow-mutations`. Each `{param}` becomes
    a `{TODO_name}` placeholder, named after the backend route's parameter when the call
    matched one (`/api/recordings/{TODO_id}`): the check is SKIPped ("capture missing")
    until you write a value in or capture one at login. `inventory` (`("openapi", where)` or
    `("routes", where)`, see `backend_reference`) becomes the manifest's `inventory:`, so
    `crawler run` diagnoses the 404s a live backend answers.
    """
    groups: dict[str, list[Entry]] = {}
    for entry in sorted(xref.entries, key=lambda e: (e.module, e.path, e.method)):
        groups.setdefault(entry.module, []).append(entry)
    title = name or f"Frontend calls ({xref.frontend})"
    lines = [
        f"# Generated by `crawler xref` from {xref.frontend}: one check per API call it makes.",
        "# Replace each {TODO_...} with a value (or capture it at login), then crawl with",
        "#   crawler run THIS_FILE --base-url https://your.backend",
        "# POST, PUT, PATCH and DELETE checks are sent only with --allow-mutations or safe: true.",
        "version: 1",
        f"name: {json.dumps(title)}",
        "# base_url: ${BASE_URL:-http://127.0.0.1:8000}",
    ]
    if inventory is not None:
        kind, where = inventory
        needed = re.findall(r"(?<!\$)\$\{(\w+)\}", where)
        if needed:
            lines.append(
                f"# inventory: export {', '.join(needed)} (the backend URL's credentials, "
                "not written here)"
            )
        lines.append(f"inventory: {{{kind}: {json.dumps(where)}}}")
    lines.append("groups:")
    for module, entries in groups.items():
        lines.append(f"  {json.dumps(module)}:")
        for entry in entries:
            lines.append(f"    # {entry.where}")
            if isinstance(entry.outcome, Mismatched):
                diagnosis = entry.outcome.diagnosis
                lines.append(f"    # xref: {diagnosis.cause}: {diagnosis.detail}")
            expect = "200" if entry.method == "GET" else '"2xx"'
            path = json.dumps(_manifest_path(entry))
            lines.append(f"    - {{method: {entry.method}, path: {path}, expect: {expect}}}")
    return "\n".join(lines) + "\n"


def for_live_run(text: str, identities_from: Path | None, backend: str) -> str:
    """The emitted manifest, ready for `xref --live`: sent as `identities_from`'s identities
    (as written there, so its `${ENV}` credentials are read when the result is loaded), and
    diagnosed against the backend manifest's `inventory:` when the backend is a manifest."""
    import yaml

    data = yaml.safe_load(text)
    if identities_from is not None:
        identities = _manifest_data(identities_from, "--identities-from").get("identities")
        if not identities:
            raise InventoryError(f"--identities-from {identities_from}: it defines no identities.")
        data["identities"] = identities
    if "inventory" not in data and Path(backend).suffix in (".yaml", ".yml"):
        source = _manifest_data(Path(backend), "--backend")
        if isinstance(source.get("inventory"), dict) and "groups" in source:
            data["inventory"] = _relocated(source["inventory"], Path(backend).parent)
    header = "".join(line + "\n" for line in text.splitlines() if line.startswith("#"))
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _manifest_data(path: Path, option: str) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InventoryError(f"{option} {path}: cannot be read ({exc}).") from None
    except RecursionError:
        raise InventoryError(f"{option} {path}: nested too deeply to be a manifest.") from None
    return data if isinstance(data, dict) else {}


def _relocated(inventory: dict[str, Any], folder: Path) -> dict[str, Any]:
    # Files named in the backend manifest are relative to its folder; paths on the target
    # (`/openapi.json`) and URLs stay as they are.
    moved = {}
    for kind, where in inventory.items():
        text = str(where)
        is_file = kind == "routes" or not text.startswith(("/", "http://", "https://"))
        moved[kind] = str((folder / text).resolve()) if is_file else text
    return moved


# The environment variables that stand for a backend URL's credentials in a manifest.
BACKEND_ENV_PREFIX = "INVENTORY"


def backend_reference(source: str, manifest: Path) -> tuple[str, str] | None:
    """How a manifest written to `manifest` names the backend SOURCE as its `inventory:`:
    `("openapi", URL or path)` or `("routes", path)`, paths relative to the manifest's
    folder; None for a manifest SOURCE (its own inventory stays with it).

    A URL's password and secret query values are written as `${INVENTORY_...}`
    placeholders, never as themselves (`backend_environ` has their values).
    """
    if source.startswith(("http://", "https://")):
        return "openapi", redact.url_as_env(source, BACKEND_ENV_PREFIX)[0]
    path = Path(source)
    where = Path(os.path.relpath(path.resolve(), manifest.resolve().parent)).as_posix()
    if path.suffix in (".yaml", ".yml", ".json"):
        try:
            document = load_document(path.read_text(encoding="utf-8"), source)
        except (OSError, UnicodeDecodeError, InventoryError):
            return None
        return ("openapi", where) if "paths" in document else None
    return "routes", where


def backend_environ(source: str) -> dict[str, str]:
    """The values of the placeholders `backend_reference` writes for SOURCE (for `--live`,
    which loads the manifest it writes at once); empty for anything but a URL."""
    if not source.startswith(("http://", "https://")):
        return {}
    return redact.url_as_env(source, BACKEND_ENV_PREFIX)[1]


def _manifest_path(entry: Entry) -> str:
    """The call's path with each `{param}` as a `{TODO_name}` placeholder (see `emit_manifest`)."""
    names: Sequence[str] = ()
    if isinstance(entry.outcome, Matched):
        shown = entry.outcome.route.split(" ", 1)[1]
        names = [s for s in shown.split("/") if s]
    used: dict[str, int] = {}
    out = []
    for position, part in enumerate(s for s in entry.path.split("/") if s):
        if part != PLACEHOLDER:
            out.append(part)
            continue
        backend = names[position] if position < len(names) else ""
        named = re.fullmatch(r"\{(\w+)\}", backend)
        base = named.group(1) if named else "param"
        used[base] = used.get(base, 0) + 1
        out.append(f"{{TODO_{base}{used[base] if used[base] > 1 else ''}}}")
    trailing = "/" if entry.path.endswith("/") and len(entry.path) > 1 else ""
    return "/" + "/".join(out) + trailing


def parse_patterns(values: Iterable[str]) -> list[CallPattern]:
    """`--call-pattern` values as `CallPattern`s; a bad one is a `UsageError`."""
    try:
        return [CallPattern.parse(value) for value in values]
    except ValueError as exc:
        raise UsageError(f"--call-pattern {exc}") from None
