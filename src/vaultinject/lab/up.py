"""`vaultinject lab up|down|node`: a whole lab cluster (API server with its controllers and N kubelets).

Every process is started in a session of its own and recorded in `<data-dir>/lab.json`, so `lab down`
and `lab node stop|start` work from any shell, also on a lab started with `--detach`. Each kubelet is
PID 1 of its own PID and mount namespace (`unshare`): killing it is a node failure, and its mounts vanish
with it, so nothing stays mounted on the host.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import yaml

from vaultinject.lab import vault_workload as workload
from vaultinject.lab.kube.cli import READY_PREFIX
from vaultinject.lab.kube.server import node_token_file
from vaultinject.lab.kubelet import main as kubelet
from vaultinject.lab.kubelet.api import ApiClient, ApiError
from vaultinject.lab.vault_bringup import VaultAccess, VaultUpError, bring_up

STATE_FILE = "lab.json"
DEFAULT_DATA_DIR = Path.home() / ".local" / "state" / "vaultinject" / "lab"

# (flag, type, help): passed to `lab kube` when given.
KUBE_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("--node-monitor-grace-period", float, "seconds without a heartbeat before a node is Unknown (50)"),
    ("--node-monitor-period", float, "seconds between node health checks (5)"),
    ("--node-startup-grace-period", float, "seconds a new node may take to post Ready (60)"),
    ("--pod-gc-orphan-quarantine", float, "seconds a node must be gone before its pods are removed"),
    ("--default-not-ready-toleration-seconds", int, "tolerationSeconds for not-ready (300)"),
    ("--default-unreachable-toleration-seconds", int, "tolerationSeconds for unreachable (300)"),
    ("--simulated-nodes", int, "extra nodes with simulated kubelets (kwok-style, no processes)"),
)
# Passed to every `lab kubelet` when given.
KUBELET_FLAGS: tuple[tuple[str, type, str], ...] = (
    ("--heartbeat-interval", float, "seconds between node status posts (10)"),
    ("--lease-duration", int, "node Lease duration in seconds (40)"),
    ("--crash-loop-backoff", float, "first CrashLoopBackOff delay in seconds (10)"),
    ("--max-crash-loop-backoff", float, "CrashLoopBackOff cap in seconds (300)"),
)


class LabError(Exception):
    """A lab that cannot be started, found or changed; the message says why and what to do."""


@dataclass
class Process:
    pid: int
    started: int  # /proc/<pid>/stat start time: a recycled PID is not ours

    @classmethod
    def of(cls, pid: int) -> Process:
        return cls(pid, _start_time(pid))

    def alive(self) -> bool:
        _reap(self.pid)
        return _start_time(self.pid) == self.started != 0


@dataclass
class LabState:
    """What `lab up` started, as recorded in `<data-dir>/lab.json`."""

    url: str
    kubeconfig: str
    api_server: Process
    kubelet_flags: list[str]
    nodes: dict[str, int] = field(default_factory=dict)  # name -> node index
    kubelets: dict[str, Process] = field(default_factory=dict)

    @classmethod
    def load(cls, data_dir: Path) -> LabState | None:
        try:
            raw = json.loads((data_dir / STATE_FILE).read_text())
            return cls(
                url=raw["url"],
                kubeconfig=raw["kubeconfig"],
                api_server=Process(**raw["api_server"]),
                kubelet_flags=list(raw["kubelet_flags"]),
                nodes={str(k): int(v) for k, v in raw["nodes"].items()},
                kubelets={str(k): Process(**v) for k, v in raw["kubelets"].items()},
            )
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as error:
            raise LabError(f"{data_dir / STATE_FILE} is damaged ({error}); remove it and retry") from None

    def save(self, data_dir: Path) -> None:
        path = data_dir / STATE_FILE
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n")
        temporary.replace(path)


@dataclass
class Lab:
    """One lab data directory: its state, its processes, its API."""

    data_dir: Path
    out: IO[str] = field(default_factory=lambda: sys.stdout)

    @property
    def kube_dir(self) -> Path:
        return self.data_dir / "kube"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    def running(self) -> LabState:
        state = LabState.load(self.data_dir)
        if state is None or not state.api_server.alive():
            raise LabError(f"no lab is running in {self.data_dir}; start one with `vaultinject lab up`")
        return state

    def api(self, state: LabState) -> ApiClient:
        return ApiClient(state.url, self.kube_dir / "pki" / "ca.crt", self.kube_dir / "admin-token", 5)

    # --- starting ------------------------------------------------------------------------------------

    def start_api_server(self, listen: str, kubeconfig: Path, flags: list[str], timeout: float) -> LabState:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / "kube-apiserver.log"
        command = [
            sys.executable, "-m", "vaultinject.cli", "lab", "kube", "--listen", listen,
            "--data-dir", str(self.kube_dir), "--kubeconfig-out", str(kubeconfig), "--controllers", "*",
            "--service-proxy", "--no-grace-reaper", *flags,
        ]  # fmt: skip
        offset = log_path.stat().st_size if log_path.exists() else 0
        process = _spawn(command, log_path)
        url = _wait_for_line(process, log_path, offset, READY_PREFIX, timeout)
        return LabState(url.split()[0], str(kubeconfig), Process.of(process.pid), [])

    def start_node(self, state: LabState, name: str) -> subprocess.Popen[bytes]:
        command = kubelet.command(
            node=name,
            index=state.nodes[name],
            server=state.url,
            ca_file=self.kube_dir / "pki" / "ca.crt",
            token_file=node_token_file(self.kube_dir, name),
            data_dir=self.data_dir / "nodes" / name,
            log_dir=self.kube_dir / "pod-logs",
            extra=(*state.kubelet_flags, "--claims-dir", str(self.data_dir / "claims")),
        )
        process = _spawn(command, self.log_dir / f"{name}.log")
        state.kubelets[name] = Process.of(process.pid)
        state.save(self.data_dir)
        return process

    def wait_ready(self, state: LabState, names: list[str], timeout: float) -> None:
        """Block until every node in `names` is Ready, printing a line as each one turns Ready."""
        api, started, waiting = self.api(state), time.monotonic(), list(names)
        since = int(time.time())  # a heartbeat from before this wait may be a dead kubelet's
        while waiting:
            for name in list(waiting):
                if not state.kubelets[name].alive():
                    raise LabError(f"node {name} stopped while starting:\n{self.log_tail(name)}")
                if node_ready(_get(api, f"/api/v1/nodes/{name}"), since):
                    waiting.remove(name)
                    self.say(f"  node {name} Ready ({time.monotonic() - started:.1f}s)")
            if waiting and time.monotonic() - started > timeout:
                raise LabError(
                    f"node {waiting[0]} not Ready after {timeout:.0f}s:\n{self.log_tail(waiting[0])}"
                )
            if waiting:
                time.sleep(0.1)

    # --- stopping ------------------------------------------------------------------------------------

    def stop_node(self, state: LabState, name: str, graceful: bool) -> None:
        """Gracefully: SIGTERM to the kubelet (it stops its pods). Otherwise SIGKILL: a node failure."""
        process = state.kubelets.pop(name, None)
        if process is not None and process.alive():
            if graceful:
                for child in _children(process.pid):  # unshare does not forward signals
                    _signal(child, signal.SIGTERM)
                _wait_gone(process, 30)
            _signal(process.pid, signal.SIGKILL)
            _wait_gone(process, 10)
        state.save(self.data_dir)

    def stop_all(self, state: LabState) -> None:
        for name in list(state.kubelets):
            self.stop_node(state, name, graceful=True)
        if state.api_server.alive():
            _signal(state.api_server.pid, signal.SIGTERM)
            if not _wait_gone(state.api_server, 15):
                _signal(state.api_server.pid, signal.SIGKILL)
                _wait_gone(state.api_server, 5)
        with contextlib.suppress(FileNotFoundError):
            (self.data_dir / STATE_FILE).unlink()

    # --- output --------------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def pod_log(self, namespace: str, pod: str, size: int = 1500) -> str:
        """The tail of a pod's container logs, for a message about a pod that did not come up."""
        tails = []
        for path in sorted((self.kube_dir / "pod-logs").glob(f"{namespace}_{pod}_*/**/*.log")):
            tails.append(f"--- {path}\n{path.read_text(errors='replace')[-size:]}")
        return "\n".join(tails) or f"--- {namespace}/{pod}: no container log"

    def log_tail(self, name: str, size: int = 2000) -> str:
        path = self.log_dir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else "(no log)"
        return f"--- {path}\n{text[-size:]}"


