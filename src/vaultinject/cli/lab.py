"""`vaultinject lab <server>`: the emulated Kubernetes API server and Vault server."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

SERVERS: dict[str, tuple[str, str]] = {
    "vault": ("vaultinject.lab.vault.cli", "a Vault-compatible HTTP server"),
    "kube": ("vaultinject.lab.kube.cli", "a Kubernetes-compatible API server"),
    "kubelet": ("vaultinject.lab.kubelet.main", "a lab node: a kubelet that runs pods"),
}
CLUSTER_MODULE = "vaultinject.lab.up"
# Commands over a whole lab cluster, all in CLUSTER_MODULE.
CLUSTER_COMMANDS: dict[str, str] = {
    "up": "start a lab cluster: the API server, its controllers and N nodes",
    "down": "stop the lab cluster running in a data directory",
    "node": "stop (a node failure) or start one node of a running lab",
    "vault-manifests": "print the Vault objects `up --vault` applies",
}


def main(argv: list[str]) -> int:
    """Forward to the named lab server's or cluster command's own command line."""
    if argv and argv[0] in CLUSTER_COMMANDS:
        cluster: Callable[[list[str]], int] = import_module(CLUSTER_MODULE).main
        return cluster(argv)
    if not argv or argv[0] not in SERVERS:
        asked = bool(argv) and argv[0] in {"-h", "--help"}
        stream = sys.stdout if asked else sys.stderr
        if argv and not asked:
            print(f"error: unknown lab server {argv[0]!r}", file=stream)
        print("usage: vaultinject lab <command> [options]\n\ncluster:", file=stream)
        for name, help_ in CLUSTER_COMMANDS.items():
            print(f"  {name:<7} {help_}", file=stream)
        print("\nservers (one process each):", file=stream)
        for name, (_, help_) in SERVERS.items():
            print(f"  {name:<7} {help_}", file=stream)
        print("\nRun `vaultinject lab <command> --help` for its options.", file=stream)
        return 0 if asked else 2
    run: Callable[[list[str]], int] = import_module(SERVERS[argv[0]][0]).main
    return run(argv[1:])
