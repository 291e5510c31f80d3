"""`make demo`: the whole story on this machine, step by step with timings.

A lab cluster with Vault in it; `vaultinject vault-setup`; `vaultinject install | kubectl apply -f -`;
a namespace labelled for injection; the app of demo/app.yaml going Init:0/1 -> Running and Ready and
printing the secret it read from its file; the secret rotated in Vault and seen by the app; then the lab
stopped, leaving nothing running. Needs kubectl on PATH. Exit 0 when every step did what it shows.

Run: .venv/bin/python demo/run.py [--data-dir DIR] [--keep]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import hvac
import yaml

from vaultinject.lab.kube.harness import wait_for

HERE = Path(__file__).resolve().parent
NAMESPACE = "shop"
AUDIT_LOG = "/vault/data/audit.log"
GREETING, ROTATED = "hello from Vault", "hello again, rotated"
STARTED = time.monotonic()


class DemoFailed(Exception):
    """A step did not do what it shows."""


def step(title: str) -> None:
    print(f"\n[{time.monotonic() - STARTED:5.1f}s] == {title}", flush=True)


def show(line: str) -> None:
    print(f"         {line}", flush=True)


def run(*command: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        command, input=stdin, capture_output=True, text=True, env=env, timeout=120, check=False
    )
    if result.returncode != 0:
        raise DemoFailed(
            f"`{' '.join(command)}` failed ({result.returncode}):\n{result.stderr}{result.stdout}"
        )
    return result.stdout


def vaultinject(*args: str, stdin: str = "", env: dict[str, str] | None = None) -> str:
    return run(sys.executable, "-m", "vaultinject.cli", *args, stdin=stdin, env=env)


def wait(what: str, check: Callable[[], bool], timeout: float = 60) -> None:
    try:
        wait_for(check, timeout=timeout, interval=0.2)
    except TimeoutError:
        raise DemoFailed(f"timed out waiting for {what}") from None


class Demo:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.env = {**os.environ, "KUBECONFIG": str(data_dir / "kubeconfig")}
        self.env.pop("VAULT_TOKEN", None)

    def kubectl(self, *args: str, stdin: str = "") -> str:
        return run("kubectl", *args, stdin=stdin, env=self.env)

    def start_lab(self, *flags: str) -> None:
        """`flags`: more `lab up` flags (the drills' short node timers)."""
        step("start a lab cluster (3 nodes) with Vault in it: vaultinject lab up --vault --detach")
        output = vaultinject(
            "lab", "up", "--nodes", "3", "--vault", "--detach", "--data-dir", str(self.data_dir), *flags
        )
        for line in output.splitlines():
            show(line)
        vault = self.data_dir / "vault"
        self.env.update(VAULT_ADDR=_exported(output, "VAULT_ADDR"), VAULT_CACERT=str(vault / "ca.crt"))
        self.root = hvac.Client(
            url=self.env["VAULT_ADDR"],
            token=(vault / "root-token").read_text().strip(),
            verify=str(vault / "ca.crt"),
        )

    def prepare_vault(self) -> None:
        step("put the app's secrets in Vault (a KV v2 secret and a database role), with an audit log")
        # each replica's own volume (data-vault-N), as vault-helm's auditStorage puts it
        self.root.sys.enable_audit_device("file", options={"file_path": AUDIT_LOG})
        self.root.sys.enable_secrets_engine("kv", path="secret", options={"version": "2"})
        self.root.secrets.kv.v2.create_or_update_secret(
            path=f"{NAMESPACE}/config", secret={"greeting": GREETING}, mount_point="secret"
        )
        self.root.sys.enable_secrets_engine("database")
        self.root.secrets.database.configure(
            name="shopdb", plugin_name="postgresql-database-plugin", allowed_roles=["app"],
            connection_url="postgresql://{{username}}:{{password}}@db.shop:5432/shop", username="vault",
            password="demo-only",
        )  # fmt: skip
        self.root.secrets.database.create_role(
            name="app",
            db_name="shopdb",
            creation_statements=["CREATE ROLE ..."],
            default_ttl="1m",
            max_ttl="10m",
        )
        policy = f'path "secret/data/{NAMESPACE}/*" {{ capabilities = ["read"] }}\n'
        policy += 'path "database/creds/app" { capabilities = ["read"] }\n'
        (self.data_dir / "app-read.hcl").write_text(policy)
        show("secret/shop/config greeting, database/creds/app (1 minute leases)")

    def setup_vault(self) -> None:
        step("configure Kubernetes auth the robust way: vaultinject vault-setup")
        token_file = self.data_dir / "vault" / "root-token"
        policy = f"app-read={self.data_dir / 'app-read.hcl'}"
        output = vaultinject(
            "vault-setup", "--vault-token-file", str(token_file), "--role", "app", "--service-account", "app",
            "--namespace", NAMESPACE, "--policy", "app-read", "--policy-file", policy, env=self.env,
        )  # fmt: skip
        for line in output.splitlines():
            if not line.startswith(("     ", "[")):
                show(line)

    def install(self, webhook_env: dict[str, str] | None = None) -> None:
        """`webhook_env`: variables added to the webhook's container (the tests' short TLS lifetimes)."""
        step("install the webhook: vaultinject install | kubectl apply -f -")
        manifests = vaultinject("install", "--vault-cacert", self.env["VAULT_CACERT"], env=self.env)
        self.kubectl("apply", "-f", "-", stdin=_with_webhook_env(manifests, webhook_env or {}))
        self.kubectl("-n", "vaultinject", "rollout", "status", "deployment/vaultinject", "--timeout=60s")
        show(
            "webhook Ready: "
            + self.kubectl("-n", "vaultinject", "get", "deployment", "vaultinject").splitlines()[-1]
        )

    def deploy(self) -> None:
        step(f"label namespace {NAMESPACE} for injection and deploy the app (demo/app.yaml)")
        self.kubectl("create", "namespace", NAMESPACE)
        self.kubectl("label", "namespace", NAMESPACE, "vaultinject.io/inject=enabled")
        created = time.monotonic()
        self.kubectl("apply", "-f", str(HERE / "app.yaml"))
        try:
            self._watch_until_ready(created)
        except DemoFailed:
            logs = self.kubectl(
                "-n", NAMESPACE, "logs", "deployment/shop-app", "--all-containers", "--tail=5"
            )
            raise DemoFailed(f"the app's pod is not Ready; its containers' last lines:\n{logs}") from None
        show(f"Ready {time.monotonic() - created:.1f}s after kubectl apply")

    def app_reads(self, expected: str, timeout: float = 30) -> None:
        def printed() -> bool:
            logs = self.kubectl("-n", NAMESPACE, "logs", "deployment/shop-app", "-c", "app")
            return f"greeting={expected}" in logs

        wait(f"the app to print {expected!r}", printed, timeout)
        for line in self.kubectl("-n", NAMESPACE, "logs", "deployment/shop-app", "-c", "app").splitlines():
            show(f"kubectl logs: {line}")

    def started_after_render(self) -> None:
        """The app's start came after both files were written: it logs its start time and their mtimes."""
        logs = self.kubectl("-n", NAMESPACE, "logs", "deployment/shop-app", "-c", "app")
        line = logs.split("app: started at ", 1)[1].splitlines()[0]
        started_text, written_text = line.split("; secrets written at ")
        started, rendered = float(started_text), max(float(t) for t in written_text.split())
        if started < rendered:
            raise DemoFailed(f"the app started {rendered - started:.3f}s before its secrets were written")
        show(f"the app started {(started - rendered) * 1000:.0f} ms after its last secret file was written")

    def rotate(self) -> None:
        step("rotate the secret in Vault; the agent re-renders it and the app sees it, with no restart")
        changed = time.monotonic()
        self.root.secrets.kv.v2.create_or_update_secret(
            path=f"{NAMESPACE}/config", secret={"greeting": ROTATED}, mount_point="secret"
        )
        self.app_reads(ROTATED)
        show(
            f"seen by the app {time.monotonic() - changed:.1f}s after the write; restarts: {self._restarts()}"
        )

    def stop(self) -> None:
        step("stop the lab: vaultinject lab down")
        show(vaultinject("lab", "down", "--data-dir", str(self.data_dir)).strip())

    def _watch_until_ready(self, created: float, timeout: float = 60) -> None:
        """Show each state the pod passes through (kubectl get -w), until it is 2/2 Running."""
        command = ["kubectl", "-n", NAMESPACE, "get", "pods", "-l", "app=shop-app", "-w", "--no-headers"]
        with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=self.env) as watch:
            timer = threading.Timer(timeout, watch.kill)
            timer.start()
            try:
                for line in watch.stdout or ():
                    show(f"{time.monotonic() - created:4.1f}s  {line.rstrip()}")
                    if line.split()[1:3] == ["2/2", "Running"]:
                        return
            finally:
                timer.cancel()
                watch.kill()
        raise DemoFailed("timed out waiting for the app's pod to be Ready")

    def _restarts(self) -> int:
        pods = json.loads(self.kubectl("-n", NAMESPACE, "get", "pods", "-l", "app=shop-app", "-o", "json"))
        statuses = pods["items"][0]["status"].get("containerStatuses") or []
        return sum(int(s.get("restartCount", 0)) for s in statuses)


