"""The agent's configuration: the pod's own annotations (downward API) and `VAULTINJECT_*` variables."""

from __future__ import annotations

import os
from collections.abc import Mapping

from vaultinject.records import Record
from vaultinject.spec import (
    AGENT_STATE_PATH,
    PODINFO_ANNOTATIONS_FILE,
    InjectionSpec,
    Settings,
    SettingsError,
    SpecError,
    parse,
    parse_downward_annotations,
)

MODES = ("init", "sidecar", "native")
USAGE = "--mode init|sidecar|native [--annotations FILE] [--state-dir DIR]"
HELP_FLAGS = ("-h", "--help")
HELP = f"""usage: vaultinject-agent {USAGE}

The in-pod agent the injector adds: logs in to Vault, renders the pod's secrets, keeps them fresh.

options:
  --mode init|sidecar|native  init: render every secret once, then exit; sidecar: resume from the init
                              container's state and keep secrets fresh; native: both, as one native sidecar
  --annotations FILE          the pod's annotations (downward API) [{PODINFO_ANNOTATIONS_FILE}]
  --state-dir DIR             private state: token, leases, readiness markers [{AGENT_STATE_PATH}]
  -h, --help                  print this help and exit

vaultinject-agent --wait-for-start SECONDS FILE
  the native agent's postStart hook: returns as soon as FILE, the started marker, exists (or after
  SECONDS, leaving the startup probe to gate the app), so the app starts the moment its secrets exist

The injector's settings arrive as VAULTINJECT_* environment variables."""


class ConfigError(Exception):
    """Configuration the agent cannot run with; retrying will not help."""


class AgentOptions(Record):
    """Command-line options."""

    mode: str
    annotations_file: str = PODINFO_ANNOTATIONS_FILE
    state_dir: str = AGENT_STATE_PATH


def parse_arguments(argv: list[str]) -> AgentOptions:
    """`--mode init|sidecar|native [--annotations FILE] [--state-dir DIR]` (argparse costs milliseconds)."""
    values = {"--mode": "", "--annotations": PODINFO_ANNOTATIONS_FILE, "--state-dir": AGENT_STATE_PATH}
    arguments = list(argv)
    while arguments:
        flag = arguments.pop(0)
        name, _, inline = flag.partition("=")
        if name not in values:
            raise ConfigError(f"unknown option {flag}; usage: {USAGE}")
        if not inline and not arguments:
            raise ConfigError(f"{name} needs a value")
        values[name] = inline or arguments.pop(0)
    if values["--mode"] not in MODES:
        raise ConfigError(f"--mode must be one of {', '.join(MODES)} (got {values['--mode']!r})")
    return AgentOptions(values["--mode"], values["--annotations"], values["--state-dir"])


def load_spec(annotations_file: str, environ: Mapping[str, str] | None = None) -> InjectionSpec:
    """Parse the pod's annotations with the webhook's settings, exactly as admission did."""
    try:
        with open(annotations_file, encoding="utf-8") as stream:
            annotations = parse_downward_annotations(stream.read())
    except OSError as exc:
        raise ConfigError(
            f"cannot read the pod's annotations from {annotations_file}: {exc.strerror}"
        ) from None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    try:
        return parse(annotations, Settings.from_env(os.environ if environ is None else environ))
    except (SpecError, SettingsError) as exc:
        errors = getattr(exc, "errors", (exc,))
        raise ConfigError("; ".join(str(error) for error in errors)) from None
