"""Reference clients the crawler is compared with: a semaphore around `client.get`, no engine."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport


async def httpx_get_all(
    base_url: str, paths: Sequence[str], concurrency: int, *, aiohttp_transport: bool = False
) -> list[int]:
    """GET every path with one `httpx.AsyncClient` (pool = concurrency); return the statuses.

    With `aiohttp_transport` the client sends through httpx-aiohttp's transport instead of
    httpcore's pool: the same transport the crawler uses by default, without the engine.
    """
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    transport: httpx.AsyncBaseTransport = (
        AiohttpTransport(limits=limits)
        if aiohttp_transport
        else httpx.AsyncHTTPTransport(limits=limits)
    )
    semaphore = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=base_url, transport=transport) as client:

        async def one(path: str) -> int:
            async with semaphore:
                response = await client.get(path)
                return response.status_code

        return await asyncio.gather(*(one(path) for path in paths))


async def aiohttp_get_all(base_url: str, paths: Sequence[str], concurrency: int) -> list[int]:
    """The same with plain aiohttp: the ceiling of what this client and server can do."""
    semaphore = asyncio.Semaphore(concurrency)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(base_url, connector=connector) as session:

        async def one(path: str) -> int:
            async with semaphore, session.get(path) as response:
                await response.read()
                return response.status

        return await asyncio.gather(*(one(path) for path in paths))