def _with_webhook_env(manifests: str, env: dict[str, str]) -> str:
    if not env:
        return manifests
    documents = [d for d in yaml.safe_load_all(manifests) if d]
    for document in documents:
        if document["kind"] == "Deployment":
            container = document["spec"]["template"]["spec"]["containers"][0]
            container["env"] = [*container.get("env", []), *({"name": k, "value": v} for k, v in env.items())]
    return yaml.safe_dump_all(documents)


def _exported(output: str, name: str) -> str:
    for word in output.split():
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
    raise DemoFailed(f"lab up printed no {name}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, help="the lab's directory (default: a temporary one)")
    parser.add_argument("--keep", action="store_true", help="leave the lab running at the end")
    args = parser.parse_args()
    if shutil.which("kubectl") is None:
        print("error: the demo needs kubectl on PATH", file=sys.stderr)
        return 1
    data_dir = args.data_dir or Path(tempfile.mkdtemp(prefix="vaultinject-demo-"))
    demo = Demo(data_dir.resolve())
    try:
        demo.start_lab()
        demo.prepare_vault()
        demo.setup_vault()
        demo.install()
        demo.deploy()
        step("the app read its secrets from /vault/secrets at start")
        demo.app_reads(GREETING)
        demo.started_after_render()
        demo.rotate()
    except (DemoFailed, hvac.exceptions.VaultError, OSError) as error:
        print(f"\ndemo failed: {error}", file=sys.stderr)
        demo.stop()
        return 1
    except KeyboardInterrupt:
        demo.stop()
        return 130
    if args.keep:
        step(f"the lab keeps running: export KUBECONFIG={demo.env['KUBECONFIG']}")
        show(f"stop it with: vaultinject lab down --data-dir {data_dir}")
        return 0
    demo.stop()
    if args.data_dir is None:
        shutil.rmtree(data_dir, ignore_errors=True)
    step("done: nothing is left running")
    return 0


if __name__ == "__main__":
    sys.exit(main())
