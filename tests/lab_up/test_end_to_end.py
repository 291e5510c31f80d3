"""Secrets before start, end to end on a lab cluster: Vault in it, `vault-setup`, the webhook installed
with `install | kubectl apply`, and demo/app.yaml's app in every injection mode, as a Deployment and as a
Job. Judged by kubectl (Ready, Complete), the app's own log (it refuses to start without its files, and
logs its start time with their mtimes) and the files' content, owner and mode."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from demo.run import NAMESPACE, Demo, DemoFailed
from demo.workloads import deployment, logins, pods, prepare, wait_ready

MODES = ("native", "classic", "init-only")


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    lab = Demo(tmp_path_factory.mktemp("e2e") / "lab")
    try:
        prepare(lab)
        yield lab
    finally:
        lab.stop()


def job(name: str, mode: str) -> dict[str, Any]:
    """The app as a Job: it checks its files, prints the greeting and exits 0."""
    template = deployment(name, mode)["spec"]["template"]
    template["metadata"]["labels"] = {"job": name}
    template["spec"]["restartPolicy"] = "Never"
    script = (
        "for f in /vault/secrets/config.txt /vault/secrets/db.env; do test -s $f || exit 1; done; "
        "cat /vault/secrets/config.txt; echo"
    )
    template["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", script]
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"backoffLimit": 0, "template": template},
    }


@pytest.mark.parametrize("mode", MODES)
def test_an_injected_deployment_is_ready_with_its_files_and_the_app_never_ran_before_them(
    demo: Demo, mode: str
) -> None:
    name = f"app-{mode}"
    before = logins(demo)
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(deployment(name, mode)))
    try:
        (pod,) = wait_ready(demo, f"app={name}")
    except DemoFailed:
        pytest.fail(demo.kubectl("-n", NAMESPACE, "logs", f"deployment/{name}", "--all-containers"))
    spec = pod["spec"]
    init_names = [c["name"] for c in spec.get("initContainers") or []]
    names = [c["name"] for c in spec["containers"]]
    expected = {
        "native": (["vault-agent"], ["app"]),
        "classic": (["vault-agent-init"], ["app", "vault-agent"]),
        "init-only": (["vault-agent-init"], ["app"]),
    }
    assert (init_names, names) == expected[mode]
    log = demo.kubectl("-n", NAMESPACE, "logs", pod["metadata"]["name"], "-c", "app")
    started, written = re.search(r"started at (\S+); secrets written at ([\d. ]+)", log).groups()  # type: ignore[union-attr]
    assert float(started) >= max(float(t) for t in written.split())
    assert "says greeting=hello from Vault" in log
    assert re.search(r"database user v-kubernet-app-\S+", log)
    assert logins(demo) - before == 1  # one login per pod, in every mode
    demo.kubectl("-n", NAMESPACE, "delete", "deployment", name, "--wait=false")


@pytest.mark.parametrize("mode", ["native", "init-only"])
def test_an_injected_job_completes_and_its_native_agent_stops_after_the_app(demo: Demo, mode: str) -> None:
    name = f"job-{mode}"
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(job(name, mode)))
    demo.kubectl("-n", NAMESPACE, "wait", f"job/{name}", "--for=condition=Complete", "--timeout=60s")
    (pod,) = pods(demo, f"job={name}")
    assert pod["status"]["phase"] == "Succeeded"
    for status in pod["status"].get("initContainerStatuses") or []:
        assert "terminated" in status["state"], status  # the native agent too: stopped after the app
    log = demo.kubectl("-n", NAMESPACE, "logs", pod["metadata"]["name"], "-c", "app")
    assert log.strip() == "greeting=hello from Vault"


def test_a_workload_without_annotations_in_the_same_namespace_is_untouched(demo: Demo) -> None:
    plain = deployment("plain", "native")
    plain["spec"]["template"]["metadata"]["annotations"] = {}
    plain["spec"]["template"]["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", "sleep 3600"]
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(plain))
    (pod,) = wait_ready(demo, "app=plain")
    assert [c["name"] for c in pod["spec"]["containers"]] == ["app"]
    assert not pod["spec"].get("initContainers")
    assert not any(k.startswith("vault.hashicorp.com") for k in pod["metadata"].get("annotations") or {})
    demo.kubectl("-n", NAMESPACE, "delete", "deployment", "plain", "--wait=false")


def test_the_secret_files_have_the_annotated_mode_and_the_apps_owner(demo: Demo, tmp_path: Path) -> None:
    """db.env is 0400 (its perms annotation) and owned by the app's user (agent-run-as-same-user)."""
    name = "app-files"
    document = deployment(name, "native")
    script = "stat -c '%a %u %n' /vault/secrets/db.env /vault/secrets/config.txt; sleep 3600"
    document["spec"]["template"]["spec"]["containers"][0]["command"] = ["/bin/sh", "-c", script]
    demo.kubectl("apply", "-f", "-", stdin=json.dumps(document))
    wait_ready(demo, f"app={name}")
    log = demo.kubectl("-n", NAMESPACE, "logs", f"deployment/{name}", "-c", "app")
    assert "400 1000 /vault/secrets/db.env" in log
    assert re.search(r"^6[04]4 1000 /vault/secrets/config.txt$", log, re.MULTILINE), log
    demo.kubectl("-n", NAMESPACE, "delete", "deployment", name, "--wait=false")
