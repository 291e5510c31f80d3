"""`vaultinject lab <server>`: the emulated Kubernetes API server and Vault server."""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import import_module

SERVERS: dict[str, tuple[str, str]] = {
    "vault": ("vaultinject.lab.vault.cli", "a Vault-compatible HTTP server"),
    "kube": ("vaultinject.lab.kube.cli", "a Kubernetes-compatible API server"),
}


def main(argv: list[str]) -> int:
    """Forward to the named lab server's own command line."""
    if not argv or argv[0] not in SERVERS:
        print("usage: vaultinject lab <server> [options]\n\nservers:", file=sys.stderr)
        for name, (_, help_) in SERVERS.items():
            print(f"  {name:<7} {help_}", file=sys.stderr)
        return 0 if argv and argv[0] in {"-h", "--help"} else 2
    run: Callable[[list[str]], int] = import_module(SERVERS[argv[0]][0]).main
    return run(argv[1:])
