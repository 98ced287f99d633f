"""A tiny bookings API with in-memory storage, for flow tests (served by `servers.serve`).

    POST   /bookings        {"room": ...} -> 201 {"id", "room", "version"}, ETag
    GET    /bookings/{id}   -> 200 with an ETag; 304 when If-None-Match matches it; 404
    PUT    /bookings/{id}   {"room": ...} -> 200 (version + 1); 404
    DELETE /bookings/{id}   -> 204; 404
    GET    /bookings        -> 200 {"ids": [...]}

`BookingsApp.store` is what the server holds, `requests` every `METHOD path` it received,
so a test can check what was left behind and what was (not) sent.
"""

from __future__ import annotations

import itertools
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send


class BookingsApp:
    """The app; its store and request log belong to this instance only."""

    def __init__(self) -> None:
        self.store: dict[str, dict[str, Any]] = {}
        self.requests: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._ids = itertools.count(101)
        self._app = Starlette(
            routes=[
                Route("/bookings", self.create, methods=["POST"]),
                Route("/bookings", self.listing, methods=["GET"]),
                Route("/bookings/{id}", self.read, methods=["GET"]),
                Route("/bookings/{id}", self.update, methods=["PUT"]),
                Route("/bookings/{id}", self.delete, methods=["DELETE"]),
            ]
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            query = scope["query_string"].decode()
            self.requests.append(f"{scope['method']} {scope['path']}" + (f"?{query}" * bool(query)))
            self.headers.append({k.decode(): v.decode() for k, v in scope["headers"]})
        await self._app(scope, receive, send)

    @staticmethod
    def _etag(booking: dict[str, Any]) -> str:
        return f'"{booking["id"]}-v{booking["version"]}"'

    def _answer(self, booking: dict[str, Any], status: int = 200) -> Response:
        return JSONResponse(booking, status_code=status, headers={"ETag": self._etag(booking)})

    async def create(self, request: Request) -> Response:
        payload = await request.json()
        booking_id = str(next(self._ids))
        booking = {"id": booking_id, "room": payload.get("room"), "version": 1}
        self.store[booking_id] = booking
        return self._answer(booking, 201)

    async def listing(self, request: Request) -> Response:
        return JSONResponse({"ids": sorted(self.store)})

    async def read(self, request: Request) -> Response:
        booking = self.store.get(request.path_params["id"])
        if booking is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        if request.headers.get("if-none-match") == self._etag(booking):
            return Response(status_code=304, headers={"ETag": self._etag(booking)})
        return self._answer(booking)

    async def update(self, request: Request) -> Response:
        booking = self.store.get(request.path_params["id"])
        if booking is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        payload = await request.json()
        booking.update(room=payload.get("room"), version=booking["version"] + 1)
        return self._answer(booking)

    async def delete(self, request: Request) -> Response:
        if self.store.pop(request.path_params["id"], None) is None:
            return JSONResponse({"error": "not found"}, status_code=404)
        return Response(status_code=204)
