"""Command-line options shared by the commands: injector settings and manifest sources."""

from __future__ import annotations

import argparse
import os

from vaultinject.spec import Settings
from vaultinject.spec.settings import SETTINGS, env_name, flag_name


def add_settings_options(parser: argparse.ArgumentParser) -> None:
    """One flag per injector setting; each also reads its `VAULTINJECT_*` environment variable."""
    group = parser.add_argument_group("injector settings (flags override VAULTINJECT_* variables)")
    for name, info in SETTINGS.items():
        group.add_argument(
            flag_name(name), dest=f"setting_{name}", metavar="VALUE", help=f"{info.help} [{env_name(name)}]"
        )


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
