"""`LeaderElector` on a lab Lease: one leader at a time, quick hand-over on release, safe on lost contact."""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit

import pytest
from lightkube.resources.coordination_v1 import Lease

from tests.kube.conftest import admin, run
from tests.kube.proxy import Relay
from vaultinject.kube import Kube, LeaderElector
from vaultinject.lab.kube.harness import LabKube

LEASE, DEADLINE = 1.5, 1.0


def elector(kube: Kube, name: str, namespace: str, identity: str) -> LeaderElector:
    """An elector with timings short enough for a test (client-go's defaults are 15 s, 10 s, 2 s)."""
    return LeaderElector(
        kube, name, namespace, identity, lease_duration=LEASE, renew_deadline=DEADLINE, retry_period=0.2
    )


class Work:
    """What a leader does: note when it started and stopped, and run until cancelled."""

    def __init__(self) -> None:
        self.started: float | None = None
        self.stopped: float | None = None

    async def __call__(self) -> str:
        self.started = time.monotonic()
        try:
            await asyncio.sleep(3600)
        finally:
            self.stopped = time.monotonic()
        return "never"


async def wait_until(predicate: object, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_timing_must_leave_a_safe_margin(kube_server: LabKube) -> None:
    with pytest.raises(ValueError, match="retry_period < renew_deadline < lease_duration"):
        LeaderElector(admin(kube_server), "l", "default", "a", lease_duration=5, renew_deadline=5)


def test_one_leader_then_release_hands_over_at_once(kube_server: LabKube, namespace: str) -> None:
    async def scenario() -> None:
        async with admin(kube_server) as kube:
            a = elector(kube, "healer", namespace, "healer-a")
            b = elector(kube, "healer", namespace, "healer-b")
            work_a, work_b = Work(), Work()
            run_a = asyncio.ensure_future(a.run(work_a))
            await wait_until(lambda: work_a.started)
            run_b = asyncio.ensure_future(b.run(work_b))
            await asyncio.sleep(2 * LEASE)  # longer than the lease: A keeps renewing it
            assert (a.leading, b.leading, work_b.started) == (True, False, None)
            run_a.cancel()
            released = time.monotonic()
            await asyncio.gather(run_a, return_exceptions=True)
            assert work_a.stopped is not None
            await wait_until(lambda: work_b.started)
            assert work_b.started is not None
            assert work_b.started - released < LEASE  # no wait for expiry after a release
            lease = await kube.get(Lease, "healer", namespace)
            assert lease.spec is not None
            assert (lease.spec.holderIdentity, lease.spec.leaseTransitions) == ("healer-b", 1)
            run_b.cancel()
            await asyncio.gather(run_b, return_exceptions=True)
            lease = await kube.get(Lease, "healer", namespace)
            assert lease.spec is not None
            assert lease.spec.holderIdentity is None

    run(scenario())


def test_finished_work_returns_its_result_and_releases(kube_server: LabKube, namespace: str) -> None:
    async def scenario() -> None:
        async with admin(kube_server) as kube:
            solo = elector(kube, "once", namespace, "solo")

            async def job() -> str:
                assert solo.leading
                return "done"

            assert await solo.run(job) == "done"
            assert not solo.leading
            lease = await kube.get(Lease, "once", namespace)
            assert lease.spec is not None
            assert lease.spec.holderIdentity is None

    run(scenario())


def test_a_leader_cut_off_stops_before_another_takes_over(kube_server: LabKube, namespace: str) -> None:
    port = urlsplit(kube_server.url).port or 0

    async def scenario() -> None:
        async with (
            Relay("127.0.0.1", port) as relay,
            admin(kube_server) as direct,
            Kube(relay.config_for(direct.config), timeout=0.5) as cut_off,
        ):
            a = elector(cut_off, "healer", namespace, "healer-a")
            b = elector(direct, "healer", namespace, "healer-b")
            work_a, work_b = Work(), Work()
            run_a = asyncio.ensure_future(a.run(work_a))
            await wait_until(lambda: work_a.started)
            run_b = asyncio.ensure_future(b.run(work_b))
            relay.blocked = True
            relay.cut()
            both = False
            while work_b.started is None:
                both |= a.leading and b.leading
                await asyncio.sleep(0.01)
            assert not both
            assert work_a.stopped is not None
            assert work_a.stopped < work_b.started
            for task in (run_a, run_b):
                task.cancel()
            await asyncio.gather(run_a, run_b, return_exceptions=True)

    run(scenario())


def test_a_leader_whose_lease_is_taken_stops_acting(kube_server: LabKube, namespace: str) -> None:
    async def scenario() -> None:
        async with admin(kube_server) as kube:
            a = elector(kube, "healer", namespace, "healer-a")
            work = Work()
            run_a = asyncio.ensure_future(a.run(work))
            await wait_until(lambda: work.started)
            lease = await kube.get(Lease, "healer", namespace)
            assert lease.spec is not None
            lease.spec.holderIdentity = "intruder"
            lease.spec.leaseDurationSeconds = 3600
            await kube.replace(lease)
            await wait_until(lambda: work.stopped, timeout=DEADLINE + 2)
            assert not a.leading
            run_a.cancel()
            await asyncio.gather(run_a, return_exceptions=True)
            lease = await kube.get(Lease, "healer", namespace)
            assert lease.spec is not None
            assert lease.spec.holderIdentity == "intruder"  # release never touches someone else's Lease

    run(scenario())
