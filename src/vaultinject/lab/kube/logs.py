"""Pod logs on disk in the kubelet's layout and CRI line format, served by the `log` subresource.

A kubelet (or a test) appends lines with `append_line`; files live at
`<root>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log`, each line `<RFC3339Nano> <stream> F <text>`.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaultinject.lab.kube.clock import parse_time
from vaultinject.lab.kube.status import bad_request

JSON = dict[str, Any]


def pod_log_dir(root: Path, namespace: str, name: str, uid: str) -> Path:
    return root / f"{namespace}_{name}_{uid}"


def timestamp(seconds: float) -> str:
    moment = dt.datetime.fromtimestamp(seconds, dt.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


def append_line(
    root: Path,
    pod: JSON,
    container: str,
    text: str,
    *,
    stream: str = "stdout",
    restart_count: int = 0,
    now: float | None = None,
) -> None:
    """Append one log line (without its newline) for `container` of `pod`."""
    metadata = pod["metadata"]
    directory = pod_log_dir(root, metadata["namespace"], metadata["name"], metadata["uid"]) / container
    directory.mkdir(parents=True, exist_ok=True)
    line = f"{timestamp(time.time() if now is None else now)} {stream} F {text}\n"
    with (directory / f"{restart_count}.log").open("a", encoding="utf-8") as handle:
        handle.write(line)


@dataclass
class LogOptions:
    container: str = ""
    follow: bool = False
    previous: bool = False
    tail_lines: int | None = None
    since_seconds: int | None = None
    since_time: str | None = None
    timestamps: bool = False
    limit_bytes: int | None = None


def choose_container(pod: JSON, requested: str) -> str:
    """The container a log request means, with the API server's errors for a missing or wrong name."""
    spec = pod.get("spec") or {}
    name = pod["metadata"]["name"]
    every = [
        c["name"]
        for kind in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(kind) or []
    ]
    if requested:
        if requested not in every:
            raise bad_request(f"container {requested} is not valid for pod {name}")
        return requested
    containers = spec.get("containers") or []
    if len(containers) == 1:
        return str(containers[0]["name"])
    if not containers:
        raise bad_request(f"a container name must be specified for pod {name}")
    raise bad_request(
        f"a container name must be specified for pod {name}, choose one of: [{' '.join(every)}]"
    )


def _files(root: Path, pod: JSON, container: str) -> list[Path]:
    metadata = pod["metadata"]
    directory = pod_log_dir(root, metadata["namespace"], metadata["name"], metadata["uid"]) / container
    if not directory.is_dir():
        return []
    return sorted(directory.glob("*.log"), key=lambda p: int(p.stem) if p.stem.isdigit() else -1)


def _waiting_reason(pod: JSON, container: str) -> str:
    status = pod.get("status") or {}
    for entry in (status.get("initContainerStatuses") or []) + (status.get("containerStatuses") or []):
        if entry.get("name") == container:
            waiting = (entry.get("state") or {}).get("waiting")
            if waiting:
                return str(waiting.get("reason") or "ContainerCreating")
    return "ContainerCreating"


def log_file(root: Path, pod: JSON, container: str, previous: bool) -> Path:
    """The file to serve, or the kubelet's 400 when there is none yet."""
    files = _files(root, pod, container)
    name = pod["metadata"]["name"]
    if previous:
        if len(files) < 2:
            raise bad_request(f'previous terminated container "{container}" in pod "{name}" not found')
        return files[-2]
    if not files:
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: {_waiting_reason(pod, container)}'
        )
    return files[-1]


def _render(line: str, options: LogOptions, since: float | None) -> str | None:
    stamp, _, rest = line.partition(" ")
    _, _, rest = rest.partition(" ")
    tag, _, text = rest.partition(" ")
    if tag == "P":
        text = text.rstrip("\n")  # a partial record continues on the next one
    if since is not None:
        try:
            if parse_time(stamp[:26] + "Z" if len(stamp) > 27 else stamp) < since:
                return None
        except ValueError:
            pass
    return f"{stamp} {text}" if options.timestamps else text


def read_log(path: Path, options: LogOptions, now: float) -> tuple[bytes, int]:
    """The rendered log and the byte offset read up to (to continue from when following)."""
    raw = path.read_bytes()
    lines = raw.decode("utf-8", errors="replace").splitlines(keepends=True)
    since = _since(options, now)
    rendered = [r for r in (_render(line, options, since) for line in lines) if r is not None]
    if options.tail_lines is not None:
        rendered = rendered[-options.tail_lines :] if options.tail_lines > 0 else []
    body = "".join(rendered).encode()
    if options.limit_bytes is not None:
        body = body[: options.limit_bytes]
    return body, len(raw)


def _since(options: LogOptions, now: float) -> float | None:
    if options.since_seconds is not None:
        return now - options.since_seconds
    if options.since_time:
        return parse_time(options.since_time)
    return None


def follow(
    path: Path, offset: int, options: LogOptions, still_running: Callable[[], bool]
) -> Iterator[bytes]:
    """New lines as they are appended; ends when `still_running` turns false and the file is drained."""
    pending = b""
    while True:
        with path.open("rb") as handle:
            handle.seek(offset)
            chunk = handle.read()
        offset += len(chunk)
        pending += chunk
        complete, _, pending = pending.rpartition(b"\n")
        if complete:
            lines = (complete + b"\n").decode("utf-8", errors="replace").splitlines(keepends=True)
            yield "".join(
                r for r in (_render(line, options, None) for line in lines) if r is not None
            ).encode()
        elif not still_running():
            return
        else:
            yield b""
            time.sleep(0.2)
