"""The pod worker: one thread per pod bound to this node, driving it as the kubelet's `SyncPod` does.

Sandbox first (pod IP, hosts file, volumes), then init containers strictly in order (a native sidecar
counts once `started`), then the main containers; restarts with CrashLoopBackOff; probes and hooks;
termination (preStop, SIGTERM, grace, SIGKILL, sidecars last in reverse order); `activeDeadlineSeconds`;
and, for a deleted pod, the final DELETE with grace 0 and a UID precondition.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vaultinject.lab.kube.clock import parse_time, rfc3339
from vaultinject.lab.kubelet.api import ApiClient, ApiError
from vaultinject.lab.kubelet.containers import Backoff, Slot, slots_for
from vaultinject.lab.kubelet.env import (
    ConfigError,
    container_env,
    expand_args,
    memory_limit,
    service_env,
)
from vaultinject.lab.kubelet.hooks import run_hook
from vaultinject.lab.kubelet.logs import ContainerLog, log_path
from vaultinject.lab.kubelet.probes import ProbeWorker
from vaultinject.lab.kubelet.recorder import Recorder
from vaultinject.lab.kubelet.runtime import (
    Container,
    ContainerConfig,
    Runtime,
    StartError,
    image_command,
    image_env,
)
from vaultinject.lab.kubelet.status import PodRecord, crash_loop_message, pod_ref, pod_status
from vaultinject.lab.kubelet.volumes import PodVolumes, VolumeError
from vaultinject.lab.network.hosts import hosts_file
from vaultinject.lab.network.ipam import PodAddresses

JSON = dict[str, Any]
log = logging.getLogger(__name__)
TICK = 0.5
REFRESH_SECONDS = 10.0
DEADLINE_MESSAGE = "Pod was active on the node longer than the specified deadline"


class ClusterView:
    """Every Service and pod of the cluster, listed at most once per `ttl` seconds for all of a node's
    workers (hosts files and Service variables need them; 50 workers must not each list the cluster)."""

    def __init__(self, api: ApiClient, ttl: float = 2.0) -> None:
        self.api = api
        self.ttl = ttl
        self._lock = threading.Lock()
        self._at = float("-inf")
        self._services: list[JSON] = []
        self._pods: list[JSON] = []

    def _fresh(self) -> None:
        with self._lock:
            if time.monotonic() - self._at < self.ttl:
                return
            self._services = self.api.list("/api/v1/services").get("items") or []
            self._pods = self.api.list("/api/v1/pods").get("items") or []
            self._at = time.monotonic()

    def services(self) -> list[JSON]:
        self._fresh()
        return self._services

    def pods(self) -> list[JSON]:
        self._fresh()
        return self._pods


@dataclass
class NodeContext:
    """What every pod worker of one kubelet shares."""

    api: ApiClient
    name: str
    host_ip: str
    runtime: Runtime
    addresses: PodAddresses
    pods_dir: Path
    log_root: Path
    claims_root: Path
    recorder: Recorder
    cluster: ClusterView
    allocatable: dict[str, str] = field(default_factory=dict)
    backoff: Backoff = field(default_factory=Backoff)


def _pod_path(pod: JSON) -> str:
    meta = pod["metadata"]
    return f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}"


class PodWorker(threading.Thread):
    """Runs one pod until it is deleted (or, when terminal, until its object goes)."""

    def __init__(self, node: NodeContext, pod: JSON) -> None:
        super().__init__(daemon=True, name=f"pod-{pod['metadata']['name']}")
        self.node = node
        self.pod = pod
        self.uid = str(pod["metadata"]["uid"])
        self.slots = slots_for(pod, node.backoff)
        self.record = PodRecord()
        self.volumes = PodVolumes(
            pod,
            node.api,
            node.pods_dir / self.uid,
            claims_root=node.claims_root,
            allocatable=node.allocatable,
        )
        self.hosts = node.pods_dir / self.uid / "etc-hosts"
        self.gone = False
        self.wake = threading.Event()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._pushed: JSON | None = None
        self._next_refresh = 0.0
        self._cleaned = False

    # --- inputs ---

    def update(self, pod: JSON) -> None:
        """A newer version of the pod from the watch."""
        with self._lock:
            labels_changed = (pod["metadata"].get("labels"), pod["metadata"].get("annotations")) != (
                self.pod["metadata"].get("labels"),
                self.pod["metadata"].get("annotations"),
            )
            self.pod = pod
            self.volumes.pod = pod
        if labels_changed:
            self._next_refresh = 0.0
        self.wake.set()

    def deleted(self) -> None:
        """The pod object is gone (force-deleted, or the final delete went through)."""
        self.gone = True
        self.wake.set()

    def current(self) -> JSON:
        with self._lock:
            return self.pod

    # --- the loop ---

    def run(self) -> None:
        try:
            self._run()
        except Exception:
            log.exception("pod %s: worker failed", pod_ref(self.pod))
        finally:
            self._cleanup()
            self.done.set()

    def _run(self) -> None:
        if (self.current().get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return  # finished before this kubelet started: nothing to run
        while not self.gone and not self._sandbox():
            self.wake.wait(2.0)
            self.wake.clear()
        while not self.gone:
            pod = self.current()
            if pod["metadata"].get("deletionTimestamp"):
                self._terminate(pod)
                self._final_delete(pod)
                return
            if self._deadline_exceeded(pod):
                self._fail_deadline(pod)
            elif not self.record.terminal:
                self._sync(pod)
            self._push_status()
            if self.record.terminal:
                self._cleanup()
            self.wake.wait(TICK)
            self.wake.clear()

    # --- sandbox ---

    def _sandbox(self) -> bool:
        pod = self.current()
        status = pod.get("status") or {}
        self.record.host_ip = self.node.host_ip
        if status.get("podIP") and not self.record.pod_ip:
            with contextlib.suppress(ValueError):  # an address of another plan: take a new one
                self.node.addresses.restore(self.uid, str(status["podIP"]))
        self.record.pod_ip = self.node.addresses.allocate(self.uid)
        self.record.start_time = str(status.get("startTime") or rfc3339(time.time()))
        self._push_status()
        try:
            self.volumes.setup()
            self._write_hosts()
        except VolumeError as error:
            message = f'MountVolume.SetUp failed for volume "{error.volume}" : {error.message}'
            self.node.recorder.warning(pod, "FailedMount", message)
            return False
        except (ApiError, OSError) as error:
            log.warning("pod %s: sandbox setup failed: %s", pod_ref(pod), error)
            return False
        self._next_refresh = time.time() + REFRESH_SECONDS
        self.record.sandbox_ready = True
        self._push_status()
        return True

    def _write_hosts(self) -> None:
        pod = dict(self.current())
        pod["status"] = {**(pod.get("status") or {}), "podIP": self.record.pod_ip}
        services, pods = self.node.cluster.services(), self.node.cluster.pods()
        self.hosts.parent.mkdir(parents=True, exist_ok=True)
        text = hosts_file(pod, services, pods)
        # Rewritten in place: each container bind-mounts this inode.
        with self.hosts.open("w", encoding="utf-8") as handle:
            handle.write(text)

    def _refresh(self) -> None:
        if time.time() < self._next_refresh:
            return
        self._next_refresh = time.time() + REFRESH_SECONDS
        try:
            self.volumes.refresh()
            self._write_hosts()
        except (VolumeError, ApiError, OSError) as error:
            log.warning("pod %s: refresh failed: %s", pod_ref(self.current()), error)

    # --- sync ---

    def _sync(self, pod: JSON) -> None:
        for slot in self.slots:
            if slot.reap():
                self.wake.set()
        self._refresh()
        if self._sync_init(pod):
            self._sync_main(pod)
        self._check_completion(pod)

    def _sync_init(self, pod: JSON) -> bool:
        """Drive the init containers in order; True once every one is done (or, a sidecar, started)."""
        initialized = any(s.runs for s in self.slots if not s.init)
        for slot in (s for s in self.slots if s.init):
            if slot.sidecar:
                if not slot.running:
                    self._start_or_wait(pod, slot)
                if not slot.record.started and not initialized:
                    return False
                continue
            if initialized:
                continue
            if slot.exit_code == 0:
                continue
            if slot.running:
                return False
            if slot.runs == 0 or slot.wants_restart(self._policy(pod)):
                self._start_or_wait(pod, slot)
            return False
        return True

    def _sync_main(self, pod: JSON) -> None:
        for slot in (s for s in self.slots if not s.init):
            if slot.running:
                continue
            if slot.runs == 0 or slot.wants_restart(self._policy(pod)):
                self._start_or_wait(pod, slot)

    def _check_completion(self, pod: JSON) -> None:
        """With no main container running or due to restart, stop the sidecars; the pod is then done."""
        main = [s for s in self.slots if not s.init]
        policy = self._policy(pod)
        if any(s.running or s.runs == 0 or s.wants_restart(policy) for s in main):
            failed_init = any(
                s.init and not s.sidecar and s.exit_code not in (None, 0) and not s.wants_restart(policy)
                for s in self.slots
            )
            if not failed_init:
                return
        for slot in reversed([s for s in self.slots if s.sidecar]):
            self._stop(pod, slot, 30.0)
        self.record.terminal = True

    @staticmethod
    def _policy(pod: JSON) -> str:
        return str((pod.get("spec") or {}).get("restartPolicy") or "Always")

    # --- starting a container ---

    def _start_or_wait(self, pod: JSON, slot: Slot) -> None:
        if slot.runs:
            remaining = slot.backoff_remaining(time.time())
            if remaining > 0:
                slot.wait_back_off(crash_loop_message(pod, slot.name, slot.backoff))
                if not slot.backoff_reported:
                    slot.backoff_reported = True
                    self.node.recorder.warning(
                        pod,
                        "BackOff",
                        f"Back-off restarting failed container {slot.name} in pod {pod_ref(pod)}",
                        slot.field_path,
                    )
                return
            slot.advance_backoff()
        self._start(pod, slot)

    def _config(self, pod: JSON, slot: Slot, log_file: ContainerLog) -> ContainerConfig:
        spec = slot.spec
        namespace = pod["metadata"]["namespace"]
        services = self.node.cluster.services()
        links = (pod.get("spec") or {}).get("enableServiceLinks", True) is not False
        env = container_env(
            self._with_ip(pod),
            spec,
            self.node.api,
            service_env(services, namespace, links),
            allocatable=self.node.allocatable,
        )
        env = {**image_env(str(spec.get("image", ""))), **env}  # the pod's variables override the image's
        argv = image_command(
            str(spec.get("image", "")),
            expand_args(spec.get("command") or [], env),
            expand_args(spec.get("args") or [], env),
        )
        pod_security = (pod.get("spec") or {}).get("securityContext") or {}
        security = {**pod_security, **(spec.get("securityContext") or {})}
        groups = [int(g) for g in pod_security.get("supplementalGroups") or []]
        if pod_security.get("fsGroup") is not None:
            groups.append(int(pod_security["fsGroup"]))
        return ContainerConfig(
            pod_uid=self.uid,
            name=slot.name,
            argv=argv,
            env=env,
            working_dir=spec.get("workingDir"),
            mounts=self.volumes.mounts_for(spec),
            hosts_file=self.hosts,
            run_as_user=security.get("runAsUser"),
            run_as_group=security.get("runAsGroup"),
            supplemental_groups=groups,
            output_fds=(log_file.stdout_fd, log_file.stderr_fd),
            memory_limit=memory_limit(spec),
        )

    def _with_ip(self, pod: JSON) -> JSON:
        status = {**(pod.get("status") or {}), "podIP": self.record.pod_ip, "hostIP": self.record.host_ip}
        status["podIPs"] = [{"ip": self.record.pod_ip}]
        return {**pod, "status": status}

    def _start(self, pod: JSON, slot: Slot) -> None:
        recorder, path = self.node.recorder, slot.field_path
        image = str(slot.spec.get("image", ""))
        restart_count = slot.record.restart_count + (1 if slot.runs else 0)
        output = ContainerLog(log_path(self.node.log_root, pod, slot.name, restart_count))
        try:
            config = self._config(pod, slot, output)
        except (ConfigError, StartError) as error:
            output.close()
            message = error.message
            slot.record.waiting_reason = "CreateContainerConfigError"
            slot.record.waiting_message = message
            recorder.warning(pod, "Failed", f"Error: {message}", path)
            return
        recorder.normal(pod, "Pulled", f'Container image "{image}" already present on machine', path)
        try:
            slot.begin(self.node.runtime, config, output)
        except StartError as error:
            recorder.warning(pod, "Failed", f"Error: {error.message}", path)
            return
        recorder.normal(pod, "Created", f"Created container: {slot.name}", path)
        recorder.normal(pod, "Started", f"Started container {slot.name}", path)
        self._push_status()
        assert slot.process is not None
        # An exit is acted on at once (the kubelet hears containerd's exit event), not at the next tick.
        name = f"exit-{slot.name}"
        threading.Thread(target=self._wake_on_exit, args=(slot.process,), daemon=True, name=name).start()
        failure = run_hook("postStart", slot.spec, pod, slot.process, pod_ip=self.record.pod_ip)
        if failure:
            recorder.warning(pod, "FailedPostStartHook", failure, path)
            slot.kill(self._grace(pod))
            return
        slot.start_probes(
            ("startup",) if slot.probe("startup") else ("readiness", "liveness"), self._prober(slot)
        )

    def _wake_on_exit(self, process: Container) -> None:
        process.wait(None)
        self.wake.set()

    # --- probes ---

    def _prober(self, slot: Slot) -> Callable[[str, JSON, Container], ProbeWorker]:
        def make(kind: str, probe: JSON, process: Container) -> ProbeWorker:
            return ProbeWorker(
                kind,
                probe,
                slot.spec,
                process,
                self.record.pod_ip,
                on_result=lambda k, ok: self._probe_result(slot, process, k, ok),
                on_failure=lambda k, out: self._probe_failed(slot, k, out),
            )

        return make

    def _probe_failed(self, slot: Slot, kind: str, output: str) -> None:
        message = f"{kind.capitalize()} probe failed: {output}"
        self.node.recorder.warning(self.current(), "Unhealthy", message, slot.field_path)

    def _probe_result(self, slot: Slot, process: Container, kind: str, ok: bool) -> None:
        if slot.process is not process:
            return  # a result about a previous run
        if kind == "readiness":
            slot.record.ready = ok
        elif kind == "startup" and ok:
            slot.record.started = True
            slot.start_probes(("readiness", "liveness"), self._prober(slot))
        elif not ok:
            pod = self.current()
            self.node.recorder.normal(
                pod,
                "Killing",
                f"Container {slot.name} failed {kind} probe, will be restarted",
                slot.field_path,
            )
            threading.Thread(target=slot.kill, args=(self._grace(pod),), daemon=True).start()
        self.wake.set()

    # --- stopping ---

    @staticmethod
    def _grace(pod: JSON) -> float:
        meta, spec = pod["metadata"], pod.get("spec") or {}
        value = meta.get("deletionGracePeriodSeconds")
        if value is None:
            value = spec.get("terminationGracePeriodSeconds", 30)
        return float(value)

    def _stop(self, pod: JSON, slot: Slot, grace: float) -> None:
        if not slot.running:
            return
        self.node.recorder.normal(pod, "Killing", f"Stopping container {slot.name}", slot.field_path)
        deadline = time.monotonic() + grace
        assert slot.process is not None
        stop = threading.Event()
        hook = threading.Thread(target=self._pre_stop, args=(pod, slot, slot.process, stop), daemon=True)
        hook.start()
        hook.join(max(0.0, grace))
        stop.set()
        slot.kill(max(0.0, deadline - time.monotonic()))

    def _pre_stop(self, pod: JSON, slot: Slot, process: Container, stop: threading.Event) -> None:
        failure = run_hook("preStop", slot.spec, pod, process, pod_ip=self.record.pod_ip, stop=stop)
        if failure:
            self.node.recorder.warning(pod, "FailedPreStopHook", failure, slot.field_path)

    def _terminate(self, pod: JSON) -> None:
        """Stop every container: main ones together, then sidecars in reverse order, within the grace."""
        deadline = time.monotonic() + self._grace(pod)
        main = [s for s in self.slots if not s.sidecar and s.running]
        threads = [
            threading.Thread(target=self._stop, args=(pod, s, self._grace(pod)), daemon=True) for s in main
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for slot in reversed([s for s in self.slots if s.sidecar]):
            self._stop(pod, slot, max(2.0, deadline - time.monotonic()))
        self.record.terminal = True
        self._push_status()

    def _deadline_exceeded(self, pod: JSON) -> bool:
        seconds = (pod.get("spec") or {}).get("activeDeadlineSeconds")
        if not isinstance(seconds, int) or self.record.terminal or not self.record.start_time:
            return False
        return time.time() >= parse_time(self.record.start_time) + seconds

    def _fail_deadline(self, pod: JSON) -> None:
        self.node.recorder.warning(pod, "DeadlineExceeded", DEADLINE_MESSAGE)
        for slot in [s for s in self.slots if not s.sidecar] + list(
            reversed([s for s in self.slots if s.sidecar])
        ):
            self._stop(pod, slot, self._grace(pod))
        self.record.forced_phase = "Failed"
        self.record.reason = "DeadlineExceeded"
        self.record.message = DEADLINE_MESSAGE
        self.record.terminal = True

    def _final_delete(self, pod: JSON) -> None:
        self._cleanup()
        body = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}
        body["preconditions"] = {"uid": self.uid}
        try:
            self.node.api.delete(_pod_path(pod), body)
        except ApiError as error:
            if error.status not in (404, 409):
                log.warning("pod %s: final delete failed: HTTP %s", pod_ref(pod), error.status)

    def _cleanup(self) -> None:
        """Kill what still runs, unmount and delete the pod's directories, free its IP (once)."""
        if self._cleaned:
            return
        self._cleaned = True
        for slot in self.slots:
            slot.stop_probes()
            if slot.running and slot.process is not None:
                slot.kill(0)
        try:
            self.volumes.teardown()
        except OSError as error:
            log.warning("pod %s: volume teardown: %s", pod_ref(self.current()), error)
        self.node.runtime.remove_pod(self.uid)
        self.node.addresses.release(self.uid)

    # --- status ---

    def _push_status(self) -> None:
        pod = self.current()
        self.record.containers = {s.name: s.record for s in self.slots if s.runs or s.record.waiting_reason}
        status = pod_status(pod, self.record, rfc3339(time.time()))
        if status == self._pushed or self.gone:
            return
        try:
            updated = self.node.api.patch_json(_pod_path(pod) + "/status", {"status": status})
        except ApiError as error:
            if error.status == 404:
                self.gone = True
            else:
                log.warning("pod %s: status update failed: HTTP %s", pod_ref(pod), error.status)
            return
        except OSError as error:
            log.warning("pod %s: status update failed: %s", pod_ref(pod), error)
            return
        self._pushed = status
        with self._lock:
            if int(updated["metadata"].get("resourceVersion", 0)) > int(
                self.pod["metadata"].get("resourceVersion", 0)
            ):
                self.pod = updated
