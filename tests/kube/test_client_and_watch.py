"""`Kube` calls and `watch()` against the lab API server: typed errors, resume, re-list on 410 Gone."""

from __future__ import annotations

import asyncio
import logging
from typing import Any
from urllib.parse import urlsplit

import pytest
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import ConfigMap
from lightkube.types import PatchType

from tests.kube.conftest import admin, run
from tests.kube.proxy import Relay
from vaultinject.kube import AlreadyExists, Conflict, Invalid, Kube, NotFound, Unreachable, WatchEvent, watch
from vaultinject.lab.kube.harness import LabKube

MINE = {"test": "watch"}  # every namespace also holds kube-root-ca.crt: watch only the test's own


def config_map(name: str, namespace: str, **data: str) -> ConfigMap:
    return ConfigMap(metadata=ObjectMeta(name=name, namespace=namespace, labels=MINE), data=data)


def test_crud_and_typed_errors(kube_server: LabKube, namespace: str) -> None:
    async def scenario() -> None:
        async with admin(kube_server) as kube:
            created = await kube.create(config_map("a", namespace, k="1"))
            assert created.metadata
            assert created.metadata.uid
            with pytest.raises(AlreadyExists, match='"a" already exists'):
                await kube.create(config_map("a", namespace))
            patched = await kube.patch(ConfigMap, "a", {"data": {"k": "2"}}, namespace)
            assert patched.data == {"k": "2"}
            json_patch = [{"op": "add", "path": "/data/j", "value": "3"}]
            await kube.patch(ConfigMap, "a", json_patch, namespace, patch_type=PatchType.JSON)
            assert (await kube.get(ConfigMap, "a", namespace)).data == {"k": "2", "j": "3"}
            with pytest.raises(Conflict) as stale:
                await kube.replace(created)  # read before the patches: optimistic concurrency refuses it
            assert stale.value.code == 409
            with pytest.raises(Invalid):
                await kube.create(config_map("Not_A_Name", namespace))
            await kube.delete(ConfigMap, "a", namespace)
            with pytest.raises(NotFound) as missing:
                await kube.get(ConfigMap, "a", namespace)
            assert (missing.value.code, missing.value.reason) == (404, "NotFound")

    run(scenario())


def test_unreachable_server_is_one_typed_error(kube_server: LabKube) -> None:
    async def scenario() -> None:
        async with Relay("127.0.0.1", 1) as relay:
            relay.blocked = True
            config = relay.config_for(admin(kube_server).config)
            async with Kube(config, timeout=2) as kube:
                with pytest.raises(Unreachable, match="did not answer"):
                    await kube.get(ConfigMap, "x", "default")

    run(scenario())


async def collect(stream: Any, count: int, timeout: float = 10) -> list[tuple[str, str, str]]:
    """The next `count` events as (type, name, data value of key "v")."""
    events: list[tuple[str, str, str]] = []
    while len(events) < count:
        event: WatchEvent = await asyncio.wait_for(anext(stream), timeout)
        events.append((event.type, event.obj.metadata.name, (event.obj.data or {}).get("v", "")))
    return events


def test_watch_lists_then_follows_and_resumes_without_replaying(kube_server: LabKube, namespace: str) -> None:
    async def scenario() -> None:
        async with admin(kube_server) as kube:
            await kube.create(config_map("before", namespace, v="0"))
            stream = watch(kube, ConfigMap, namespace, labels=MINE, server_timeout=1)
            assert await collect(stream, 1) == [("ADDED", "before", "0")]
            await kube.create(config_map("during", namespace, v="1"))
            assert await collect(stream, 1) == [("ADDED", "during", "1")]
            await asyncio.sleep(2.2)  # the server has ended the watch twice meanwhile: it resumes from there
            await kube.patch(ConfigMap, "before", {"data": {"v": "2"}}, namespace)
            await kube.delete(ConfigMap, "during", namespace)
            assert await collect(stream, 2) == [("MODIFIED", "before", "2"), ("DELETED", "during", "1")]
            await stream.aclose()

    run(scenario())


def test_watch_relists_on_410_and_yields_what_it_missed(
    kube_server: LabKube, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The stream drops; while it is down, more changes than the server's history holds (50) happen."""
    caplog.set_level(logging.INFO, "vaultinject.kube.watch")
    port = urlsplit(kube_server.url).port or 0

    async def scenario() -> None:
        async with Relay("127.0.0.1", port) as relay, admin(kube_server) as direct:
            for name in ("stays", "changes", "goes"):
                await direct.create(config_map(name, namespace, v="0"))
            async with Kube(relay.config_for(direct.config)) as kube:
                stream = watch(kube, ConfigMap, namespace, labels=MINE, max_backoff=0.3)
                first = await collect(stream, 3)
                assert sorted(first) == [("ADDED", n, "0") for n in ("changes", "goes", "stays")]
                relay.blocked = True
                relay.cut()
                for i in range(60):
                    await direct.patch(ConfigMap, "changes", {"data": {"v": str(i)}}, namespace)
                await direct.delete(ConfigMap, "goes", namespace)
                await direct.create(config_map("new", namespace, v="n"))
                relay.blocked = False
                missed = await collect(stream, 3, timeout=20)
                assert sorted(missed) == [
                    ("ADDED", "new", "n"),
                    ("DELETED", "goes", "0"),
                    ("MODIFIED", "changes", "59"),
                ]
                await direct.patch(ConfigMap, "stays", {"data": {"v": "after"}}, namespace)
                assert await collect(stream, 1) == [("MODIFIED", "stays", "after")]
                await stream.aclose()

    run(scenario())
    assert "is gone; listing again" in caplog.text
