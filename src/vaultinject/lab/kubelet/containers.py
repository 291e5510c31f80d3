"""One container slot of a pod: starting a run (env, command, logs, probes), noticing its exit, stopping it,
and the CrashLoopBackOff schedule between runs (`k8s:pkg/kubelet/kuberuntime`, `doBackOff`)."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vaultinject.lab.kube.clock import rfc3339
from vaultinject.lab.kubelet.logs import ContainerLog
from vaultinject.lab.kubelet.probes import ProbeWorker
from vaultinject.lab.kubelet.runtime import Container, ContainerConfig, Runtime, StartError
from vaultinject.lab.kubelet.status import ContainerRecord, Termination, is_sidecar

JSON = dict[str, Any]
INITIAL_BACKOFF = 10.0
MAX_BACKOFF = 300.0


@dataclass(frozen=True)
class Backoff:
    """CrashLoopBackOff's bounds (the kubelet's 10s and 5m unless configured); it resets after 2 x max."""

    initial: float = INITIAL_BACKOFF
    maximum: float = MAX_BACKOFF


@dataclass
class Slot:
    """A container of the pod spec and what its runs so far left behind."""

    spec: JSON
    init: bool
    record: ContainerRecord
    bounds: Backoff = field(default_factory=Backoff)
    process: Container | None = None
    log: ContainerLog | None = None
    probes: dict[str, ProbeWorker] = field(default_factory=dict)
    backoff: float = 0.0
    started_at: float = 0.0
    finished_at: float = 0.0
    runs: int = 0
    last_exit: int | None = None
    backoff_reported: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def name(self) -> str:
        return str(self.spec["name"])

    @property
    def sidecar(self) -> bool:
        return self.init and is_sidecar(self.spec)

    @property
    def field_path(self) -> str:
        return f"spec.{'initContainers' if self.init else 'containers'}{{{self.name}}}"

    @property
    def running(self) -> bool:
        return self.process is not None

    @property
    def exit_code(self) -> int | None:
        """How the last run ended (None while running or before the first run)."""
        return self.last_exit

    def probe(self, kind: str) -> JSON | None:
        probe = self.spec.get(f"{kind}Probe")
        return probe if isinstance(probe, dict) else None

    # --- a run ---

    def begin(self, runtime: Runtime, config: ContainerConfig, log: ContainerLog) -> None:
        """Start the next run; raises StartError (the run then counts as a failed one)."""
        if self.runs:
            self.record.restart_count += 1
        self.runs += 1
        self.record.last_termination = self.record.terminated or self.record.last_termination
        self.record.terminated = None
        self.record.waiting_reason = self.record.waiting_message = ""
        self.backoff_reported = False
        self.last_exit = None
        try:
            process = runtime.start(config)
        except StartError as error:
            log.close()
            now = time.time()
            self.record.terminated = Termination(
                128, rfc3339(now), rfc3339(now), "", "StartError", error.message
            )
            self.finished_at = now
            self.last_exit = 128  # a failed run: restarted (with back-off) as the restart policy says
            raise
        finally:
            log.close_child_ends()
        self.process, self.log = process, log
        self.started_at = process.started_at
        self.record.container_id = process.id
        self.record.running_since = rfc3339(process.started_at)
        self.record.started = self.probe("startup") is None
        self.record.ready = self.probe("readiness") is None

    def start_probes(
        self, kinds: tuple[str, ...], factory: Callable[[str, JSON, Container], ProbeWorker]
    ) -> None:
        if self.process is None:
            return
        for kind in kinds:
            probe = self.probe(kind)
            if probe is not None and kind not in self.probes:
                worker = factory(kind, probe, self.process)
                self.probes[kind] = worker
                worker.start()

    def stop_probes(self) -> None:
        for worker in self.probes.values():
            worker.stop()
        self.probes.clear()

    def reap(self) -> bool:
        """Record the run's end if its process exited; True when it just did."""
        with self.lock:
            return self._reap()

    def _reap(self) -> bool:
        if self.process is None:
            return False
        code = self.process.poll()
        if code is None:
            return False
        self.stop_probes()
        self.process.kill_leftovers()
        if self.log is not None:
            self.log.close()
        now = time.time()
        reason = "OOMKilled" if self.process.oom_killed() else ""
        self.process.release()
        self.record.terminated = Termination(
            code, rfc3339(self.started_at), rfc3339(now), self.process.id, reason
        )
        self.record.running_since = None
        self.record.started = self.record.ready = False
        self.process, self.log = None, None
        self.finished_at = now
        self.last_exit = code
        return True

    def kill(self, grace: float) -> None:
        """SIGTERM, then SIGKILL after `grace` seconds; returns once the process is gone."""
        if self.process is None:
            return
        self.stop_probes()
        self.process.signal(signal.SIGTERM)
        if self.process.wait(max(grace, 0.0)) is None:
            self.process.signal(signal.SIGKILL)
            self.process.wait(10)
        self.reap()

    # --- restarts ---

    def wants_restart(self, restart_policy: str) -> bool:
        """Whether a finished run is followed by another one, by the container's and pod's policy."""
        code = self.exit_code
        if code is None:
            return False
        if self.sidecar:
            return True
        if self.init:
            return code != 0 and restart_policy != "Never"
        return restart_policy == "Always" or (restart_policy == "OnFailure" and code != 0)

    def backoff_remaining(self, now: float) -> float:
        """Seconds until the next run may start (0: now); the first crash restarts at once."""
        if self.finished_at - self.started_at > 2 * self.bounds.maximum:
            self.backoff = 0.0
        if self.backoff == 0.0:
            return 0.0
        return max(0.0, self.backoff - (now - self.finished_at))

    def wait_back_off(self, message: str) -> None:
        """Show the wait for the next run: the finished run moves to `lastState`."""
        if self.record.terminated is not None:
            self.record.last_termination = self.record.terminated
            self.record.terminated = None
        self.record.waiting_reason = "CrashLoopBackOff"
        self.record.waiting_message = message

    def advance_backoff(self) -> None:
        bounds = self.bounds
        self.backoff = bounds.initial if self.backoff == 0.0 else min(self.backoff * 2, bounds.maximum)


