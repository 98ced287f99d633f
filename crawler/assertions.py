"""Body assertions: what a check's `assert:` says of an answer, and pure rules that judge it.

A check may assert on the body, headers and size of the answer, not only its status::

    - method: GET
      path: /api/billing/invoices
      assert:
        json:                                   # JSONPath -> conditions, all must hold
          "$.invoices": {type: array, len: "> 0"}
          "$.invoices[*].id": {matches: "^inv_"}
          "$.orgId": {equals: "{org_id}"}       # a value the identity's login captured
        contains: "invoices"                    # text (or a list of texts) in the body
        not_contains: ["lorem ipsum"]
        headers: {content-type: ^application/json}   # ^... is a regex, else exact
        max_bytes: 65536
        schema: {from: openapi}                 # or an inline JSON Schema

`evaluate` returns every assertion that failed, as `Failure(where, expected, got)` whose
text reads `$.items: expected len > 0, got 0`. Assertions apply to answers whose status
the check expects; when the check expects a 2xx of anyone, to the 2xx answers only (an
expected 401 of anonymous is not the data). `bind_openapi` gives `schema: {from: openapi}`
the documented response schemas of the check's operation, before the crawl.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    WithJsonSchema,
    field_validator,
    model_validator,
)

JsonType = Literal["array", "object", "string", "number", "bool", "null"]

_LEN = re.compile(r"^\s*(==|!=|>=|<=|>|<)?\s*(\d+)\s*$")
_LEN_HELP = 'write it as "> 0", "== 3", ">= 1" or a number'

# How much of an actual value a failure shows.
SHOWN = 60


def parse_len(value: object) -> tuple[str, int]:
    """`"> 0"` -> `(">", 0)`; a bare number `3` means `== 3`."""
    if isinstance(value, bool):
        raise ValueError(f"{json.dumps(value)} is not a length condition; {_LEN_HELP}")
    if isinstance(value, int):
        return "==", value
    match = _LEN.match(value) if isinstance(value, str) else None
    if match is None:
        raise ValueError(f"{json.dumps(value)} is not a length condition; {_LEN_HELP}")
    return match[1] or "==", int(match[2])


_COMPARE: dict[str, Callable[[int, int], bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">=": lambda a, b: a >= b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    "<": lambda a, b: a < b,
}


def _compiled(pattern: str) -> str:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regex {json.dumps(pattern)} does not compile: {exc}") from None
    return pattern


class JsonCondition(BaseModel):
    """What must hold of the values a JSONPath finds (every one of them)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    exists: bool | None = Field(default=None, description="true: it must match; false: must not.")
    equals: Any = Field(default=None, description='A value; "{name}" is a captured value.')
    type: JsonType | None = None
    len: str | int | None = Field(default=None, description='"> 0", "== 3" or a number.')
    matches: str | None = Field(default=None, description="A regex searched in the value.")

    @field_validator("len")
    @classmethod
    def _len_parses(cls, value: str | int | None) -> str | int | None:
        if value is not None:
            parse_len(value)
        return value

    @field_validator("matches")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        return _compiled(value) if value is not None else None

    @model_validator(mode="after")
    def _something(self) -> JsonCondition:
        if not self.model_fields_set:
            raise ValueError("an empty condition; use exists, equals, type, len or matches")
        return self


def _jsonpath(path: str) -> str:
    import jsonpath  # lazy: `crawler --help` stays fast

    if not path.startswith("$"):
        raise ValueError(f"{json.dumps(path)} is not a JSONPath; start it with $")
    try:
        jsonpath.compile(path)
    except jsonpath.JSONPathError as exc:
        problem = str(exc).splitlines()[0]
        raise ValueError(f"{json.dumps(path)} is not a valid JSONPath: {problem}") from None
    return path


