"""A lab for agent tests: the lab API server, the lab Vault server reviewing tokens against it, and a
way to run the real agent as a process with a pod's annotations and service-account token.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hvac

from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.lab.vault.harness import VaultProcess, vault_process

VAULT = "vault.hashicorp.com/"
AGENT_COMMAND = [str(Path(sys.executable).with_name("vaultinject-agent"))]  # what the injector puts in pods
APP_POLICY = """
path "secret/data/app/*" { capabilities = ["read"] }
path "kv1/app/*" { capabilities = ["read", "list"] }
path "database/creds/app" { capabilities = ["read"] }
path "pki/issue/app" { capabilities = ["create", "update"] }
"""


def kubelet_annotations(annotations: dict[str, str]) -> str:
    """The downward-API annotations file (JSON quoting equals Go's %q for the printable ASCII we use)."""
    return "\n".join(f"{key}={json.dumps(value)}" for key, value in sorted(annotations.items()))


@dataclass
class Lab:
    """A configured lab: Kubernetes auth, JWT and AppRole auth, KV v1/v2, database and PKI engines."""

    kube: LabKube
    vault: VaultProcess
    workdir: Path
    app_token_file: Path
    secrets: set[str] = field(default_factory=set)  # every secret value Vault holds: never in a log

    @property
    def client(self) -> hvac.Client:
        return hvac.Client(url=self.vault.url, token=self.vault.root_token, verify=str(self.vault.ca_file))

    def put(self, path: str, **data: Any) -> None:
        """Write a KV v2 secret under secret/app/ and remember its values."""
        self.client.secrets.kv.v2.create_or_update_secret(f"app/{path}", secret=data)
        self.secrets.update(str(v) for v in data.values() if len(str(v)) >= 4)

    def agent(self, tmp_path: Path, **annotations: str) -> AgentRun:
        return AgentRun(self, tmp_path, {key.replace("_", "-"): value for key, value in annotations.items()})


@dataclass
class AgentRun:
    """The agent as the kubelet would run it: annotations file, token file, state and secret volumes."""

    lab: Lab
    root: Path
    annotations: dict[str, str]
    process: subprocess.Popen[bytes] | None = None

    def __post_init__(self) -> None:
        self.secrets_dir.mkdir(parents=True, exist_ok=True)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        full = {
            VAULT + "agent-inject": "true",
            VAULT + "role": "app",
            VAULT + "secret-volume-path": str(self.secrets_dir),
            VAULT + "ca-cert": str(self.lab.vault.ca_file),
            VAULT + "auth-min-backoff": "200ms",
            VAULT + "auth-max-backoff": "2s",
            **{VAULT + key: value for key, value in self.annotations.items()},
        }
        (self.root / "annotations").write_text(kubelet_annotations(full))

    def annotate(self, **annotations: str) -> None:
        """Add annotations (with `-` for `_` in their names) before the agent starts."""
        self.annotations.update({key.replace("_", "-"): value for key, value in annotations.items()})
        self.__post_init__()

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    @property
    def state_dir(self) -> Path:
        return self.root / "state"

    @property
    def log_file(self) -> Path:
        return self.root / "agent.log"

    def env(self, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "VAULTINJECT_VAULT_ADDR": self.lab.vault.url,
            "VAULTINJECT_TOKEN_PATH": str(self.lab.app_token_file),
            **extra,
        }

    def start(self, mode: str, **env: str) -> subprocess.Popen[bytes]:
        command = [
            sys.executable,
            "-m",
            "vaultinject.agent",
            "--mode",
            mode,
            "--annotations",
            str(self.root / "annotations"),
            "--state-dir",
            str(self.state_dir),
        ]
        log = self.log_file.open("ab")
        self.process = subprocess.Popen(command, env=self.env(**env), stdout=log, stderr=log)
        log.close()
        return self.process

    def run(self, mode: str = "init", timeout: float = 30.0, **env: str) -> int:
        """Run to completion and return the exit code."""
        return self.start(mode, **env).wait(timeout=timeout)

    def stop(self, timeout: float = 5.0) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=timeout)

    def log(self) -> str:
        return self.log_file.read_text() if self.log_file.exists() else ""

    def tokens(self) -> set[str]:
        """The Vault token this agent saved, if any."""
        state = self.state_dir / ".vaultinject-state.json"
        token = (json.loads(state.read_text()).get("token") or {}).get("token") if state.exists() else None
        return {token} if token else set()

    def file(self, name: str) -> str:
        return (self.secrets_dir / name).read_text()

    def wait_for(
        self, predicate: Callable[[], object], timeout: float = 20.0, what: str = "condition"
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(
                    f"the agent exited ({self.process.returncode}) before {what}:\n{self.log()}"
                )
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}; agent log:\n{self.log()}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()


