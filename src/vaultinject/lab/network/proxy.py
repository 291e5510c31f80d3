"""A kube-proxy stand-in inside the API server process: one asyncio loop thread listens on ClusterIP:port
for every TCP port of every ClusterIP Service and forwards each connection to a ready endpoint (round robin,
another on connect failure). Endpoints come from core v1 Endpoints (what the endpoint controller publishes,
publishNotReadyAddresses included); EndpointSlices are not read yet. Binds 127.0.0.0/8 only."""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from typing import Any

from vaultinject.lab.kube.store import Change, Store
from vaultinject.lab.network import ipam

log = logging.getLogger(__name__)
JSON = dict[str, Any]
_CHUNK = 64 * 1024
_CONNECT_TIMEOUT = 2.0
_WATCHED = {"services", "endpoints"}
Key = tuple[str, str, int]  # namespace, service, port


class ProxyError(ValueError):
    """An address the proxy refuses to bind or target (outside 127.0.0.0/8)."""


def _targets(port: JSON, endpoints: JSON | None) -> list[tuple[str, int]]:
    """Ready addresses with the endpoint port matching the Service port (by name, else the only one)."""
    result: list[tuple[str, int]] = []
    for subset in (endpoints or {}).get("subsets") or []:
        ports = [p for p in subset.get("ports") or [] if p.get("protocol", "TCP") == "TCP"]
        match = [p for p in ports if p.get("name", "") == port.get("name", "")] or (
            ports[:1] if len(ports) == 1 else []
        )
        for p in match:
            for address in subset.get("addresses") or []:
                if ipam.is_loopback(address.get("ip", "")):
                    result.append((address["ip"], int(p["port"])))
    return result


class ServiceProxy:
    """`start()` / `stop()`; `api_port` sends the `kubernetes` Service's 443 to the API server itself."""

    def __init__(self, store: Store, api_port: int) -> None:
        self.store = store
        self.api_port = api_port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="lab-service-proxy", daemon=True)
        self._servers: dict[Key, tuple[str, asyncio.Server]] = {}
        self._backends: dict[Key, list[tuple[str, int]]] = {}
        self._turn: dict[Key, itertools.count[int]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = False
        self._lock = asyncio.Lock()

    def start(self) -> None:
        self._thread.start()
        self.store.subscribe(self._changed)
        asyncio.run_coroutine_threadsafe(self._sync(), self._loop).result(timeout=10)

    def stop(self) -> None:
        self._stopped = True
        asyncio.run_coroutine_threadsafe(self._close_all(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    def listening(self) -> set[Key]:
        return set(self._servers)

    def _changed(self, change: Change) -> None:
        if change.storage in _WATCHED and not self._stopped:
            self._loop.call_soon_threadsafe(self._submit)

    def _submit(self) -> None:
        if not self._stopped:
            task = self._loop.create_task(self._sync())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _sync(self) -> None:
        async with self._lock:  # one sync at a time: two would race to bind the same address
            await self._sync_locked()

    async def _sync_locked(self) -> None:
        wanted: dict[Key, tuple[str, list[tuple[str, int]]]] = {}
        for service in self.store.list_objects("services")[0]:
            spec, meta = service.get("spec") or {}, service["metadata"]
            ip = spec.get("clusterIP")
            if not ip or ip == "None" or not ipam.is_loopback(ip) or meta.get("deletionTimestamp"):
                continue
            namespace = meta.get("namespace", "default")
            endpoints = self.store.get("endpoints", namespace, meta["name"])
            for port in spec.get("ports") or []:
                if port.get("protocol", "TCP") != "TCP":
                    continue
                key = (namespace, meta["name"], int(port["port"]))
                if (namespace, meta["name"]) == ("default", "kubernetes"):
                    wanted[key] = (ip, [("127.0.0.1", self.api_port)])
                else:
                    wanted[key] = (ip, _targets(port, endpoints))
        for key in [k for k in self._servers if k not in wanted or self._servers[k][0] != wanted[k][0]]:
            _, server = self._servers.pop(key)
            server.close()
            self._backends.pop(key, None)
        for key, (ip, backends) in wanted.items():
            self._backends[key] = backends
            if key not in self._servers:
                await self._listen(key, ip)

    async def _listen(self, key: Key, ip: str) -> None:
        if not ipam.is_loopback(ip):
            raise ProxyError(f"refusing to bind {ip}: outside 127.0.0.0/8")
        try:
            server = await asyncio.start_server(
                lambda r, w: self._forward(key, r, w), ip, key[2], reuse_address=True, limit=_CHUNK
            )
        except OSError as error:
            log.warning("service %s/%s: cannot listen on %s:%d: %s", key[0], key[1], ip, key[2], error)
            return
        self._servers[key] = (ip, server)

    async def _connect(self, key: Key) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        backends = list(self._backends.get(key) or [])
        if not backends:
            return None
        start = next(self._turn.setdefault(key, itertools.count()))
        for i in range(len(backends)):
            host, port = backends[(start + i) % len(backends)]
            if not ipam.is_loopback(host):
                continue
            try:
                return await asyncio.wait_for(
                    asyncio.open_connection(host, port, limit=_CHUNK), _CONNECT_TIMEOUT
                )
            except (OSError, TimeoutError):
                log.debug("service %s/%s: endpoint %s:%d refused", key[0], key[1], host, port)
        return None

    async def _forward(self, key: Key, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect(key)
        if upstream is None:
            writer.close()
            return
        up_reader, up_writer = upstream
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)

    async def _close_all(self) -> None:
        for _, server in self._servers.values():
            server.close()
        for _, server in self._servers.values():
            await server.wait_closed()
        self._servers.clear()
        for task in list(self._tasks):
            task.cancel()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    """Copy until EOF with bounded buffering (drain after every chunk), then half-close."""
    try:
        while chunk := await source.read(_CHUNK):
            sink.write(chunk)
            await sink.drain()
        if sink.can_write_eof():
            sink.write_eof()
    except (OSError, ConnectionError):
        sink.close()
    finally:
        if source.at_eof():
            sink.close()
