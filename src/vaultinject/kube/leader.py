"""Leader election on a `coordination.k8s.io/v1` Lease, with client-go's rules and a safe hand-over."""

from __future__ import annotations

import asyncio
import datetime
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease

from vaultinject.kube.client import Kube
from vaultinject.kube.errors import AlreadyExists, Conflict, KubeError, NotFound

log = logging.getLogger(__name__)

T = TypeVar("T")


class LeaderElector:
    """Campaigns for a Lease and runs the leader's work only while the Lease is surely held.

    client-go's timing: the holder renews every `retry_period`; a candidate takes the Lease over only after it
    has seen the same record unchanged for `lease_duration`; a holder that has not renewed for
    `renew_deadline` (shorter than `lease_duration`) stops acting. Because a renewal's deadline is counted
    from before the request was sent, the old leader has stopped before any candidate can take over.
    """

    def __init__(
        self,
        kube: Kube,
        name: str,
        namespace: str,
        identity: str,
        *,
        lease_duration: float = 15.0,
        renew_deadline: float = 10.0,
        retry_period: float = 2.0,
    ) -> None:
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError(
                "leader election timing must satisfy 0 < retry_period < renew_deadline < lease_duration; "
                f"got {retry_period}, {renew_deadline}, {lease_duration}"
            )
        self.kube, self.name, self.namespace, self.identity = kube, name, namespace, identity
        self.lease_duration, self.renew_deadline, self.retry_period = (
            lease_duration,
            renew_deadline,
            retry_period,
        )
        self._renewed_at: float | None = None
        self._observed: tuple[Any, ...] = ()
        self._observed_at = 0.0

    @property
    def leading(self) -> bool:
        """True while this elector holds the Lease and its last renewal is within the renew deadline."""
        return self._renewed_at is not None and time.monotonic() < self._renewed_at + self.renew_deadline

    async def run(self, lead: Callable[[], Awaitable[T]]) -> T:
        """Campaign, run `lead()` while leading, and return its result after releasing the Lease.

        If the Lease is lost, `lead()` is cancelled (before anyone else can hold the Lease) and the elector
        campaigns again. Cancelling `run` cancels `lead()` and releases the Lease for a quick hand-over.
        """
        try:
            while True:
                await self._acquire()
                log.info("%s: leading (lease %s/%s)", self.identity, self.namespace, self.name)
                task: asyncio.Task[T] = asyncio.ensure_future(lead())
                try:
                    await self._keep(task)
                finally:
                    await _cancelled(task)
                if task.done() and not task.cancelled():
                    return task.result()
                log.warning("%s: lost lease %s/%s; stopped leading", self.identity, self.namespace, self.name)
        finally:
            await asyncio.shield(self.release())

    async def release(self) -> None:
        """Give up the Lease if this elector holds it, so a candidate takes over without waiting."""
        if self._renewed_at is None:
            return
        self._renewed_at = None
        try:
            lease = await self.kube.get(Lease, self.name, self.namespace)
            if lease.spec is None or lease.spec.holderIdentity != self.identity:
                return
            now = _now()
            lease.spec.holderIdentity = None
            lease.spec.leaseDurationSeconds = 1
            lease.spec.renewTime = now
            lease.spec.acquireTime = now
            await self.kube.replace(lease)
        except KubeError as error:
            log.warning("%s: could not release lease %s: %s", self.identity, self.name, error)

    async def _acquire(self) -> None:
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(self.retry_period)

    async def _keep(self, task: asyncio.Task[Any]) -> None:
        """Renew until `task` ends or the renew deadline passes without a successful renewal."""
        while not task.done():
            await asyncio.wait({task}, timeout=self.retry_period)
            if task.done():
                return
            assert self._renewed_at is not None
            remaining = self._renewed_at + self.renew_deadline - time.monotonic()
            try:
                renewed = await asyncio.wait_for(self._try_acquire_or_renew(), max(remaining, 0))
            except TimeoutError:
                renewed = False
            if not renewed and not self.leading:
                self._renewed_at = None
                return

    async def _try_acquire_or_renew(self) -> bool:
        started = time.monotonic()
        now = _now()
        try:
            lease = await self.kube.get(Lease, self.name, self.namespace)
        except NotFound:
            return await self._create(started, now)
        except KubeError as error:
            log.info("%s: cannot read lease %s: %s", self.identity, self.name, error)
            return False
        spec = lease.spec or LeaseSpec()
        self._observe(lease, started)
        held_by_other = spec.holderIdentity and spec.holderIdentity != self.identity
        if held_by_other and started < self._observed_at + (spec.leaseDurationSeconds or 0):
            return False
        if spec.holderIdentity != self.identity:
            spec.acquireTime = now
            spec.leaseTransitions = (spec.leaseTransitions or 0) + 1
        spec.holderIdentity = self.identity
        spec.renewTime = now
        spec.leaseDurationSeconds = int(self.lease_duration)
        lease.spec = spec
        try:
            await self.kube.replace(lease)
        except KubeError as error:
            if not isinstance(error, Conflict):
                log.info("%s: cannot update lease %s: %s", self.identity, self.name, error)
            return False
        self._renewed_at = started
        return True

    async def _create(self, started: float, now: datetime.datetime) -> bool:
        spec = LeaseSpec(
            holderIdentity=self.identity,
            leaseDurationSeconds=int(self.lease_duration),
            acquireTime=now,
            renewTime=now,
            leaseTransitions=0,
        )
        try:
            await self.kube.create(
                Lease(metadata=ObjectMeta(name=self.name, namespace=self.namespace), spec=spec)
            )
        except (AlreadyExists, Conflict):
            return False
        except KubeError as error:
            log.info("%s: cannot create lease %s: %s", self.identity, self.name, error)
            return False
        self._renewed_at = started
        return True

    def _observe(self, lease: Lease, at: float) -> None:
        """Note when the Lease's record last changed, on our own clock (clocks across nodes may differ)."""
        spec = lease.spec or LeaseSpec()
        version = lease.metadata.resourceVersion if lease.metadata else None
        record = (spec.holderIdentity, spec.renewTime, spec.leaseTransitions, version)
        if record != self._observed:
            self._observed, self._observed_at = record, at


async def _cancelled(task: asyncio.Task[Any]) -> None:
    if task.done():
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:  # the leader's work failed while being cancelled: already logged by its owner
        log.exception("leader work failed while stopping")


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)