@contextmanager
def lab_environment(workdir: Path, *, persistent: bool = False) -> Iterator[Lab]:
    """Start and configure the lab; the app pod `demo/web` and its bound token; Vault's own pod `vault-0`.

    `persistent` gives Vault a data directory, so it can be stopped and started again on its address.
    """
    with in_process_kube(workdir / "kube") as kube:
        vault_token_file, app_token_file = workdir / "vault-sa-token", workdir / "app-sa-token"
        _vault_service_account(kube, vault_token_file)
        kube.ensure_namespace("demo")
        app_pod = kube.create_pod("demo", "web", service_account="app")
        app_token_file.write_text(kube.mint_token("demo", "app", pod=app_pod))
        extra = [
            "--local-sa-token-file",
            str(vault_token_file),
            "--local-ca-cert-file",
            str(kube.ca_file),
            "--quiet",
        ]
        data_dir = workdir / "vault-data" if persistent else None
        with vault_process(extra_args=extra, workdir=workdir / "vault", data_dir=data_dir) as vault:
            lab = Lab(kube, vault, workdir, app_token_file)
            _configure_vault(lab)
            yield lab


def _vault_service_account(kube: LabKube, token_file: Path) -> None:
    kube.ensure_namespace("vault")
    kube.grant("system:auth-delegator", "vault", "vault")  # what vault-helm binds
    pod = kube.create_pod("vault", "vault-0", service_account="vault")
    token_file.write_text(kube.mint_token("vault", "vault", pod=pod))


def _configure_vault(lab: Lab) -> None:
    client = lab.client
    client.sys.create_or_update_policy("app", APP_POLICY)
    client.sys.enable_auth_method("kubernetes")
    client.auth.kubernetes.configure(kubernetes_host=lab.kube.url)
    client.auth.kubernetes.create_role(
        "app",
        bound_service_account_names=["app"],
        bound_service_account_namespaces=["demo"],
        policies=["app"],
        ttl="1h",
    )
    client.sys.enable_secrets_engine("kv", path="kv1", options={"version": "1"})
    lab.put("db", username="alice", password="correct-horse-battery", port=5432)
    client.sys.enable_secrets_engine("database")
    client.write(
        "database/config/app-db",
        plugin_name="postgresql-database-plugin",
        connection_url="postgresql://db:5432/app",
        allowed_roles="app,short",
    )
    client.write("database/roles/app", db_name="app-db", default_ttl="1h", max_ttl="24h")


def valid_credentials(lab: Lab) -> set[str]:
    """Usernames of the database credentials Vault still considers alive (lab-only endpoint)."""
    credentials = lab.vault.database_credentials()
    lab.secrets.update(credential["password"] for credential in credentials)
    return {credential["username"] for credential in credentials}


SHORT_CREDS_TEMPLATE = (
    '{{ with secret "database/creds/short" }}{{ .Data.username }} {{ .Data.password }}{{ end }}'
)


def short_lived_credentials(lab: Lab, *, ttl: str, max_ttl: str) -> None:
    """Kubernetes role `short`, allowed to read `database/creds/short` leases of `ttl` (at most `max_ttl`)."""
    lab.client.write("database/roles/short", db_name="app-db", default_ttl=ttl, max_ttl=max_ttl)
    lab.client.sys.create_or_update_policy("short", 'path "database/creds/short" { capabilities = ["read"] }')
    lab.client.write(
        "auth/kubernetes/role/short",
        bound_service_account_names="app",
        bound_service_account_namespaces="demo",
        token_policies="short",
    )
