"""A TCP relay in front of the lab API server that a test can cut, to make a client's streams drop."""

from __future__ import annotations

import asyncio
import contextlib

import msgspec
from lightkube.config.kubeconfig import SingleConfig


class Relay:
    """Relays 127.0.0.1:<port> to `target`; `cut()` drops every connection, `blocked` refuses new ones."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.blocked = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def __aenter__(self) -> Relay:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def config_for(self, config: SingleConfig) -> SingleConfig:
        """`config` pointed at the relay (the lab's certificate names 127.0.0.1, so TLS still verifies)."""
        cluster = msgspec.structs.replace(config.cluster, server=f"https://127.0.0.1:{self.port}")
        return config._replace(cluster=cluster)

    def cut(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.blocked:
            writer.transport.abort()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection(*self.target)
        self._writers |= {writer, upstream_writer}
        await asyncio.gather(_pipe(reader, upstream_writer), _pipe(upstream_reader, writer))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    writer.transport.abort()
