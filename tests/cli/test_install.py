"""`vaultinject install`: least-privilege manifests that fail closed yet cannot lock a cluster out."""

from __future__ import annotations

import base64
import io
import json
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import trustme
import yaml

from vaultinject.cli import main
from vaultinject.lab.kube.harness import LabKube, in_process_kube

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "vaultinject.yaml"


def install(*args: str) -> tuple[str, list[dict[str, Any]]]:
    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["install", *args]) == 0
    return out.getvalue(), list(yaml.safe_load_all(out.getvalue()))


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {obj["kind"]: obj for obj in objects}


def test_the_committed_manifests_are_what_install_prints() -> None:
    text, _ = install()
    assert DEPLOY.read_text() == text, (
        "regenerate with: .venv/bin/vaultinject install > deploy/vaultinject.yaml"
    )


def test_the_webhook_fails_closed_but_never_matches_its_own_or_system_namespaces() -> None:
    _, objects = install()
    config = by_kind(objects)["MutatingWebhookConfiguration"]
    (webhook,) = config["webhooks"]
    assert (webhook["failurePolicy"], webhook["sideEffects"], webhook["reinvocationPolicy"]) == (
        "Fail",
        "None",
        "IfNeeded",
    )
    assert (
        8 < webhook["timeoutSeconds"] < 30
    )  # above the webhook's own 8 s deadline, below the API server's cap
    selector = webhook["namespaceSelector"]
    assert selector["matchLabels"] == {"vaultinject.io/inject": "enabled"}
    assert {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system", "vaultinject"],
    } in selector["matchExpressions"]
    _, opt_out = install("--opt-out", "--namespace", "secrets-ops")
    selector = by_kind(opt_out)["MutatingWebhookConfiguration"]["webhooks"][0]["namespaceSelector"]
    assert "matchLabels" not in selector
    assert {"key": "vaultinject.io/inject", "operator": "NotIn", "values": ["disabled"]} in selector[
        "matchExpressions"
    ]
    assert {
        "key": "kubernetes.io/metadata.name",
        "operator": "NotIn",
        "values": ["kube-system", "secrets-ops"],
    } in selector["matchExpressions"]


