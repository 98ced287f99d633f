"""What `{name}` placeholders are filled with: captured values, `vars`, and generated data.

A request's placeholders are looked up, first match wins, in:

1. the values captured before it (a flow's earlier steps, then its identity's login);
2. the manifest's `vars` (with the environment's overrides) and `{run_id}`;
3. generated values, made on first use and then the same wherever they appear in that
   request: `{uuid}` (a random UUID4), `{random_int}` (1 to 999,999,999) and `{timestamp}`
   (Unix time in seconds). The next request, or a retry, gets new ones.

`{run_id}` is made once per run (`new_run_id`), recorded on the run, and is the same in
every request of it, so the data a run creates can be told apart from another run's.
"""

from __future__ import annotations

import random
import secrets
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime

RUN_ID = "run_id"

_GENERATORS: dict[str, Callable[[], str]] = {
    "uuid": lambda: str(uuid.uuid4()),
    "random_int": lambda: str(random.randint(1, 999_999_999)),
    "timestamp": lambda: str(int(time.time())),
}


def new_run_id(now: datetime | None = None) -> str:
    """A run's id: its UTC start and six random hex digits, `20261124T131500-3f9a2c`."""
    when = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%S")
    return f"{when}-{secrets.token_hex(3)}"


class Values(Mapping[str, str]):
    """The values of one request's placeholders: `layers` in order, then generated ones.

    >>> values = Values({"id": "42"})
    >>> values["id"], values["uuid"] == values["uuid"]
    ('42', True)
    """

    def __init__(self, *layers: Mapping[str, str]) -> None:
        self._layers = layers
        self._made: dict[str, str] = {}

    def __getitem__(self, name: str) -> str:
        for layer in self._layers:
            if name in layer:
                return layer[name]
        make = _GENERATORS.get(name)
        if make is None:
            raise KeyError(name)
        if name not in self._made:
            self._made[name] = make()
        return self._made[name]

    def __iter__(self) -> Iterator[str]:
        names = {name: None for layer in self._layers for name in layer}
        return iter({**names, **dict.fromkeys(_GENERATORS)})

    def __len__(self) -> int:
        return sum(1 for _ in self)
