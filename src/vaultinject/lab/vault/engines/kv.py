"""The KV secrets engine, version 1 (plain key/value) and version 2 (versioned, with metadata).

A mount is v2 when its options say `version: "2"` (or it was enabled as `kv-v2`).
"""

from __future__ import annotations

import re
from typing import Any

from vaultinject.lab.vault import fields, responses
from vaultinject.lab.vault.backend import Backend, MountContext
from vaultinject.lab.vault.durations import go_duration, parse_duration, rfc3339
from vaultinject.lab.vault.envelope import LeaseRequest, Response, VaultError, bad_request, not_found
from vaultinject.lab.vault.request import Request

DEFAULT_MAX_VERSIONS = 10


class KVBackend(Backend):
    """Dispatches to the v1 or v2 behaviour depending on the mount's options."""

    type_name = "kv"

    def __init__(self, context: MountContext) -> None:
        super().__init__(context)
        self.clock = context.services.clock
        if self.version == 2:
            self._v2_routes()
        else:
            self.router.add(
                r"(?P<path>.*)",
                read=self.v1_read,
                list=self.v1_list,
                update=self.v1_write,
                delete=self.v1_delete,
                exists=self.v1_exists,
            )

    @property
    def version(self) -> int:
        options = self.context.mount.options or {}
        return 2 if str(options.get("version", "1")) == "2" else 1

    # -- version 1 ----------------------------------------------------------------------------------

    def v1_exists(self, _request: Request, match: re.Match[str]) -> bool:
        return self.storage.get("kv/" + match["path"]) is not None

    def v1_read(self, _request: Request, match: re.Match[str]) -> Response:
        stored = self.storage.get("kv/" + match["path"])
        if stored is None:
            raise not_found()
        ttl = 0
        if "ttl" in stored:
            try:
                ttl = parse_duration(stored["ttl"])
            except ValueError:
                ttl = 0
        return Response(data=stored, lease=LeaseRequest(ttl=ttl, max_ttl=0, renewable=False))

    def v1_list(self, _request: Request, match: re.Match[str]) -> Response:
        return responses.keys(self.storage.children("kv/" + match["path"]))

    def v1_write(self, request: Request, match: re.Match[str]) -> Response:
        if not request.data:
            raise bad_request("missing data fields")
        if not match["path"] or match["path"].endswith("/"):
            raise bad_request("cannot write to a path ending in '/'")
        self.storage.put("kv/" + match["path"], request.data)
        return responses.no_content()

    def v1_delete(self, _request: Request, match: re.Match[str]) -> Response:
        self.storage.delete("kv/" + match["path"])
        return responses.no_content()

    def upgrade_to_v2(self) -> None:
        """Move every v1 key to version 1 of a v2 secret, as Vault's in-place KV upgrade does."""
        now = self.clock.now()
        with self.storage.transaction():
            for key in self.storage.keys("kv/"):
                path, secret = key[len("kv/") :], self.storage.get(key)
                metadata = self._new_metadata(now)
                metadata["current_version"] = metadata["oldest_version"] = 1
                metadata["versions"]["1"] = {
                    "created_time": rfc3339(now),
                    "deletion_time": "",
                    "deletion_epoch": 0,
                    "destroyed": False,
                }
                self.storage.put(f"versions/{path}/1", secret)
                self.storage.put("metadata/" + path, metadata)
                self.storage.delete(key)

    # -- version 2 ----------------------------------------------------------------------------------

    def _v2_routes(self) -> None:
        add = self.router.add
        add(r"config", read=self.read_config, update=self.write_config)
        add(
            r"data/(?P<path>.+)",
            read=self.read_data,
            update=self.write_data,
            delete=self.delete_latest,
            patch=self.patch_data,
            exists=self.data_exists,
        )
        add(r"subkeys/(?P<path>.+)", read=self.read_subkeys)
        add(r"delete/(?P<path>.+)", update=self.delete_versions)
        add(r"undelete/(?P<path>.+)", update=self.undelete_versions)
        add(r"destroy/(?P<path>.+)", update=self.destroy_versions)
        add(
            r"metadata/?(?P<path>.*)",
            read=self.read_metadata,
            list=self.list_metadata,
            update=self.write_metadata,
            delete=self.delete_metadata,
            exists=self.metadata_exists,
        )

    def _config(self) -> dict[str, Any]:
        stored = self.storage.get("config") or {}
        return {
            "max_versions": int(stored.get("max_versions", 0)),
            "cas_required": bool(stored.get("cas_required", False)),
            "delete_version_after": int(stored.get("delete_version_after", 0)),
        }

    def read_config(self, _request: Request, _match: re.Match[str]) -> Response:
        config = self._config()
        config["delete_version_after"] = go_duration(config["delete_version_after"])
        return responses.data(config)

    def write_config(self, request: Request, _match: re.Match[str]) -> Response:
        config = self._config()
        data = request.data
        if "max_versions" in data:
            config["max_versions"] = fields.integer(data, "max_versions")
        if "cas_required" in data:
            config["cas_required"] = fields.boolean(data, "cas_required")
        if "delete_version_after" in data:
            config["delete_version_after"] = fields.duration(data, "delete_version_after")
        self.storage.put("config", config)
        return responses.no_content()

    def _metadata(self, path: str) -> dict[str, Any] | None:
        stored = self.storage.get("metadata/" + path)
        return None if stored is None else dict(stored)

    def data_exists(self, _request: Request, match: re.Match[str]) -> bool:
        return self._metadata(match["path"]) is not None

    def metadata_exists(self, _request: Request, match: re.Match[str]) -> bool:
        return self._metadata(match["path"]) is not None

    def _version_block(self, metadata: dict[str, Any], version: int) -> dict[str, Any]:
        entry = metadata["versions"][str(version)]
        return {
            "created_time": entry["created_time"],
            "custom_metadata": metadata.get("custom_metadata"),
            "deletion_time": entry["deletion_time"],
            "destroyed": entry["destroyed"],
            "version": version,
        }

    def _is_deleted(self, entry: dict[str, Any]) -> bool:
        if entry["destroyed"]:
            return True
        deletion = entry.get("deletion_epoch", 0)
        return bool(entry["deletion_time"]) and deletion <= self.clock.now()

    def _requested_version(self, request: Request, metadata: dict[str, Any]) -> int:
        version = fields.integer(request.data, "version")
        return version or int(metadata["current_version"])

    def read_data(self, request: Request, match: re.Match[str]) -> Response:
        path = match["path"]
        metadata = self._metadata(path)
        if metadata is None:
            raise not_found()
        version = self._requested_version(request, metadata)
        entry = metadata["versions"].get(str(version))
        if entry is None:
            raise not_found()
        block = self._version_block(metadata, version)
        if self._is_deleted(entry):
            # Vault answers with the full envelope and status 404 (`logical.RespondWithStatusCode`).
            return Response(data={"data": None, "metadata": block}, status=404, force_envelope=True)
        return responses.data({"data": self.storage.get(f"versions/{path}/{version}"), "metadata": block})

    def read_subkeys(self, request: Request, match: re.Match[str]) -> Response:
        response = self.read_data(request, match)
        if response.status == 404 or response.data is None:
            raise not_found()
        return responses.data(
            {"subkeys": _subkeys(response.data["data"]), "metadata": response.data["metadata"]}
        )

    def _check_cas(self, request: Request, metadata: dict[str, Any] | None) -> None:
        options = request.data.get("options") or {}
        if not isinstance(options, dict):
            raise bad_request("error parsing options")
        cas_required = self._config()["cas_required"] or bool((metadata or {}).get("cas_required"))
        if "cas" not in options or options["cas"] is None:
            if cas_required:
                raise bad_request("check-and-set parameter required for this call")
            return
        try:
            cas = fields.integer(options, "cas")
        except VaultError:
            raise bad_request("error parsing check-and-set parameter") from None
        current = int(metadata["current_version"]) if metadata else 0
        if cas != current:
            raise bad_request("check-and-set parameter did not match the current version")

    def write_data(self, request: Request, match: re.Match[str]) -> Response:
        if "data" not in request.data or request.data["data"] is None:
            raise bad_request("no data provided")
        secret = request.data["data"]
        if not isinstance(secret, dict):
            raise bad_request("data must be a JSON object")
        return self._store_version(request, match["path"], secret)

    def _store_version(self, request: Request, path: str, secret: dict[str, Any]) -> Response:
        with self.storage.transaction():
            metadata = self._metadata(path)
            self._check_cas(request, metadata)
            now = self.clock.now()
            if metadata is None:
                metadata = self._new_metadata(now)
            version = int(metadata["current_version"]) + 1
            delete_after = (
                int(metadata.get("delete_version_after", 0)) or self._config()["delete_version_after"]
            )
            metadata["versions"][str(version)] = {
                "created_time": rfc3339(now),
                "deletion_time": rfc3339(now + delete_after) if delete_after else "",
                "deletion_epoch": now + delete_after if delete_after else 0,
                "destroyed": False,
            }
            metadata["current_version"] = version
            metadata["updated_time"] = rfc3339(now)
            self.storage.put(f"versions/{path}/{version}", secret)
            self._trim(path, metadata)
            self.storage.put("metadata/" + path, metadata)
        return responses.data(self._version_block(metadata, version))

    def _new_metadata(self, now: float) -> dict[str, Any]:
        return {
            "created_time": rfc3339(now),
            "updated_time": rfc3339(now),
            "current_version": 0,
            "oldest_version": 0,
            "max_versions": 0,
            "cas_required": False,
            "delete_version_after": 0,
            "custom_metadata": None,
            "versions": {},
        }

    def _trim(self, path: str, metadata: dict[str, Any]) -> None:
        limit = (
            int(metadata.get("max_versions") or 0) or self._config()["max_versions"] or DEFAULT_MAX_VERSIONS
        )
        numbers = sorted(int(number) for number in metadata["versions"])
        for number in numbers[: max(0, len(numbers) - limit)]:
            del metadata["versions"][str(number)]
            self.storage.delete(f"versions/{path}/{number}")
        remaining = sorted(int(number) for number in metadata["versions"])
        metadata["oldest_version"] = remaining[0] if remaining else 0

    def patch_data(self, request: Request, match: re.Match[str]) -> Response:
        if request.content_type.split(";")[0].strip() != "application/merge-patch+json":
            raise VaultError(
                415,
                f"PATCH requires Content-Type of application/merge-patch+json, got {request.content_type!r}",
            )
        path = match["path"]
        metadata = self._metadata(path)
        if metadata is None or not metadata["current_version"]:
            raise not_found()
        current = int(metadata["current_version"])
        if self._is_deleted(metadata["versions"][str(current)]):
            raise not_found()
        patch = request.data.get("data")
        if not isinstance(patch, dict):
            raise bad_request("no data provided")
        merged = _merge_patch(self.storage.get(f"versions/{path}/{current}") or {}, patch)
        return self._store_version(request, path, merged)

    def delete_latest(self, _request: Request, match: re.Match[str]) -> Response:
        path = match["path"]
        with self.storage.transaction():
            metadata = self._metadata(path)
            if metadata is None or not metadata["current_version"]:
                return responses.no_content()
            self._mark_deleted(metadata, [int(metadata["current_version"])])
            self.storage.put("metadata/" + path, metadata)
        return responses.no_content()

    def _mark_deleted(self, metadata: dict[str, Any], versions: list[int]) -> None:
        now = self.clock.now()
        for version in versions:
            entry = metadata["versions"].get(str(version))
            if entry is None or entry["destroyed"] or self._is_deleted(entry):
                continue
            entry["deletion_time"], entry["deletion_epoch"] = rfc3339(now), now

    def _versions(self, request: Request) -> list[int]:
        raw = request.data.get("versions")
        if raw is None or raw in ([], ""):
            raise bad_request("no version number provided")
        items = raw if isinstance(raw, list) else str(raw).split(",")
        try:
            return [int(str(item).strip()) for item in items]
        except ValueError:
            raise bad_request("error parsing version numbers") from None

    def _change_versions(self, request: Request, path: str, change: str) -> Response:
        versions = self._versions(request)
        with self.storage.transaction():
            metadata = self._metadata(path)
            if metadata is None:
                return responses.no_content()
            if change == "delete":
                self._mark_deleted(metadata, versions)
            for version in versions:
                entry = metadata["versions"].get(str(version))
                if entry is None or entry["destroyed"]:
                    continue
                if change == "undelete":
                    entry["deletion_time"], entry["deletion_epoch"] = "", 0
                elif change == "destroy":
                    entry["destroyed"] = True
                    self.storage.delete(f"versions/{path}/{version}")
            self.storage.put("metadata/" + path, metadata)
        return responses.no_content()

    def delete_versions(self, request: Request, match: re.Match[str]) -> Response:
        return self._change_versions(request, match["path"], "delete")

    def undelete_versions(self, request: Request, match: re.Match[str]) -> Response:
        return self._change_versions(request, match["path"], "undelete")

    def destroy_versions(self, request: Request, match: re.Match[str]) -> Response:
        return self._change_versions(request, match["path"], "destroy")

    def read_metadata(self, _request: Request, match: re.Match[str]) -> Response:
        metadata = self._metadata(match["path"])
        if metadata is None:
            raise not_found()
        versions = {
            number: {key: entry[key] for key in ("created_time", "deletion_time", "destroyed")}
            for number, entry in metadata["versions"].items()
        }
        return responses.data(
            {
                "cas_required": metadata["cas_required"],
                "created_time": metadata["created_time"],
                "current_version": metadata["current_version"],
                "custom_metadata": metadata.get("custom_metadata"),
                "delete_version_after": go_duration(int(metadata.get("delete_version_after", 0))),
                "max_versions": metadata["max_versions"],
                "oldest_version": metadata["oldest_version"],
                "updated_time": metadata["updated_time"],
                "versions": versions,
            }
        )

    def list_metadata(self, _request: Request, match: re.Match[str]) -> Response:
        return responses.keys(self.storage.children("metadata/" + match["path"]))

    def write_metadata(self, request: Request, match: re.Match[str]) -> Response:
        path = match["path"]
        if not path:
            raise bad_request("missing path")
        data = request.data
        with self.storage.transaction():
            metadata = self._metadata(path) or self._new_metadata(self.clock.now())
            if "max_versions" in data:
                metadata["max_versions"] = fields.integer(data, "max_versions")
            if "cas_required" in data:
                metadata["cas_required"] = fields.boolean(data, "cas_required")
            if "delete_version_after" in data:
                metadata["delete_version_after"] = fields.duration(data, "delete_version_after")
            if "custom_metadata" in data:
                metadata["custom_metadata"] = fields.string_map(data, "custom_metadata") or None
            metadata["updated_time"] = rfc3339(self.clock.now())
            self._trim(path, metadata)
            self.storage.put("metadata/" + path, metadata)
        return responses.no_content()

    def delete_metadata(self, _request: Request, match: re.Match[str]) -> Response:
        path = match["path"]
        with self.storage.transaction():
            metadata = self._metadata(path)
            if metadata is not None:
                for number in metadata["versions"]:
                    self.storage.delete(f"versions/{path}/{number}")
                self.storage.delete("metadata/" + path)
        return responses.no_content()


def _subkeys(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _subkeys(item) for key, item in value.items()}
    return None


def _merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result
