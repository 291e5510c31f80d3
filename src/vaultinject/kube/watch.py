"""A watch that never misses a change: list, watch from the list's version, resume, re-list on 410 Gone."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncGenerator
from typing import Any, NamedTuple

from vaultinject.kube.client import Kube
from vaultinject.kube.errors import Gone, KubeError, Unreachable

log = logging.getLogger(__name__)

RETRYABLE_CODES = frozenset({429, 500, 502, 503, 504})


class WatchEvent(NamedTuple):
    """`type` is ADDED, MODIFIED or DELETED; `obj` the lightkube object as of that event."""

    type: str
    obj: Any


async def watch(
    kube: Kube,
    resource: type[Any],
    namespace: str | None = None,
    *,
    labels: dict[str, Any] | None = None,
    fields: dict[str, Any] | None = None,
    server_timeout: int = 290,
    max_backoff: float = 10.0,
) -> AsyncGenerator[WatchEvent, None]:
    """Every object as ADDED, then every change, forever.

    A dropped stream resumes from the last resourceVersion seen. When the server no longer has that version
    (410 Gone) the objects are listed again and the difference is yielded as events (DELETED for objects that
    went away meanwhile), so a consumer's picture stays complete, as client-go's reflector keeps it.
    Unreachable servers and 429/5xx answers are retried with jittered backoff; other errors (403, 404) raise.
    """
    known: dict[tuple[str, str], Any] = {}
    version = ""
    failures = 0
    listed = False
    while True:
        try:
            if not listed:
                items, version = await kube.list(resource, namespace, labels, fields)
                for event in _resync(known, items):
                    yield event
                listed = True
            stream = kube.watch_raw(
                resource,
                namespace,
                resource_version=version,
                labels=labels,
                fields=fields,
                server_timeout=server_timeout,
            )
            async for kind, obj in stream:
                version = obj.metadata.resourceVersion or version
                failures = 0
                if kind == "BOOKMARK":
                    continue
                _remember(known, kind, obj)
                yield WatchEvent(kind, obj)
        except Gone:
            log.info("watch of %s: resourceVersion %s is gone; listing again", resource.__name__, version)
            listed = False
        except (Unreachable, KubeError) as error:
            if not isinstance(error, Unreachable) and error.code not in RETRYABLE_CODES:
                raise
            failures += 1
            delay = min(max_backoff, 0.2 * 2**failures) * random.uniform(0.5, 1.0)  # noqa: S311
            log.warning("watch of %s failed (%s); retrying in %.1fs", resource.__name__, error, delay)
            await asyncio.sleep(delay)


def _key(obj: Any) -> tuple[str, str]:
    return (obj.metadata.namespace or "", obj.metadata.name or "")


def _remember(known: dict[tuple[str, str], Any], kind: str, obj: Any) -> None:
    if kind == "DELETED":
        known.pop(_key(obj), None)
    else:
        known[_key(obj)] = obj


def _resync(known: dict[tuple[str, str], Any], items: list[Any]) -> list[WatchEvent]:
    """The events that turn `known` into `items`, applied to `known`."""
    events: list[WatchEvent] = []
    current = {_key(obj): obj for obj in items}
    for key, obj in current.items():
        before = known.get(key)
        if before is None:
            events.append(WatchEvent("ADDED", obj))
        elif before.metadata.resourceVersion != obj.metadata.resourceVersion:
            events.append(WatchEvent("MODIFIED", obj))
    events += [WatchEvent("DELETED", obj) for key, obj in known.items() if key not in current]
    known.clear()
    known.update(current)
    return events
