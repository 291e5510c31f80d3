"""`Kube`: typed, async access to the API server on lightkube, with our errors instead of lightkube's."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import httpx2
from lightkube import ApiError, AsyncClient
from lightkube.config.kubeconfig import SingleConfig
from lightkube.core.exceptions import NotReadyError
from lightkube.core.resource import NamespacedResource
from lightkube.types import PatchType

from vaultinject.kube.errors import KubeError, from_api_error, from_transport_error

R = TypeVar("R")
T = TypeVar("T")

FIELD_MANAGER = "vaultinject"


class Kube:
    """One connection pool to one API server. `async with Kube(config) as kube: ...`."""

    def __init__(self, config: SingleConfig, *, timeout: float = 10.0, field_manager: str = FIELD_MANAGER):
        self.config = config
        self.namespace = config.namespace or "default"
        # Any: lightkube's overloads cannot be satisfied by a generic resource type.
        self.client: Any = AsyncClient(config, timeout=httpx2.Timeout(timeout), field_manager=field_manager)

    async def __aenter__(self) -> Kube:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.client.close()

    async def get(self, resource: type[R], name: str, namespace: str | None = None) -> R:
        return cast(R, await self._call(self.client.get(resource, name, **_ns(resource, namespace))))

    async def list(
        self,
        resource: type[R],
        namespace: str | None = None,
        labels: dict[str, Any] | None = None,
        fields: dict[str, Any] | None = None,
    ) -> tuple[list[R], str]:
        """Every matching object and the collection's resourceVersion (where a watch resumes).

        `namespace="*"` lists every namespace; `None` the configuration's own.
        """
        listing = self.client.list(resource, labels=labels, fields=fields, **_ns(resource, namespace))
        with _translated():
            items: list[R] = [item async for item in listing]
        try:
            version = listing.resourceVersion
        except NotReadyError:
            version = ""
        return items, version

    async def create(self, obj: R, namespace: str | None = None) -> R:
        return cast(R, await self._call(self.client.create(obj, **_ns(type(obj), namespace))))

    async def replace(self, obj: R) -> R:
        """Update with optimistic concurrency: `Conflict` if the object changed since `obj` was read."""
        return cast(R, await self._call(self.client.replace(obj)))

    async def patch(
        self,
        resource: type[R],
        name: str,
        patch: Any,
        namespace: str | None = None,
        patch_type: PatchType = PatchType.MERGE,
    ) -> R:
        call = self.client.patch(resource, name, patch, patch_type=patch_type, **_ns(resource, namespace))
        return cast(R, await self._call(call))

    async def delete(self, resource: type[Any], name: str, namespace: str | None = None) -> None:
        await self._call(self.client.delete(resource, name, **_ns(resource, namespace)))

    async def get_path(self, path: str) -> Any:
        """GET a path outside the resource APIs (`/version`, `/readyz`) and return its JSON."""
        # lightkube has no call for these; its underlying httpx client carries the base URL and auth.
        http: httpx2.AsyncClient = self.client._client._client
        with _translated():
            response = await http.get(path)
            response.raise_for_status()
            return response.json()

    def watch_raw(
        self,
        resource: type[R],
        namespace: str | None,
        *,
        resource_version: str,
        labels: dict[str, Any] | None = None,
        fields: dict[str, Any] | None = None,
        server_timeout: int = 290,
    ) -> AsyncIterator[tuple[str, R]]:
        """One watch from `resource_version`, raising on any error (`kube.watch` is the resuming loop)."""
        stream: AsyncIterator[tuple[str, R]] = self.client.watch(
            resource,
            labels=labels,
            fields=fields,
            resource_version=resource_version or None,
            server_timeout=server_timeout,
            **_ns(resource, namespace),
        )
        return _translated_stream(stream)

    @staticmethod
    async def _call(awaitable: Awaitable[T]) -> T:
        with _translated():
            return await awaitable


def _ns(resource: type[Any], namespace: str | None) -> dict[str, Any]:
    """The namespace argument lightkube takes: only for namespaced kinds, and only when one is named."""
    if namespace is None or not issubclass(resource, NamespacedResource):
        return {}
    return {"namespace": namespace}


@contextmanager
def _translated() -> Iterator[None]:
    try:
        yield
    except ApiError as error:
        raise from_api_error(error) from None
    except httpx2.HTTPStatusError as error:  # a raw request's answer (lightkube's own raise ApiError)
        code = error.response.status_code
        raise KubeError(f"HTTP {code} from {error.request.url.path}", code) from None
    except httpx2.HTTPError as error:
        raise from_transport_error(error) from None


async def _translated_stream(stream: AsyncIterator[tuple[str, R]]) -> AsyncIterator[tuple[str, R]]:
    with _translated():
        async for event in stream:
            yield event