def slots_for(pod: JSON, bounds: Backoff) -> list[Slot]:
    """The pod's container slots, continuing the counts of runs an earlier kubelet reported."""
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    reported = {
        str(s.get("name")): s
        for key in ("initContainerStatuses", "containerStatuses")
        for s in status.get(key) or []
        if isinstance(s, dict)
    }
    slots = [
        *(Slot(c, True, ContainerRecord(c["name"]), bounds) for c in spec.get("initContainers") or []),
        *(Slot(c, False, ContainerRecord(c["name"]), bounds) for c in spec.get("containers") or []),
    ]
    for slot in slots:
        _resume(slot.record, reported.get(slot.name) or {})
    return slots


def _resume(record: ContainerRecord, reported: JSON) -> None:
    """A container that ran before this kubelet started (the node restarted): its next run is a restart,
    and a run still going when the node died ended as `Unknown` (exit 255), as the kubelet reports it."""
    state = reported.get("state") or {}
    container_id = str(reported.get("containerID") or "").rpartition("://")[2]
    if "running" in state:
        started = str((state["running"] or {}).get("startedAt") or "")
        ended = Termination(255, started, rfc3339(time.time()), container_id, "Unknown")
    else:
        last = state.get("terminated") or (reported.get("lastState") or {}).get("terminated")
        if not isinstance(last, dict):
            return
        ended = Termination(
            int(last.get("exitCode") or 0),
            str(last.get("startedAt") or ""),
            str(last.get("finishedAt") or ""),
            str(last.get("containerID") or container_id).rpartition("://")[2],
            str(last.get("reason") or ""),
            str(last.get("message") or ""),
        )
    record.restart_count = int(reported.get("restartCount") or 0) + 1
    record.last_termination = ended
