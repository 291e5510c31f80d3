"""Vault outages on a lab cluster, judged by kubectl and the apps' own logs: with Vault down when a pod
starts, its app never starts without its secrets and starts once Vault is back; with Vault down past a
lease's end, the pod turns NotReady, then Ready again when Vault returns, with no restart."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from demo.run import NAMESPACE, Demo, wait
from demo.workloads import deployment, pods, prepare, scale_vault, wait_ready

from vaultinject.lab.controllers.replicaset import is_ready

MODES = ("native", "classic", "init-only")
SHORT_ROLE = "short"  # a database role whose leases end 4 s after they are issued, unless renewed


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    lab = Demo(tmp_path_factory.mktemp("outages") / "lab")
    try:
        prepare(lab)
        lab.root.secrets.database.create_role(
            name=SHORT_ROLE, db_name="shopdb", creation_statements=["CREATE ROLE ..."],
            default_ttl="4s", max_ttl="1h",
        )  # fmt: skip
        lab.root.write("database/config/shopdb", allowed_roles=["app", SHORT_ROLE])  # the rest is kept
        policy = lab.root.sys.read_policy("app-read")["data"]["rules"]
        policy += f'path "database/creds/{SHORT_ROLE}" {{ capabilities = ["read"] }}\n'
        lab.root.sys.create_or_update_policy("app-read", policy)
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def vault_back(demo: Demo) -> Iterator[None]:
    """Vault at its 2 replicas after the test, whatever it did."""
    yield
    scale_vault(demo, 2)


def quick_retries(document: dict[str, Any]) -> dict[str, Any]:
    """The agent retries every 1-2 s (not up to 30 s), so an outage of seconds is enough to test."""
    annotations = document["spec"]["template"]["metadata"]["annotations"]
    annotations["vault.hashicorp.com/auth-max-backoff"] = "2s"
    return document


def app_state(pod: dict[str, Any]) -> dict[str, Any]:
    statuses = pod["status"].get("containerStatuses") or []
    return next((s["state"] for s in statuses if s["name"] == "app"), {})


def test_with_vault_down_when_pods_start_the_apps_wait_then_start_once_vault_is_back(
    demo: Demo, vault_back: None
) -> None:
    scale_vault(demo, 0)
    for mode in MODES:
        demo.kubectl("apply", "-f", "-", stdin=json.dumps(quick_retries(deployment(f"down-{mode}", mode))))
    wait("3 pods created", lambda: len(pods(demo, "app in (down-native,down-classic,down-init-only)")) == 3)
    wait("the agents' failed logins", lambda: "authentication failed" in agent_logs(demo, "down-native"), 30)
    for mode in MODES:
        (pod,) = pods(demo, f"app=down-{mode}")
        assert not is_ready(pod), mode
        assert "running" not in app_state(pod), f"{mode}: the app started without its secrets"
    scale_vault(demo, 2)
    for mode in MODES:
        (pod,) = wait_ready(demo, f"app=down-{mode}", timeout=60)
        log = demo.kubectl("-n", NAMESPACE, "logs", pod["metadata"]["name"], "-c", "app")
        started, written = re.search(r"started at (\S+); secrets written at ([\d. ]+)", log).groups()  # type: ignore[union-attr]
        assert float(started) >= max(float(t) for t in written.split()), mode
        assert all(s["restartCount"] == 0 for s in pod["status"]["containerStatuses"] if s["name"] == "app")
        demo.kubectl("-n", NAMESPACE, "delete", "deployment", f"down-{mode}", "--wait=false")


def short_lease_app(mode: str) -> dict[str, Any]:
    """The app, its database credential from the role whose leases last 4 s unless renewed."""
    document = quick_retries(deployment(f"lease-{mode}", mode))
    annotations = document["spec"]["template"]["metadata"]["annotations"]
    annotations["vault.hashicorp.com/agent-inject-secret-db.env"] = f"database/creds/{SHORT_ROLE}"
    template = annotations["vault.hashicorp.com/agent-inject-template-db.env"]
    annotations["vault.hashicorp.com/agent-inject-template-db.env"] = template.replace(
        "creds/app", f"creds/{SHORT_ROLE}"
    )
    return document


def test_with_vault_down_past_a_lease_end_the_pods_turn_not_ready_then_ready_again(
    demo: Demo, vault_back: None
) -> None:
    """Native and classic (init-only has no agent after start to tell)."""
    modes = ("native", "classic")
    for mode in modes:
        demo.kubectl("apply", "-f", "-", stdin=json.dumps(short_lease_app(mode)))
    names = {mode: wait_ready(demo, f"app=lease-{mode}")[0]["metadata"]["name"] for mode in modes}
    scale_vault(demo, 0)
    wait(
        "the pods NotReady once their lease ended", lambda: not any(map(ready_pod(demo), names.values())), 30
    )
    scale_vault(demo, 2)
    wait("the pods Ready again", lambda: all(map(ready_pod(demo), names.values())), 60)
    for mode in modes:
        (pod,) = pods(demo, f"app=lease-{mode}")
        assert pod["metadata"]["name"] == names[mode]
        assert {s["restartCount"] for s in pod["status"]["containerStatuses"]} == {0}, mode
        log = agent_logs(demo, f"lease-{mode}")
        assert re.search(r"not ready: a secret is missing, expired or failing.*\n.*agent: ready", log, re.S)
        demo.kubectl("-n", NAMESPACE, "delete", "deployment", f"lease-{mode}", "--wait=false")


def ready_pod(demo: Demo) -> Callable[[str], bool]:
    def ready(pod_name: str) -> bool:
        return is_ready(json.loads(demo.kubectl("-n", NAMESPACE, "get", "pod", pod_name, "-o", "json")))

    return ready


def agent_logs(demo: Demo, app: str) -> str:
    """The log of the pod's long-running agent, or of its init agent when it has none (init-only)."""
    (pod,) = pods(demo, f"app={app}")
    names = {c["name"] for c in (pod["spec"].get("initContainers") or []) + pod["spec"]["containers"]}
    agent = "vault-agent" if "vault-agent" in names else "vault-agent-init"
    return demo.kubectl("-n", NAMESPACE, "logs", pod["metadata"]["name"], "-c", agent)
