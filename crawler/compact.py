"""Compact models: so that a run of 100,000 checks (and its manifest) fits in memory.

pydantic keeps on every model instance the set of the fields it was given
(`__pydantic_fields_set__`, read only by `exclude_unset`, which crawler never uses). A set
of 10-20 names costs 700+ bytes, and a result holds three or four models: two thirds of a
result's memory. Models built alike get one shared, interned set instead; and every empty
`dict` field (`headers: {}`, `query: {}`, `slo: {}`) the one shared empty dict. That is
safe for frozen models: they are never assigned to, nothing in crawler adds to a model's
dict, and `model_copy` copies the set before it adds to it.
"""

from __future__ import annotations

from typing import Any, TypeVar

from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)

_INTERNED: dict[frozenset[str], set[str]] = {}
_EMPTY: dict[Any, Any] = {}


def compact(model: M) -> M:
    """`model`, and the models inside it (in fields, lists, tuples, dicts), sharing interned
    field sets and one empty dict. Returns `model`."""
    fields = model.__pydantic_fields_set__
    shared = _INTERNED.setdefault(frozenset(fields), set(fields))
    object.__setattr__(model, "__pydantic_fields_set__", shared)
    values = model.__dict__
    for name, value in values.items():  # a hot loop (once per result): cheapest tests first
        kind = type(value)
        if kind is dict:
            if value:
                _inside(value)
            else:
                values[name] = _EMPTY
        elif kind is tuple or kind is list or isinstance(value, BaseModel):
            _inside(value)
    return model


def _inside(value: object) -> None:
    if isinstance(value, BaseModel):
        compact(value)
    elif isinstance(value, list | tuple):
        for item in value:
            if isinstance(item, BaseModel | list | tuple | dict):
                _inside(item)
    elif isinstance(value, dict):
        for item in value.values():
            if isinstance(item, BaseModel | list | tuple | dict):
                _inside(item)
