"""Audit devices: JSON-lines files recording every request and response, with secrets HMAC'd."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sys
import threading
import time
from pathlib import Path
from typing import IO, Any

from vaultinject.lab.vault import fields
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.envelope import VaultError, bad_request
from vaultinject.lab.vault.store import StorageView


class FileAuditDevice:
    """Vault's `file` audit device: one JSON object per line."""

    def __init__(self, path: str, description: str, options: dict[str, str], local: bool, salt: str) -> None:
        self.path = path
        self.description = description
        self.options = options
        self.local = local
        self.salt = salt.encode()
        self.log_raw = fields.boolean(options, "log_raw")
        self.hmac_accessor = fields.boolean(options, "hmac_accessor", True)
        self.prefix = options.get("prefix", "")
        self._lock = threading.Lock()
        self._sink = self._open(options.get("file_path", options.get("path", "")))

    @staticmethod
    def _open(file_path: str) -> IO[str] | None:
        if not file_path:
            raise bad_request("file_path is required")
        if file_path == "discard":
            return None
        if file_path == "stdout":
            return sys.stdout
        try:
            Path(file_path).parent.mkdir(parents=True, exist_ok=True)
            return Path(file_path).open("a", encoding="utf-8")
        except OSError as error:
            raise bad_request(
                f"sys/audit: file sink creation failed for path {file_path!r}: {error}"
            ) from None

    def hash(self, value: str) -> str:
        return "hmac-sha256:" + hmac.new(self.salt, value.encode(), hashlib.sha256).hexdigest()

    def scrub(self, value: Any) -> Any:
        """HMAC every string in a structure, as Vault does unless `log_raw` is set."""
        if self.log_raw:
            return value
        if isinstance(value, str):
            return self.hash(value) if value else value
        if isinstance(value, dict):
            return {key: self.scrub(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.scrub(item) for item in value]
        return value

    def write(self, entry: dict[str, Any]) -> None:
        if self._sink is None:
            return
        line = self.prefix + json.dumps(entry, separators=(",", ":")) + "\n"
        with self._lock:
            self._sink.write(line)
            self._sink.flush()

    def close(self) -> None:
        if self._sink is not None and self._sink is not sys.stdout:
            self._sink.close()

    def api_view(self) -> dict[str, Any]:
        return {
            "type": "file",
            "description": self.description,
            "options": dict(self.options),
            "local": self.local,
            "path": self.path,
        }


class AuditBroker:
    """The enabled devices, stored so they come back after a restart."""

    def __init__(self, storage: StorageView) -> None:
        self.storage = storage
        self._devices: dict[str, FileAuditDevice] = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        self.close()
        for path, raw in (self.storage.get("devices") or {}).items():
            try:
                self._devices[path] = FileAuditDevice(
                    path, raw["description"], raw["options"], raw["local"], raw["salt"]
                )
            except VaultError as error:
                # Real Vault refuses to unseal here; the lab keeps serving and says why.
                sys.stderr.write(f"audit device {path} could not be reopened: {error.errors}\n")

    def close(self) -> None:
        with self._lock:
            for device in self._devices.values():
                device.close()
            self._devices.clear()

    def enable(self, path: str, kind: str, description: str, options: dict[str, str], local: bool) -> None:
        if kind != "file":
            raise bad_request(f'unknown backend type: "{kind}"')
        with self._lock:
            if path in self._devices:
                raise bad_request(f'path already in use: "{path}"')
            salt = secrets.token_hex(16)
            self._devices[path] = FileAuditDevice(path, description, options, local, salt)
            self._save()

    def disable(self, path: str) -> None:
        with self._lock:
            device = self._devices.pop(path, None)
            if device is not None:
                device.close()
                self._save()

    def _save(self) -> None:
        self.storage.put(
            "devices",
            {
                path: {
                    "type": "file",
                    "description": d.description,
                    "options": d.options,
                    "local": d.local,
                    "salt": d.salt.decode(),
                }
                for path, d in self._devices.items()
            },
        )

    def views(self) -> dict[str, Any]:
        with self._lock:
            return {path: device.api_view() for path, device in sorted(self._devices.items())}

    def device(self, path: str) -> FileAuditDevice | None:
        with self._lock:
            return self._devices.get(path)

    @property
    def enabled(self) -> bool:
        return bool(self._devices)

    def log(
        self, entry_type: str, request: dict[str, Any], auth: dict[str, Any] | None, **extra: Any
    ) -> None:
        """Write one `request` or `response` entry to every device, each with its own HMAC salt."""
        with self._lock:
            devices = list(self._devices.values())
        for device in devices:
            entry: dict[str, Any] = {"time": rfc3339(time.time()), "type": entry_type}
            entry["auth"] = _scrub_auth(device, auth)
            entry["request"] = _scrub_request(device, request)
            for key, value in extra.items():
                entry[key] = value if key == "error" else device.scrub(value)
            device.write(entry)


def _scrub_auth(device: FileAuditDevice, auth: dict[str, Any] | None) -> dict[str, Any] | None:
    if auth is None:
        return None
    scrubbed = dict(auth)
    for key in ("client_token", "accessor"):
        if scrubbed.get(key) and (key != "accessor" or device.hmac_accessor):
            scrubbed[key] = device.scrub(scrubbed[key])
    return scrubbed


def _scrub_request(device: FileAuditDevice, request: dict[str, Any]) -> dict[str, Any]:
    scrubbed = dict(request)
    if scrubbed.get("client_token"):
        scrubbed["client_token"] = device.scrub(scrubbed["client_token"])
    if scrubbed.get("data") is not None:
        scrubbed["data"] = device.scrub(scrubbed["data"])
    return scrubbed
