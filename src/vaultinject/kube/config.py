"""Where the cluster is: a named kubeconfig, `KUBECONFIG`, the in-cluster service account, ~/.kube/config."""

from __future__ import annotations

import os
from pathlib import Path

from lightkube import ConfigError, KubeConfig
from lightkube.config.kubeconfig import SingleConfig

from vaultinject.kube.errors import KubeConfigError

SERVICE_ACCOUNT = Path("/var/run/secrets/kubernetes.io/serviceaccount")
DEFAULT_KUBECONFIG = Path("~/.kube/config")


def load_config(
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    service_account: Path = SERVICE_ACCOUNT,
) -> SingleConfig:
    """The configuration kubectl and client-go would pick, in their order.

    An explicit path wins, then `KUBECONFIG` (the first file of a colon-separated list), then the pod's own
    service account when running in a cluster (`KUBERNETES_SERVICE_HOST` set), then `~/.kube/config`.
    """
    path = kubeconfig or _first(os.environ.get("KUBECONFIG", ""))
    try:
        if path:
            return _from_file(Path(path), context)
        if os.environ.get("KUBERNETES_SERVICE_HOST"):
            return _selected(KubeConfig.from_service_account(service_account), None)
        if DEFAULT_KUBECONFIG.expanduser().is_file():
            return _from_file(DEFAULT_KUBECONFIG.expanduser(), context)
    except (ConfigError, OSError, KeyError, TypeError, ValueError) as error:
        raise KubeConfigError(f"cannot load the Kubernetes configuration: {error}") from None
    raise KubeConfigError(
        "no Kubernetes configuration: set KUBECONFIG or pass --kubeconfig, or run in a pod with a "
        f"service account token at {service_account}"
    )


def _first(paths: str) -> str:
    return next((part for part in paths.split(os.pathsep) if part), "")


def _from_file(path: Path, context: str | None) -> SingleConfig:
    if not path.is_file():
        raise KubeConfigError(f"kubeconfig {path} does not exist")
    config = KubeConfig.from_file(path)
    if context is not None and context not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none"
        raise KubeConfigError(f"kubeconfig {path} has no context {context!r} (it has: {known})")
    return _selected(config, context)


def _selected(config: KubeConfig, context: str | None) -> SingleConfig:
    single = config.get(context)
    if single is None:  # pragma: no cover - lightkube raises instead
        raise KubeConfigError("the kubeconfig selects no context")
    return single
