"""`vaultinject lab kubelet`: one lab node's agent process.

It registers its Node (from `--node-index`, see `node.py`), then posts a Node status heartbeat every
`--heartbeat-interval` seconds and renews its `kube-node-lease` Lease every `--lease-duration` x 0.25
seconds, until SIGTERM or SIGINT (exit 0). It does not run pods yet: pods bound to the node stay Pending.
"""

from __future__ import annotations

import argparse
import http.client
import logging
import signal
import sys
import threading
import time
from pathlib import Path

from vaultinject.lab.kubelet import node
from vaultinject.lab.kubelet.api import ApiClient, ApiError

log = logging.getLogger("vaultinject.lab.kubelet")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vaultinject lab kubelet", description="A lab node agent.")
    p.add_argument("--node", required=True, help="the Node's name")
    p.add_argument("--node-index", type=int, required=True, help="the node's index (podCIDR, InternalIP)")
    p.add_argument("--server", required=True, help="the API server URL, https://HOST:PORT")
    p.add_argument("--ca-file", type=Path, required=True, help="the API server's CA certificate")
    p.add_argument("--token-file", type=Path, required=True, help="the node's bearer token (re-read)")
    p.add_argument("--data-dir", type=Path, required=True, help="this node's state (pods, volumes, roots)")
    p.add_argument("--log-dir", type=Path, required=True, help="the API server's pod-logs directory")
    p.add_argument("--claims-dir", type=Path, help="volume claim directories (default: DATA_DIR/claims)")
    p.add_argument("--heartbeat-interval", type=float, default=10.0, help="seconds between status posts")
    p.add_argument("--lease-duration", type=int, default=node.LEASE_SECONDS, help="Lease duration seconds")
    p.add_argument("--log-level", default="INFO", help="Python logging level")
    return p


def _refused(error: ApiError) -> str:
    what = (
        "the token was refused (401 Unauthorized)"
        if error.status == 401
        else ("the node is not allowed (403 Forbidden)" if error.status == 403 else f"HTTP {error.status}")
    )
    message = error.body.get("message", "") if isinstance(error.body, dict) else str(error.body)
    return f"{what}: {message}" if message else what


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    try:
        api = ApiClient(args.server, args.ca_file, args.token_file, timeout=10)
        registered = node.register(api, args.node, args.node_index, time.time())
        uid = str(registered["metadata"]["uid"])
        node.renew_lease(api, args.node, uid, time.time(), args.lease_duration)
    except ApiError as error:
        log.error("cannot register node %s at %s: %s", args.node, args.server, _refused(error))
        return 1
    except (OSError, http.client.HTTPException) as error:
        log.error("cannot reach the API server %s: %s", args.server, error)
        return 1
    log.info("node %s registered (uid %s); heartbeats every %ss", args.node, uid, args.heartbeat_interval)
    lease_interval = args.lease_duration * 0.25
    next_heartbeat = time.monotonic() + args.heartbeat_interval
    next_lease = time.monotonic() + lease_interval
    while not stop.wait(max(0.0, min(next_heartbeat, next_lease) - time.monotonic())):
        now = time.monotonic()
        try:
            if now >= next_heartbeat:
                next_heartbeat = now + args.heartbeat_interval
                node.heartbeat(api, args.node, args.node_index, time.time())
            if now >= next_lease:
                next_lease = now + lease_interval
                node.renew_lease(api, args.node, uid, time.time(), args.lease_duration)
        except ApiError as error:
            log.warning("node %s: update failed: %s", args.node, _refused(error))
        except (OSError, http.client.HTTPException) as error:
            log.warning("node %s: API server unreachable: %s", args.node, error)
    log.info("node %s: stopping on signal", args.node)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
