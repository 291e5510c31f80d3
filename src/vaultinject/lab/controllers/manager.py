"""Which controllers the lab runs (kube-controller-manager's `--controllers`), built over one context."""

from __future__ import annotations

from importlib import import_module

from vaultinject.lab.controllers.base import Context, Controller, Manager

CONTROLLERS: dict[str, type[Controller]] = {}
"""Every controller by its name; importing a controller module registers it here."""

MODULES: tuple[str, ...] = (
    "replicaset",
    "deployment",
    "statefulset",
    "job",
    "cronjob",
    "scheduler",
    "nodelifecycle",
    "tainteviction",
    "podgc",
    "endpoints",
    "endpointslices",
    "daemonset",
)
"""The controller modules of this package, imported on the first `build`."""


def register(cls: type[Controller]) -> type[Controller]:
    """Class decorator: make a controller available to `build`."""
    CONTROLLERS[cls.name] = cls
    return cls


def build(context: Context, names: tuple[str, ...] | None = None) -> Manager:
    """A manager for the named controllers (all of them when `names` is None)."""
    for module in MODULES:
        import_module(f"vaultinject.lab.controllers.{module}")
    chosen = CONTROLLERS if names is None else {n: CONTROLLERS[n] for n in names}
    return Manager(context, [cls(context) for cls in chosen.values()])