class SchemaSpec(BaseModel):
    """`schema:`: an inline JSON Schema, or `{from: openapi}` for the documented one."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    source: Literal["inline", "openapi"] = "inline"
    inline: dict[str, Any] | None = None
    # Filled by `bind_openapi`: the operation's response schemas by status key ("200",
    # "2XX", "default"), or why there are none.
    documented: dict[str, dict[str, Any]] | None = None
    problem: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shape(cls, data: object) -> object:
        from jsonschema import (  # lazy: `crawler --help` stays fast
            Draft202012Validator,
            SchemaError,
        )

        if isinstance(data, dict) and set(data) == {"from"}:
            if data["from"] != "openapi":
                raise ValueError(
                    f"schema from {json.dumps(data['from'])}: the only source is openapi"
                )
            return {"source": "openapi"}
        if isinstance(data, dict) and "from" in data:  # `from` is not a JSON Schema keyword
            others = ", ".join(sorted(str(k) for k in data if k != "from"))
            raise ValueError(
                f"{{from: openapi}} takes nothing else (found {others}); "
                "write an inline JSON Schema instead"
            )
        if isinstance(data, dict) and "source" not in data:
            try:
                Draft202012Validator.check_schema(data)
            except SchemaError as exc:
                raise ValueError(f"not a valid JSON Schema: {exc.message}") from None
            return {"inline": data}
        if isinstance(data, bool):
            raise ValueError("a schema is a JSON Schema mapping or {from: openapi}")
        return data


# What the manifest's JSON Schema says of `schema:` (as written, not as `SchemaSpec` holds it).
_SCHEMA_SPEC_SCHEMA: dict[str, Any] = {
    "description": "An inline JSON Schema for the body, or {from: openapi} for the documented one.",
    "anyOf": [
        {
            "type": "object",
            "properties": {"from": {"const": "openapi"}},
            "required": ["from"],
            "additionalProperties": False,
        },
        {"type": "object", "not": {"required": ["from"]}},  # an inline JSON Schema
        {"type": "null"},
    ],
}


class Assertions(BaseModel):
    """A check's `assert:` block. See the module docstring."""

    json_: dict[str, JsonCondition] = Field(
        default_factory=dict, alias="json", description="JSONPath -> conditions."
    )
    contains: tuple[str, ...] = Field(default=(), description="Texts the body must contain.")
    not_contains: tuple[str, ...] = Field(default=(), description="Texts it must not.")
    headers: dict[str, str] = Field(
        default_factory=dict, description="Header -> exact value, or a regex starting with ^."
    )
    max_bytes: int | None = Field(default=None, gt=0, description="Body size at most.")
    schema_: Annotated[SchemaSpec | None, WithJsonSchema(_SCHEMA_SPEC_SCHEMA)] = Field(
        default=None, alias="schema", description="A JSON Schema, or {from: openapi}."
    )

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    @field_validator("contains", "not_contains", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return (value,) if isinstance(value, str) else value

    @field_validator("json_", mode="before")
    @classmethod
    def _paths_compile(cls, value: object) -> object:
        if isinstance(value, dict):
            for path in value:
                _jsonpath(str(path))
        return value

    @field_validator("headers")
    @classmethod
    def _header_regexes(cls, value: dict[str, str]) -> dict[str, str]:
        for expected in value.values():
            if expected.startswith("^"):
                _compiled(expected)
        return value


@dataclass(frozen=True)
class Failure:
    """One assertion that did not hold: where, what was expected, what came back."""

    where: str
    expected: str
    got: str

    def __str__(self) -> str:
        return f"{self.where}: expected {self.expected}, got {self.got}"


# Fills `{name}` placeholders with captured values; None when a value is missing.
Fill = Callable[[str], str | None]


def _no_fill(text: str) -> str | None:
    return text


@dataclass(frozen=True)
class Answer:
    """What assertions look at: status, headers, the body as read, and whether it was cut."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    size: int
    truncated: bool = False


def applies(expected_2xx: bool, status: int) -> bool:
    """Rule: when a check expects a 2xx of anyone, only 2xx answers are asserted on (an
    expected 401 or 403 is not the data); otherwise every expected answer is."""
    return 200 <= status < 300 or not expected_2xx


def evaluate(spec: Assertions, answer: Answer, fill: Fill = _no_fill) -> list[Failure]:
    """Every assertion of `spec` that `answer` fails, in the order written (none: all hold)."""
    failures: list[Failure] = []
    text = answer.body.decode("utf-8", errors="replace")
    for header, expected in spec.headers.items():
        failures += _header(header, expected, answer.headers)
    for wanted in spec.contains:
        if wanted not in text:
            failures.append(Failure("body", f"to contain {_shown(wanted)}", "no such text"))
    for unwanted in spec.not_contains:
        if unwanted in text:
            failures.append(Failure("body", f"not to contain {_shown(unwanted)}", "it does"))
    if spec.max_bytes is not None and answer.size > spec.max_bytes:
        # Rule: a body cut at the cap is longer than what was read; one cut before
        # `max_bytes` (a limit over 16 MiB) is not known to break it, so it is not judged.
        got = f"more than {answer.size} bytes" if answer.truncated else f"{answer.size} bytes"
        failures.append(Failure("body", f"at most {spec.max_bytes} bytes", got))
    if spec.json_ or spec.schema_ is not None:
        failures += _json_failures(spec, answer, text, fill)
    return failures


def _json_failures(spec: Assertions, answer: Answer, text: str, fill: Fill) -> list[Failure]:
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # RecursionError: nested deeper than Python parses
        where = next(iter(spec.json_), "schema")
        if answer.truncated:
            # Rule: a body cut at the cap is not invalid JSON; say why it was not judged.
            got = f"a body cut at {answer.size} bytes (over the cap): not evaluated"
            return [Failure(where, "a whole JSON body", got)]
        content_type = next(
            (v for k, v in answer.headers.items() if k.lower() == "content-type"), ""
        )
        return [Failure(where, "a JSON body", f"{content_type or 'text'} that is not JSON")]
    failures: list[Failure] = []
    for path, condition in spec.json_.items():
        failures += _condition(path, condition, data, fill)
    if spec.schema_ is not None:
        failures += _schema(spec.schema_, answer.status, data)
    return failures


def _header(name: str, expected: str, headers: Mapping[str, str]) -> list[Failure]:
    got = next((v for k, v in headers.items() if k.lower() == name.lower()), None)
    where = f"header {name}"
    if got is None:
        return [Failure(where, expected, "no such header")]
    ok = re.search(expected, got) is not None if expected.startswith("^") else got == expected
    return [] if ok else [Failure(where, expected, _shown(got))]


def _condition(path: str, condition: JsonCondition, data: Any, fill: Fill) -> list[Failure]:
    import jsonpath  # lazy: `crawler --help` stays fast

    values = [match.obj for match in jsonpath.finditer(path, data)]
    if condition.exists is False:
        return [Failure(path, "no match", _shown(values[0]))] if values else []
    if not values:
        return [Failure(path, "to exist", "no match")]
    failures: list[Failure] = []
    for value in values:
        failure = _one(path, condition, value, fill)
        if failure is not None:
            failures.append(failure)
            break  # the first value that fails says enough
    return failures


def _one(path: str, condition: JsonCondition, value: Any, fill: Fill) -> Failure | None:
    if condition.type is not None and type_of(value) != condition.type:
        return Failure(path, f"type {condition.type}", f"{type_of(value)} {_shown(value)}")
    if "equals" in condition.model_fields_set:
        expected = condition.equals
        if isinstance(expected, str) and "{" in expected:
            filled = fill(expected)
            if filled is None:
                return Failure(path, _shown(expected), "no captured value to compare with")
            # A captured value is text: compare the value as text (`1` equals "{user_id}").
            if filled != (value if isinstance(value, str) else json.dumps(value)):
                return Failure(path, _shown(filled), _shown(value))
        elif not _equal(value, expected):
            return Failure(path, _shown(expected), _shown(value))
    if condition.len is not None:
        op, bound = parse_len(condition.len)
        if not isinstance(value, list | dict | str):
            return Failure(path, f"len {op} {bound}", f"{type_of(value)} {_shown(value)}")
        if not _COMPARE[op](len(value), bound):
            return Failure(path, f"len {op} {bound}", str(len(value)))
    if condition.matches is not None:
        shown = value if isinstance(value, str) else json.dumps(value)
        if re.search(condition.matches, shown) is None:
            return Failure(path, f"to match {condition.matches}", _shown(value))
    return None


def _equal(value: Any, expected: Any) -> bool:
    # True is not 1 here, as in JSON.
    if isinstance(value, bool) or isinstance(expected, bool):
        return type(value) is type(expected) and value == expected
    return bool(value == expected)


def type_of(value: Any) -> JsonType:
    """The JSON type of a decoded value: `array`, `object`, `string`, `number`, `bool`, `null`."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _shown(value: Any) -> str:
    """A value as JSON, cut to `SHOWN` characters."""
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= SHOWN else text[: SHOWN - 1] + "…"


def _schema(spec: SchemaSpec, status: int, data: Any) -> list[Failure]:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import best_match  # lazy: `crawler --help` stays fast

    schema = spec.inline if spec.source == "inline" else _documented(spec, status)
    if isinstance(schema, Failure):
        return [schema]
    if schema is None:
        return []
    error = best_match(Draft202012Validator(schema).iter_errors(data))
    if error is None:
        return []
    where = f"schema at {error.json_path}"
    return [
        Failure(where, _cut(_expected(error.validator, error.validator_value)), _cut(error.message))
    ]


def _expected(keyword: object, value: object) -> str:
    shown = json.dumps(value, default=str) if not isinstance(value, dict) else "the subschema"
    return f"{keyword} {shown}"


def _cut(text: str, size: int = 2 * SHOWN) -> str:
    return text if len(text) <= size else text[: size - 1] + "…"


def _documented(spec: SchemaSpec, status: int) -> dict[str, Any] | Failure | None:
    if spec.documented is None:
        why = spec.problem or "no OpenAPI document (set inventory: {openapi: ...})"
        return Failure("schema", "the documented response schema", why)
    for key in (str(status), f"{status // 100}XX", f"{status // 100}xx", "default"):
        if key in spec.documented:
            return spec.documented[key]
    return Failure(
        "schema", f"a documented JSON schema for {status}", "none in the OpenAPI document"
    )


# --- binding `schema: {from: openapi}` to the document ------------------------------------------


def response_schemas(document: Mapping[str, Any], method: str, path: str) -> dict[str, Any] | str:
    """The JSON response schemas the OpenAPI (3.x or Swagger 2) `document` gives the operation
    serving `method path`, by status key; or why there are none.

    Each schema is made standalone: `$ref`s into the document resolve (its components or
    definitions travel with it), and OpenAPI 3.0's `nullable: true` becomes a `null` type.
    """
    from crawler import routes  # the inventory's path matching, so both agree on a route

    prefix = routes.base_path(document)
    bare = path.split("?", 1)[0]
    operations = [
        (str(template).count("{"), item[method.lower()])
        for template, item in (document.get("paths") or {}).items()
        if isinstance(item, dict)
        and isinstance(item.get(method.lower()), dict)
        and routes.path_matches(prefix + str(template), bare)
    ]
    if not operations:
        return f"the OpenAPI document has no operation {method} {path}"
    # `/users/me` before `/users/{id}`: the template with the fewest parameters serves it.
    operation = min(operations, key=lambda found: found[0])[1]
    schemas: dict[str, Any] = {}
    for status, response in (operation.get("responses") or {}).items():
        schema = _response_schema(document, response)
        if schema is not None:
            schemas[str(status)] = _standalone(document, schema)
    return schemas


def _response_schema(document: Mapping[str, Any], response: Any) -> Any:
    if isinstance(response, dict) and "$ref" in response:
        response = _pointer(document, str(response["$ref"]))
    if not isinstance(response, dict):
        return None
    if "schema" in response:  # Swagger 2
        return response["schema"]
    content = response.get("content") or {}
    for media, body in content.items():
        if ("json" in media or media == "*/*") and isinstance(body, dict) and "schema" in body:
            return body["schema"]
    return None


def _pointer(document: Mapping[str, Any], ref: str) -> Any:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node


def _standalone(document: Mapping[str, Any], schema: Any) -> dict[str, Any]:
    root: dict[str, Any] = {"allOf": [_nullable(schema)]}
    for key in ("components", "definitions"):
        if key in document:
            root[key] = _nullable(document[key])
    return root


def _nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _nullable(value) for key, value in node.items()}
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    return out


def bind(
    spec: Assertions,
    document: Mapping[str, Any] | None,
    method: str,
    path: str,
    problem: str | None = None,
) -> Assertions:
    """`spec` with its `schema: {from: openapi}` given the operation's documented schemas
    (or the reason there are none: `problem`, or the document has no such operation)."""
    if spec.schema_ is None or spec.schema_.source != "openapi":
        return spec
    if document is None:
        why = problem or "no OpenAPI document (set inventory: {openapi: ...})"
        bound = spec.schema_.model_copy(update={"problem": why})
    else:
        found = response_schemas(document, method, path)
        if isinstance(found, str):
            bound = spec.schema_.model_copy(update={"problem": found})
        else:
            bound = spec.schema_.model_copy(update={"documented": found})
    return spec.model_copy(update={"schema_": bound})


def uses_openapi(spec: Assertions | None) -> bool:
    """Whether `spec` validates against the OpenAPI document."""
    return spec is not None and spec.schema_ is not None and spec.schema_.source == "openapi"