def node_ready(node: dict[str, Any] | None, since: int = 0) -> bool:
    """Ready=True with a heartbeat at or after `since` (epoch seconds), and no taints left (the
    not-ready taint goes once the node lifecycle controller has seen it Ready)."""
    if not node:
        return False
    conditions = [c for c in node.get("status", {}).get("conditions") or [] if c.get("type") == "Ready"]
    if not conditions or conditions[0].get("status") != "True" or node["spec"].get("taints"):
        return False
    heartbeat = str(conditions[0].get("lastHeartbeatTime") or "")
    return since == 0 or _epoch(heartbeat) >= since


def _epoch(rfc3339: str) -> float:
    try:
        return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return 0.0


# --- commands ----------------------------------------------------------------------------------------


def up(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    lab = Lab(args.data_dir.resolve(), out)
    lab.data_dir.mkdir(parents=True, exist_ok=True)
    signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops the lab as Ctrl-C does
    with _exclusive(lab.data_dir):
        state = _start(lab, args)
        vault = _start_vault(lab, state, args) if args.vault else None
    lab.say(f"lab up: {args.nodes} node(s) Ready; API server {state.url}")
    lab.say(f"  export KUBECONFIG={state.kubeconfig}")
    if vault is not None:
        lab.say(f"  export VAULT_ADDR={vault.addr} VAULT_CACERT={vault.ca_file}")
        lab.say(f"  the root token is in {vault.root_token_file} (mode 0600); use it only to bootstrap")
    if args.detach:
        lab.say(f"  stop it with: vaultinject lab down --data-dir {lab.data_dir}")
        return 0
    lab.say("  press Ctrl-C to stop the lab")
    try:
        while state.api_server.alive():
            time.sleep(0.5)
    except KeyboardInterrupt:
        lab.say("lab up: stopping")
        lab.stop_all(_freshest(lab, state))
        lab.say("lab up: stopped")
        return 0
    lab.stop_all(_freshest(lab, state))
    raise LabError(f"the API server exited:\n{lab.log_tail('kube-apiserver')}")


def _start(lab: Lab, args: argparse.Namespace) -> LabState:
    _refuse_running(lab)
    names = [f"node-{index}" for index in range(1, args.nodes + 1)]
    for name in names:
        node_token_file(lab.kube_dir, name)  # the API server loads node credentials at start
    kubeconfig = (args.kubeconfig_out or lab.data_dir / "kubeconfig").resolve()
    lab.say(f"lab up: starting the API server and {args.nodes} node(s) in {lab.data_dir}")
    state = lab.start_api_server(args.listen, kubeconfig, _given(args, KUBE_FLAGS), args.timeout)
    state.kubelet_flags = _given(args, KUBELET_FLAGS)
    state.nodes = {name: index for index, name in enumerate(names, start=1)}
    state.save(lab.data_dir)
    try:
        for name in names:
            lab.start_node(state, name)
        lab.wait_ready(state, names, args.timeout)
    except BaseException:
        lab.stop_all(state)
        raise
    return state


def _start_vault(lab: Lab, state: LabState, args: argparse.Namespace) -> VaultAccess:
    lab.say(f"lab up: starting Vault ({args.vault_replicas} replicas) in namespace {workload.NAMESPACE}")
    try:
        return bring_up(
            lab.api(state), lab.data_dir, lab.say, replicas=args.vault_replicas,
            auto_unseal=args.vault_auto_unseal, timeout=args.timeout,
        )  # fmt: skip
    except (VaultUpError, ApiError, OSError) as error:
        logs = "\n".join(
            lab.pod_log(workload.NAMESPACE, f"{workload.NAME}-{n}") for n in range(args.vault_replicas)
        )
        lab.stop_all(state)
        raise LabError(f"{error}\n{logs}") from None
    except BaseException:
        lab.stop_all(state)
        raise


def vault_manifests(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    """Print the objects `lab up --vault` applies (its TLS Secret is made per lab, from the lab's CA)."""
    out.write(
        f"# The lab's Vault, as `vaultinject lab up --vault` applies it. The Secret {workload.TLS_SECRET}\n"
    )
    out.write("# (tls.crt, tls.key, ca.crt) is issued per lab from a CA kept in DATA_DIR/vault/.\n")
    documents = workload.manifests(args.replicas, not args.no_auto_unseal)
    out.write(yaml.safe_dump_all(documents, sort_keys=False, explicit_start=True))
    return 0


def down(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    lab = Lab(args.data_dir.resolve(), out)
    state = LabState.load(lab.data_dir)
    if state is None:
        lab.say(f"lab down: no lab is running in {lab.data_dir}")
        return 0
    lab.stop_all(state)
    lab.say(f"lab down: stopped the lab in {lab.data_dir}")
    return 0


def node(args: argparse.Namespace, out: IO[str] = sys.stdout) -> int:
    lab = Lab(args.data_dir.resolve(), out)
    lab.running()  # before the lock: a data directory with no lab is left as it is
    with _exclusive(lab.data_dir, wait=True):
        state = lab.running()
        if args.name not in state.nodes:
            known = ", ".join(sorted(state.nodes))
            raise LabError(f"no node {args.name!r} in this lab (nodes: {known})")
        running = args.name in state.kubelets and state.kubelets[args.name].alive()
        if args.action == "stop":
            if not running:
                raise LabError(f"node {args.name} is not running")
            lab.stop_node(state, args.name, graceful=False)
            lab.say(f"lab node: {args.name} stopped (its kubelet and every container were killed)")
            return 0
        if running:
            raise LabError(f"node {args.name} is already running")
        lab.start_node(state, args.name)
        lab.wait_ready(state, [args.name], args.timeout)
        return 0


def _freshest(lab: Lab, state: LabState) -> LabState:
    """The lab's record as it is now (`lab node` may have changed it since `up` started)."""
    try:
        return LabState.load(lab.data_dir) or state
    except LabError:
        return state


# --- argument parsing --------------------------------------------------------------------------------


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vaultinject lab", description="Run a whole lab cluster.")
    commands = p.add_subparsers(dest="command", required=True)
    start = commands.add_parser("up", help="start the API server, controllers and N kubelets")
    start.add_argument("--nodes", type=_positive, default=3, help="real nodes (kubelet processes), default 3")
    _data_dir(start)
    start.add_argument("--kubeconfig-out", type=Path, help="kubeconfig path (default: DATA_DIR/kubeconfig)")
    start.add_argument("--listen", default="127.0.0.1:0", help="API server HOST:PORT (port 0: a free one)")
    start.add_argument("--detach", action="store_true", help="return once every node is Ready")
    start.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for readiness")
    for flag, kind, help_ in (*KUBE_FLAGS, *KUBELET_FLAGS):
        start.add_argument(flag, type=kind, help=help_)
    start.add_argument("--vault", action="store_true", help="also run Vault in the lab (namespace vault)")
    start.add_argument("--vault-replicas", type=_positive, default=2, help="Vault replicas (default 2)")
    start.add_argument(
        "--no-vault-auto-unseal", dest="vault_auto_unseal", action="store_false",
        help="Shamir-seal Vault: a restarted replica comes back sealed (key in DATA_DIR/vault/)",
    )  # fmt: skip
    _data_dir(commands.add_parser("down", help="stop the lab running in DATA_DIR"))
    manifests = commands.add_parser("vault-manifests", help="print the Vault objects `up --vault` applies")
    manifests.add_argument("--replicas", type=_positive, default=2, help="Vault replicas (default 2)")
    manifests.add_argument("--no-auto-unseal", action="store_true", help="as with up --no-vault-auto-unseal")
    machine = commands.add_parser("node", help="stop (SIGKILL, a node failure) or start one lab node")
    machine.add_argument("action", choices=("stop", "start"))
    machine.add_argument("name", help="the node's name, e.g. node-2")
    machine.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for Ready (start)")
    _data_dir(machine)
    return p


def main(argv: list[str]) -> int:
    """`vaultinject lab up|down|node ...`; exit 1 on a lab that cannot be started or changed."""
    args = parser().parse_args(argv)
    commands = {"up": up, "down": down, "node": node, "vault-manifests": vault_manifests}
    run: Callable[[argparse.Namespace], int] = commands[args.command]
    try:
        return run(args)
    except LabError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: {error.strerror or error}: {error.filename or ''}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted; everything the lab started is stopped", file=sys.stderr)
        return 130


def _data_dir(p: argparse.ArgumentParser) -> None:
    default = os.environ.get("VAULTINJECT_LAB_DIR") or str(DEFAULT_DATA_DIR)
    p.add_argument("--data-dir", type=Path, default=Path(default), help=f"lab state (default: {default})")


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return number


def _given(args: argparse.Namespace, flags: tuple[tuple[str, type, str], ...]) -> list[str]:
    given: list[str] = []
    for flag, _, _ in flags:
        value = getattr(args, flag[2:].replace("-", "_"))
        if value is not None:
            given += [flag, str(value)]
    return given


# --- processes ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _exclusive(data_dir: Path, wait: bool = False) -> Iterator[None]:
    with (data_dir / "lab.lock").open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            raise LabError(f"a lab is already starting or running in {data_dir}") from None
        yield


def _refuse_running(lab: Lab) -> None:
    state = LabState.load(lab.data_dir)
    if state is None:
        return
    if state.api_server.alive():
        raise LabError(
            f"a lab is already running in {lab.data_dir} (API server {state.url}, pid "
            f"{state.api_server.pid}); stop it with `vaultinject lab down --data-dir {lab.data_dir}`"
        )
    lab.stop_all(state)  # a lab whose API server died: clear what is left of it


def _spawn(command: list[str], log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True
        )


def _wait_for_line(
    process: subprocess.Popen[bytes], log_path: Path, offset: int, prefix: str, timeout: float
) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        with log_path.open(errors="replace") as log:
            log.seek(offset)
            for line in log:
                if line.startswith(prefix):
                    return line[len(prefix) :].strip()
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
        process.wait()
    tail = log_path.read_text(errors="replace")[offset:][-2000:]
    raise LabError(f"the API server did not start (exit {process.returncode}):\n{tail}")


def _get(api: ApiClient, path: str) -> dict[str, Any] | None:
    try:
        found = api.get_json(path)
    except (ApiError, OSError):
        return None
    return found if isinstance(found, dict) else None


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _start_time(pid: int) -> int:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0
    fields = stat[stat.rindex(")") + 2 :].split()
    return 0 if fields[0] == "Z" else int(fields[19])


def _reap(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _children(pid: int) -> list[int]:
    try:
        return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _signal(pid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signum)


def _wait_gone(process: Process, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while process.alive():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True
