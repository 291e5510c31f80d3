"""Start a lab Vault server from Python, for this project's tests (agent, healer, drills).

Two ways, one handle type (`LabVault`: `.url`, `.root_token`, `.ca_file`, a tiny stdlib client):

    from vaultinject.lab.vault.harness import vault_process, vault_thread

    with vault_process() as vault:            # a real `vaultinject lab vault` subprocess over HTTPS
        hvac.Client(url=vault.url, token=vault.root_token, verify=str(vault.ca_file))
        vault.restart()                       # same port, same --data-dir; comes back as configured

    with vault_thread(tls=False) as vault:    # in-process and fast; `vault.core` is the server's core
        vault.api("GET", "sys/health")

    with vault_cluster(2) as cluster:         # HA processes on one storage; node 0 starts active
        active, standby = cluster.active(), cluster.standbys()[0]
        active.kill()                         # SIGKILL: the standby takes the lock at once

Both start initialized and unsealed with root token "root" unless told otherwise.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from vaultinject.lab.tls import CertificateAuthority
from vaultinject.lab.vault.config import ServerConfig
from vaultinject.lab.vault.core import Core
from vaultinject.lab.vault.server import LogSink, VaultServer


@dataclass(frozen=True)
class TLSFiles:
    ca_file: Path
    cert_file: Path
    key_file: Path


def make_tls(directory: Path, hosts: Sequence[str] = ("127.0.0.1", "localhost")) -> TLSFiles:
    """A fresh lab CA and a server certificate for `hosts`, written into `directory`."""
    authority = CertificateAuthority.create("vaultinject lab Vault CA")
    ca_file = directory / "vault-ca.crt"
    ca_file.write_bytes(authority.cert_pem)
    cert_file, key_file = authority.issue(list(hosts)).write(directory, "vault")
    return TLSFiles(ca_file, cert_file, key_file)


@dataclass
class LabVault:
    """A running lab Vault server and a minimal JSON client for it."""

    url: str
    root_token: str
    ca_file: Path | None = None

    def ssl_context(self) -> ssl.SSLContext | None:
        if not self.url.startswith("https://"):
            return None
        return ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)

    def api(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        token: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        """Call `/v1/<path>`; returns (status, parsed JSON or None). The root token is used by default."""
        request = urllib.request.Request(  # noqa: S310 - the URL is this server's http(s) address
            f"{self.url}/v1/{path.lstrip('/')}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"X-Vault-Token": self.root_token if token is None else token, **(headers or {})},
        )
        try:
            opener = urllib.request.build_opener(
                urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=self.ssl_context())
            )
            with opener.open(request, timeout=30) as response:
                return response.status, _json_or_none(response.read())
        except urllib.error.HTTPError as error:
            return error.code, _json_or_none(error.read())

    def database_credentials(self) -> list[dict[str, Any]]:
        """Lab-only: the database credentials whose leases are still alive."""
        status, body = self.api("GET", "sys/lab/database/credentials")
        if status != 200:
            raise RuntimeError(f"sys/lab/database/credentials answered {status}: {body}")
        return list(body["data"]["credentials"])

    def advance_clock(self, duration: int | str) -> None:
        """Lab-only: move the server clock forward and expire whatever is due."""
        status, body = self.api("PUT", "sys/lab/clock", {"advance": duration})
        if status != 200:
            raise RuntimeError(f"sys/lab/clock answered {status}: {body}")

    def set_ha_mode(self, mode: str) -> None:
        """Lab-only: report `active`, `standby`, `perfstandby` or `drsecondary` in sys/health."""
        status, body = self.api("PUT", "sys/lab/ha", {"mode": mode})
        if status != 204:
            raise RuntimeError(f"sys/lab/ha answered {status}: {body}")


def _json_or_none(raw: bytes) -> Any:
    return json.loads(raw) if raw.strip() else None


@dataclass
class VaultProcess(LabVault):
    """A `vaultinject lab vault` subprocess; stderr (the JSON request log) goes to `log_file`."""

    args: list[str] = field(default_factory=list)
    log_file: Path = Path(os.devnull)
    startup_timeout: float = 20.0
    env: dict[str, str] | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "vaultinject.cli", "lab", "vault", *self.args]
        with self.log_file.open("ab") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=log, env=self.env)
        self.url = self._read_ready_line()

    def _read_ready_line(self) -> str:
        assert self.process is not None
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + self.startup_timeout
        line = b""
        while not line.endswith(b"\n"):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not selector.select(remaining):
                self.stop()
                raise RuntimeError(f"lab Vault did not start in time; log:\n{self.log_tail()}")
            chunk = os.read(self.process.stdout.fileno(), 1)
            if not chunk:
                self.stop()
                raise RuntimeError(f"lab Vault exited during start-up; log:\n{self.log_tail()}")
            line += chunk
        selector.close()
        return line.decode().strip()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM, wait, and SIGKILL only if it does not exit; returns the exit code."""
        process, self.process = self.process, None
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stdout is not None:
            process.stdout.close()
        return process.returncode

    def restart(self, extra_args: Sequence[str] = ()) -> None:
        """Stop and start again on the same address (and the same `--data-dir`, if any)."""
        url = urlsplit(self.url)
        args = _replace_listen(self.args, f"{url.hostname}:{url.port}")
        self.stop()
        self.args = [*args, *extra_args]
        self.start()

    def kill(self) -> None:
        """SIGKILL, as when the node or the pod dies: nothing is cleaned up, the kernel drops its locks."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def health(self) -> int:
        """The `sys/health` status code (200 active, 429 standby, 501 uninitialized, 503 sealed);
        0 when the server does not answer."""
        try:
            status, _ = self.api("GET", "sys/health", token="")
        except OSError:
            return 0
        return status


def _replace_listen(args: list[str], listen: str) -> list[str]:
    result = list(args)
    index = result.index("--listen")
    result[index + 1] = listen
    return result


@contextmanager
def vault_process(
    *,
    root_token: str | None = "root",  # noqa: S107 - the lab's well-known dev token
    tls: bool = True,
    auto_unseal: bool = True,
    data_dir: Path | None = None,
    unseal_key_file: Path | None = None,
    extra_args: Sequence[str] = (),
    workdir: Path | None = None,
    startup_timeout: float = 20.0,
    env: dict[str, str] | None = None,
) -> Iterator[VaultProcess]:
    """Run `vaultinject lab vault` as a subprocess on a free 127.0.0.1 port; SIGTERM it on exit."""
    with _workdir(workdir) as directory:
        args = ["--listen", "127.0.0.1:0"]
        ca_file = None
        if tls:
            files = make_tls(directory)
            ca_file = files.ca_file
            args += ["--tls-cert", str(files.cert_file), "--tls-key", str(files.key_file)]
        if root_token:
            args += ["--root-token", root_token]
        if auto_unseal:
            args.append("--auto-unseal")
        elif unseal_key_file is not None:
            args += ["--unseal-key-file", str(unseal_key_file)]
        if data_dir is not None:
            args += ["--data-dir", str(data_dir)]
        args += list(extra_args)
        vault = VaultProcess(
            url="",
            root_token=root_token or "",
            ca_file=ca_file,
            args=args,
            log_file=directory / "vault.log",
            startup_timeout=startup_timeout,
            env=env,
        )
        vault.start()
        try:
            yield vault
        finally:
            vault.stop()


@dataclass
class VaultCluster:
    """Lab Vault processes in HA mode on one storage, each on its own loopback address, one TLS CA."""

    nodes: list[VaultProcess]
    ca_file: Path
    data_dir: Path

    def active(self, timeout: float = 10.0) -> VaultProcess:
        """The node that answers `sys/health` with 200, once there is one."""
        deadline = time.monotonic() + timeout
        while True:
            for node in self.nodes:
                if node.process is not None and node.health() == 200:
                    return node
            if time.monotonic() > deadline:
                raise RuntimeError("no active node in the lab Vault cluster")
            time.sleep(0.05)

    def standbys(self) -> list[VaultProcess]:
        """The running nodes that answer as unsealed standbys (429)."""
        return [node for node in self.nodes if node.process is not None and node.health() == 429]


@contextmanager
def vault_cluster(
    size: int = 2,
    *,
    root_token: str | None = "root",  # noqa: S107 - the lab's well-known dev token
    auto_unseal: bool = True,
    unseal_key_file: Path | None = None,
    extra_args: Sequence[str] = (),
    node_env: Callable[[int], dict[str, str]] | None = None,
    workdir: Path | None = None,
) -> Iterator[VaultCluster]:
    """`size` HA nodes on one `--data-dir`, node i on 127.0.0.(11+i) over TLS; node 0 starts first (with a
    root token it initializes the storage and becomes active); every node is SIGTERMed on exit."""
    with _workdir(workdir) as directory:
        hosts = [f"127.0.0.{11 + index}" for index in range(size)]
        authority = CertificateAuthority.create("vaultinject lab Vault CA")
        ca_file = directory / "vault-ca.crt"
        ca_file.write_bytes(authority.cert_pem)
        data_dir = directory / "data"
        nodes: list[VaultProcess] = []
        try:
            for index, host in enumerate(hosts):
                cert_file, key_file = authority.issue([host, "localhost"]).write(directory, f"vault-{index}")
                args = ["--listen", f"{host}:0", "--tls-cert", str(cert_file), "--tls-key", str(key_file)]
                args += ["--ha", "--data-dir", str(data_dir), "--ca-cert", str(ca_file)]
                if root_token:
                    args += ["--root-token", root_token]
                if auto_unseal:
                    args.append("--auto-unseal")
                elif unseal_key_file is not None:
                    args += ["--unseal-key-file", str(unseal_key_file)]
                node = VaultProcess(
                    url="",
                    root_token=root_token or "",
                    ca_file=ca_file,
                    args=[*args, *extra_args],
                    log_file=directory / f"vault-{index}.log",
                    env={**os.environ, **node_env(index)} if node_env else None,
                )
                node.start()
                nodes.append(node)
            yield VaultCluster(nodes, ca_file, data_dir)
        finally:
            for node in nodes:
                node.stop()


@dataclass
class ThreadVault(LabVault):
    """An in-process server; `server` and `core` give tests direct access (e.g. `core.clock`)."""

    server: VaultServer | None = None

    @property
    def core(self) -> Core:
        assert self.server is not None
        return self.server.core


@contextmanager
def vault_thread(
    *,
    root_token: str | None = "root",  # noqa: S107 - the lab's well-known dev token
    tls: bool = False,
    workdir: Path | None = None,
    log: LogSink | None = None,
    **settings: Any,
) -> Iterator[ThreadVault]:
    """Run the server in this process on a free 127.0.0.1 port. `settings` are `ServerConfig` fields;
    `log` receives the server's JSON log events (requests, and causes of login failures)."""
    with _workdir(workdir) as directory:
        config = ServerConfig(listen_host="127.0.0.1", listen_port=0, root_token=root_token, **settings)
        ca_file = None
        if tls:
            files = make_tls(directory)
            config.tls_cert, config.tls_key, ca_file = files.cert_file, files.key_file, files.ca_file
        if "auto_unseal" not in settings:
            config.auto_unseal = True
        server = VaultServer(config, log=log or (lambda _event: None))
        server.start()
        try:
            yield ThreadVault(url=server.url, root_token=root_token or "", ca_file=ca_file, server=server)
        finally:
            server.stop()


@contextmanager
def _workdir(workdir: Path | None) -> Iterator[Path]:
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        yield workdir
        return
    with tempfile.TemporaryDirectory(prefix="lab-vault-") as directory:
        yield Path(directory)
