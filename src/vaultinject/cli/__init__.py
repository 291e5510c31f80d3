"""The `vaultinject` command. Subcommands are imported lazily so `vaultinject agent` stays fast."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from importlib import import_module

from vaultinject import __version__

# subcommand -> (module, one-line help). Each module has `main(argv) -> int`.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "inject": ("vaultinject.cli.inject", "inject Vault agents into manifests and print the result"),
    "explain": ("vaultinject.cli.explain", "say what would be injected into each pod, and why"),
    "webhook": ("vaultinject.cli.webhook", "serve the mutating admission webhook over HTTPS"),
    "install": ("vaultinject.cli.install", "print the manifests that install the webhook"),
    "agent": ("vaultinject.agent.__main__", "run the in-pod agent (init, sidecar or native mode)"),
    "vault-setup": (
        "vaultinject.cli.vault_setup",
        "configure Vault's Kubernetes auth for injection, robustly",
    ),
    "lab": ("vaultinject.cli.lab", "run the local emulated Kubernetes API server and Vault server"),
}


def _usage() -> str:
    lines = [f"vaultinject {__version__}", "", "usage: vaultinject <command> [options]", "", "commands:"]
    lines += [f"  {name:<11} {help_}" for name, (_, help_) in SUBCOMMANDS.items()]
    lines += [
        "  version     print the version",
        "",
        "Run `vaultinject <command> --help` for a command's options.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch to a subcommand; return the process exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command in {"version", "--version"}:
        print(__version__)
        return 0
    if command not in SUBCOMMANDS:
        print(f"error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    try:
        run: Callable[[list[str]], int] = import_module(SUBCOMMANDS[command][0]).main
        return run(rest)
    except SystemExit as exit_:  # argparse and the commands exit with a code; return it instead
        code = exit_.code
        return code if isinstance(code, int) else 0 if code is None else 1
    except KeyboardInterrupt:
        print(f"vaultinject {command}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # `vaultinject inject | head`: the reader left, so stop quietly
        _discard_stdout()
        return BROKEN_PIPE


INTERRUPTED = 128 + 2  # what a shell reports for a command ended by SIGINT
BROKEN_PIPE = 128 + 13  # ... and by SIGPIPE


def _discard_stdout() -> None:
    """Point stdout at /dev/null, so flushing it at exit raises no second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a file (tests capture it)
        pass