def test_rbac_is_least_privilege_and_every_rule_says_why() -> None:
    text, objects = install()
    rules = [rule for obj in objects if obj["kind"] in {"Role", "ClusterRole"} for rule in obj["rules"]]
    assert rules
    for rule in rules:
        assert "*" not in str(rule)
        assert set(rule["verbs"]) <= {"create", "get", "update"}
        if set(rule["verbs"]) != {"create"}:
            assert rule["resourceNames"], f"{rule} is not limited to named objects"
    assert text.count("\n# ") - text.count("\n# Generated") >= len(rules)
    lines = text.splitlines()
    for index, line in enumerate(lines):
        if line.startswith("- apiGroups:"):
            assert lines[index - 1].startswith("# "), f"rule at line {index} has no reason"
    _, files = install("--tls", "files")
    assert not {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"} & set(by_kind(files))


def test_the_deployment_is_restricted_highly_available_and_probed() -> None:
    _, objects = install("--replicas", "3")
    kinds = by_kind(objects)
    deployment = kinds["Deployment"]
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert {"readinessProbe", "livenessProbe", "startupProbe"} <= set(container)
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert "limits" in container["resources"]
    assert "cpu" not in container["resources"]["limits"]
    assert pod["affinity"]["podAntiAffinity"]
    assert kinds["PodDisruptionBudget"]["spec"]["maxUnavailable"] == 1
    assert kinds["Namespace"]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"


def test_files_mode_mounts_the_secret_and_asks_cert_manager_for_the_bundle() -> None:
    _, objects = install("--tls", "files")
    kinds = by_kind(objects)
    pod = kinds["Deployment"]["spec"]["template"]["spec"]
    assert {"name": "tls", "secret": {"secretName": "vaultinject-webhook-tls", "defaultMode": 0o440}} in pod[
        "volumes"
    ]
    assert "--tls-cert-file" in pod["containers"][0]["args"]
    annotations = kinds["MutatingWebhookConfiguration"]["metadata"]["annotations"]
    assert annotations == {"cert-manager.io/inject-ca-from": "vaultinject/vaultinject"}


@pytest.mark.parametrize("version", ["1.29.0", "1.30.0", "1.31.0", "1.32.0"])
@pytest.mark.parametrize("args", [[], ["--tls", "files", "--opt-out"]], ids=["auto", "files-opt-out"])
def test_schema_valid_for_kubernetes(version: str, args: list[str]) -> None:
    _, objects = install(*args)
    for obj in objects:
        kubernetes_validate.validate(obj, version, strict=True)


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    with in_process_kube(tmp_path_factory.mktemp("kube")) as server:
        yield server


def kubectl(kube: LabKube, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["kubectl", *args],
        input=stdin,
        env=kube.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_api_server_accepts_every_object(kube: LabKube) -> None:
    text, objects = install()
    namespace = kubectl(kube, "apply", "-f", "-", stdin=yaml.safe_dump(objects[0]))
    assert namespace.returncode == 0, namespace.stderr
    result = kubectl(kube, "apply", "--dry-run=server", "-f", "-", stdin=text)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("(server dry run)") == len(objects)


def test_bad_options_are_refused() -> None:
    for args in (["--replicas", "0"], ["--namespace", "Not_Valid"]):
        result = subprocess.run(
            [sys.executable, "-m", "vaultinject.cli", "install", *args],
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 2
        assert result.stderr.startswith("error: ")


def test_the_webhook_runs_with_exactly_these_permissions(kube: LabKube, tmp_path: Path) -> None:
    """Automatic TLS as the installed service account: its Secret, its Lease and its caBundle, no more."""
    from tests.webhook.harness import running_auto_webhook

    text, _ = install()
    applied = kubectl(kube, "apply", "-f", "-", stdin=text)
    assert applied.returncode == 0, applied.stderr
    token = kube.mint_token("vaultinject", "vaultinject")
    config = yaml.safe_load(kube.kubeconfig.read_text())
    config["users"] = [{"name": "webhook", "user": {"token": token}}]
    config["contexts"][0]["context"]["user"] = "webhook"
    kubeconfig = tmp_path / "webhook.kubeconfig"
    kubeconfig.write_text(yaml.safe_dump(config))
    hosts = "127.0.0.1,vaultinject.vaultinject.svc"
    with running_auto_webhook(
        kubeconfig, "--namespace", "vaultinject", "--tls-hosts", hosts, "--tls-sync", "0.2s"
    ) as webhook:
        deadline = time.monotonic() + 30
        while not (bundle := _published_bundle(kube)):
            assert webhook.process.poll() is None, "".join(webhook.log)
            assert time.monotonic() < deadline, "".join(webhook.log)
            time.sleep(0.2)
        context = ssl.create_default_context(cadata=bundle)
        with (
            socket.create_connection(("127.0.0.1", webhook.port), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname="127.0.0.1"),
        ):
            pass  # the certificate it serves is trusted by exactly what it published
    assert "Forbidden" not in "".join(webhook.log)
    denied = kubectl(
        kube,
        "auth",
        "can-i",
        "list",
        "secrets",
        "-n",
        "vaultinject",
        "--as",
        "system:serviceaccount:vaultinject:vaultinject",
    )
    assert denied.stdout.strip() == "no"


def _published_bundle(kube: LabKube) -> str:
    config = kube.call(
        "GET", "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/vaultinject"
    )
    encoded = config["webhooks"][0]["clientConfig"].get("caBundle") or ""
    return base64.b64decode(encoded).decode()


CHECKOV = Path(__file__).resolve().parents[2] / ".venv-checkov" / "bin" / "checkov"


@pytest.mark.skipif(not CHECKOV.exists(), reason="`make test` installs checkov in .venv-checkov")
@pytest.mark.parametrize("args", [[], ["--tls", "files", "--opt-out"]], ids=["auto", "files-opt-out"])
def test_checkovs_kubernetes_checks_pass_or_say_why_not(tmp_path: Path, args: list[str]) -> None:
    text, _ = install(*args)
    manifest = tmp_path / "install.yaml"
    manifest.write_text(text)
    result = subprocess.run(
        [str(CHECKOV), "-f", str(manifest), "--framework", "kubernetes", "--skip-download", "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=tmp_path,
    )
    report = json.loads(result.stdout)
    assert report["summary"]["failed"] == 0, [c["check_id"] for c in report["results"]["failed_checks"]]
    assert report["summary"]["passed"] > 50
    for check in report["results"]["skipped_checks"]:
        assert len(check["check_result"]["suppress_comment"]) > 20, check["check_id"]


def test_the_agents_trust_the_vault_ca_given_to_install(tmp_path: Path) -> None:
    ca = tmp_path / "vault-ca.crt"
    ca.write_bytes(trustme.CA().cert_pem.bytes())
    _, objects = install("--vault-cacert", str(ca))
    env = by_kind(objects)["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "VAULTINJECT_VAULT_CACERT_BYTES", "value": ca.read_text()} in env
    _, without = install()
    env = by_kind(without)["Deployment"]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert all(e["name"] != "VAULTINJECT_VAULT_CACERT_BYTES" for e in env)


def test_a_vault_ca_that_is_not_a_certificate_is_refused_by_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("hello")
    assert main(["install", "--vault-cacert", str(not_pem)]) == 2
    assert main(["install", "--vault-cacert", str(tmp_path / "absent.crt")]) == 2
    err = capsys.readouterr().err
    assert f"--vault-cacert: {not_pem} holds no PEM certificate" in err
    assert "absent.crt" in err
    assert "Traceback" not in err
