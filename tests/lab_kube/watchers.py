"""Open N concurrent watch streams and count what arrives (run as a script by the load test).

Prints one JSON line `{"ready": N}` once every stream is open, then one JSON line with the per-stream counts
of ADDED events and any errors, after `expected` events per stream or the deadline."""

from __future__ import annotations

import argparse
import http.client
import json
import ssl
import sys
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Plan:
    url: str
    context: ssl.SSLContext
    token: str
    path: str
    expected: int
    deadline: float
    opened: threading.Barrier


@dataclass
class Stream:
    added: int = 0
    errors: list[str] = field(default_factory=list)


def watch(plan: Plan, stream: Stream) -> None:
    """Hold one watch open and count ADDED events until `expected` arrive (or something goes wrong)."""
    parts = urlsplit(plan.url)
    connection = http.client.HTTPSConnection(
        parts.hostname or "", parts.port, context=plan.context, timeout=30
    )
    try:
        connection.request("GET", plan.path, headers={"Authorization": f"Bearer {plan.token}"})
        response = connection.getresponse()
        if response.status != 200:
            stream.errors.append(f"HTTP {response.status}")
        plan.opened.wait()
        while stream.added < plan.expected and time.monotonic() < plan.deadline and not stream.errors:
            line = response.readline()
            if not line:
                stream.errors.append("stream closed early")
            elif line.startswith(b'{"type":"ADDED"'):
                stream.added += 1
            elif line.startswith(b'{"type":"ERROR"'):
                stream.errors.append(line.decode()[:300])
    except (OSError, http.client.HTTPException, threading.BrokenBarrierError) as error:
        stream.errors.append(repr(error))
    finally:
        connection.close()


def main() -> int:
    parser = argparse.ArgumentParser()
    for name in ("url", "ca_file", "token", "path"):
        parser.add_argument(f"--{name.replace('_', '-')}", required=True)
    parser.add_argument("--streams", type=int, default=50)
    parser.add_argument("--expected", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    plan = Plan(
        args.url,
        ssl.create_default_context(cafile=args.ca_file),
        args.token,
        args.path,
        args.expected,
        time.monotonic() + args.timeout,
        threading.Barrier(args.streams + 1, timeout=30),
    )
    streams = [Stream() for _ in range(args.streams)]
    threads = [threading.Thread(target=watch, args=(plan, stream)) for stream in streams]
    for thread in threads:
        thread.start()
    plan.opened.wait()
    print(json.dumps({"ready": args.streams}), flush=True)
    for thread in threads:
        thread.join()
    print(json.dumps({"added": [s.added for s in streams], "errors": [e for s in streams for e in s.errors]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
