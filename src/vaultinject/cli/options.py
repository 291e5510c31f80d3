"""Command-line options shared by the commands: injector settings and manifest sources."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, NoReturn

from vaultinject.cli.manifests import ManifestError, read_documents
from vaultinject.spec import Settings, SettingsError
from vaultinject.spec.settings import SETTINGS, env_name, flag_name


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """One flag per injector setting; each also reads its `VAULTINJECT_*` environment variable."""
    group = parser.add_argument_group("injector settings (flags override VAULTINJECT_* variables)")
    for name, info in SETTINGS.items():
        group.add_argument(
            flag_name(name), dest=f"setting_{name}", metavar="VALUE", help=f"{info.help} [{env_name(name)}]"
        )


def read_inputs(arguments: argparse.Namespace) -> tuple[Settings, list[dict[str, Any]]]:
    """The settings and the manifests; a bad setting exits 2, an unreadable manifest exits 1."""
    try:
        settings = settings_from(arguments)
    except SettingsError as exc:
        _fail(exc, 2)
    try:
        return settings, read_documents(arguments.filename)
    except ManifestError as exc:
        _fail(exc, 1)


def _fail(error: Exception, code: int) -> NoReturn:
    print(f"error: {error}", file=sys.stderr)
    raise SystemExit(code)


def settings_from(arguments: argparse.Namespace) -> Settings:
    """Settings from the environment, overridden by flags; raises SettingsError for a bad value."""
    overrides = {name: getattr(arguments, f"setting_{name}") for name in SETTINGS}
    return Settings.from_env(os.environ, **overrides)


def add_source_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "-f", "--filename", action="append", default=[], metavar="FILE",
        help="manifest file, directory of manifests, or - for stdin (repeatable; default: stdin)",
    )  # fmt: skip
    parser.add_argument(
        "-n", "--namespace", default="default", help="namespace for objects that name none (default: default)"
    )
