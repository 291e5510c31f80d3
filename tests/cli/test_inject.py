"""`vaultinject inject` and `vaultinject explain` on manifests."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import jsonpatch as reference
import pytest
import yaml

from tests.pods import OPTED_IN, VAULT, pod
from vaultinject.cli import main
from vaultinject.injector import inject
from vaultinject.spec import Settings

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ADDR = ["--vault-addr", "https://vault:8200"]


def run(
    argv: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None
) -> tuple[int, str, str]:
    if stdin is not None:
        monkey_stdin = io.StringIO(stdin)
        import sys

        original, sys.stdin = sys.stdin, monkey_stdin
        try:
            code = main(argv)
        finally:
            sys.stdin = original
    else:
        code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def write(tmp_path: Path, name: str, *documents: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(list(documents)))
    return str(path)


def test_one_pod_in_gives_one_injected_pod_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = pod(**OPTED_IN)
    code, out, err = run(["inject", "-f", write(tmp_path, "p.yaml", source), *ADDR], capsys)
    assert (code, err) == (0, "")
    result = yaml.safe_load(out)
    assert result == inject(source, Settings(vault_addr="https://vault:8200")).pod
    assert result["metadata"]["annotations"][VAULT + "agent-inject-status"] == "injected"


def test_stdin_is_the_default_source_and_json_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(json.dumps(pod(**OPTED_IN))))
    code, out, _ = run(["inject", "-o", "json", *ADDR], capsys)
    assert code == 0
    assert json.loads(out)["kind"] == "Pod"


def test_several_objects_give_a_v1_list_in_json_and_documents_in_yaml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc"},
        "spec": {"ports": [{"port": 80}]},
    }
    source = write(tmp_path, "m.yaml", pod(**OPTED_IN), service)
    code, out, _ = run(["inject", "-f", source, "-o", "json", *ADDR], capsys)
    listed = json.loads(out)
    assert (code, listed["apiVersion"], listed["kind"], len(listed["items"])) == (0, "v1", "List", 2)
    assert listed["items"][1] == service
    code, out, _ = run(["inject", "-f", source, *ADDR], capsys)
    assert [d["kind"] for d in yaml.safe_load_all(out)] == ["Pod", "Service"]


def test_a_list_input_is_flattened(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    listed = {"apiVersion": "v1", "kind": "List", "items": [pod(**OPTED_IN), pod("other")]}
    path = tmp_path / "l.json"
    path.write_text(json.dumps(listed))
    code, out, _ = run(["inject", "-f", str(path), "-o", "json", *ADDR], capsys)
    assert code == 0
    assert [i["metadata"]["name"] for i in json.loads(out)["items"]] == ["web", "other"]


@pytest.mark.parametrize(
    ("kind", "template_path"),
    [("Deployment", ["spec", "template"]), ("StatefulSet", ["spec", "template"]), ("DaemonSet", ["spec", "template"]),
     ("ReplicaSet", ["spec", "template"]), ("Job", ["spec", "template"]), ("CronJob", ["spec", "jobTemplate", "spec", "template"])],
)  # fmt: skip
def test_workload_pod_templates_are_injected_in_place(
    kind: str, template_path: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = pod(**OPTED_IN)
    template = {"metadata": source["metadata"] | {"labels": {"app": "web"}}, "spec": source["spec"]}
    template["metadata"].pop("name")
    workload: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": kind,
        "metadata": {"name": "web", "namespace": "shop"},
    }
    node = workload
    for key in template_path[:-1]:
        node = node.setdefault(key, {})
    node[template_path[-1]] = template
    code, out, _ = run(["inject", "-f", write(tmp_path, "w.yaml", workload), *ADDR], capsys)
    assert code == 0
    injected = yaml.safe_load(out)
    for key in template_path:
        injected = injected[key]
    assert injected["metadata"]["labels"] == {"app": "web"}
    assert "name" not in injected["metadata"]
    assert injected["metadata"]["annotations"][VAULT + "agent-inject-status"] == "injected"
    assert [c["name"] for c in injected["spec"]["initContainers"]] == ["vault-agent"]


def test_a_rejected_pod_prints_errors_only_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = pod("bad", **OPTED_IN, agent_run_as_user="root", log_format="xml")
    code, out, err = run(["inject", "-f", write(tmp_path, "m.yaml", pod(**OPTED_IN), bad), *ADDR], capsys)
    assert (code, out) == (1, "")
    lines = err.strip().splitlines()
    assert (
        f"error: Pod/bad: {VAULT}agent-run-as-user: 'root' is not an integer; use decimal digits, e.g. 1000"
        in lines
    )
    assert any(line.startswith(f"error: Pod/bad: {VAULT}log-format:") for line in lines)
    assert len(lines) == 2


def test_namespace_from_the_manifest_then_the_flag_then_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = write(tmp_path, "m.yaml", pod("a", namespace="kube-system", **OPTED_IN), pod("b", **OPTED_IN))
    code, _, err = run(["inject", "-f", source, *ADDR], capsys)
    assert code == 1
    assert "Pod/a: vault.hashicorp.com/agent-inject: cannot inject into system namespace kube-system" in err
    code, _, err = run(
        ["inject", "-f", write(tmp_path, "b.yaml", pod("b", **OPTED_IN)), "-n", "kube-public", *ADDR], capsys
    )
    assert (code, "Pod/b" in err, "kube-public" in err) == (1, True, True)


def test_settings_come_from_env_and_flags_override_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULTINJECT_VAULT_ADDR", "https://from-env:8200")
    monkeypatch.setenv("VAULTINJECT_MODE", "classic")
    source = write(tmp_path, "p.yaml", pod(**OPTED_IN))
    code, out, _ = run(["inject", "-f", source], capsys)
    injected = yaml.safe_load(out)
    assert code == 0
    assert [c["name"] for c in injected["spec"]["containers"]] == ["app", "vault-agent"]
    env = {e["name"]: e.get("value") for e in injected["spec"]["containers"][1]["env"]}
    assert env["VAULTINJECT_VAULT_ADDR"] == "https://from-env:8200"
    code, out, _ = run(
        ["inject", "-f", source, "--vault-addr", "https://flag:8200", "--mode", "init-only"], capsys
    )
    injected = yaml.safe_load(out)
    assert [c["name"] for c in injected["spec"]["initContainers"]] == ["vault-agent-init"]


def test_a_bad_setting_exits_2_naming_the_variable_and_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["inject", "-f", write(tmp_path, "p.yaml", pod(**OPTED_IN)), *ADDR, "--run-as-user", "root"], capsys
    )
    assert (code, out) == (2, "")
    assert "error: VAULTINJECT_RUN_AS_USER / --run-as-user: 'root' is not an integer" in err


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        ("a: [", "invalid YAML"),
        ('{"kind": ', "invalid JSON at line 1"),
        ("- 1\n- 2\n", "must be a Kubernetes object"),
    ],
)
def test_unreadable_manifests_name_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, fragment: str
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text(content)
    code, out, err = run(["inject", "-f", str(path), *ADDR], capsys)
    assert (code, out) == (1, "")
    assert err.startswith(f"error: {path}: ")
    assert fragment in err


def test_a_missing_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["inject", "-f", str(tmp_path / "nope.yaml"), *ADDR], capsys)
    assert code == 1
    assert "nope.yaml: No such file or directory" in err


def test_warnings_go_to_stderr_and_do_not_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(
        ["inject", "-f", write(tmp_path, "p.yaml", pod(**OPTED_IN, go_max_procs="2")), *ADDR], capsys
    )
    assert code == 0
    assert out
    assert "warning: Pod/web: vault.hashicorp.com/go-max-procs has no effect" in err


def test_the_examples_inject_and_their_patches_are_exact(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["inject", "-f", str(EXAMPLES), *ADDR], capsys)
    assert (code, err) == (0, "")
    kinds = [d["kind"] for d in yaml.safe_load_all(out)]
    assert kinds.count("Service") == 1
    assert len(kinds) == len([p for p in EXAMPLES.iterdir() for _ in yaml.safe_load_all(p.read_text())])
    settings = Settings(vault_addr="https://vault:8200")
    for document in yaml.safe_load_all((EXAMPLES / "payments-classic.yaml").read_text()):
        result = inject(document, settings)
        assert reference.apply_patch(document, result.patch) == result.pod


def test_explain_tells_the_mode_the_secrets_and_why(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explain", "-f", str(EXAMPLES), *ADDR], capsys)
    assert code == 0
    assert (
        "Deployment/storefront (namespace shop): not injected: no vault.hashicorp.com/agent-inject annotation"
        in out
    )
    assert "Deployment/orders (namespace shop): injected, mode native" in out
    assert "db.env -> /vault/secrets/db.env (mode 0400)" in out
    assert "vault path: database/creds/orders" in out
    assert "template: inline template (vault.hashicorp.com/agent-inject-template-db.env)" in out
    assert "after each change: kill -HUP 1" in out
    assert "Pod/payments (namespace shop): injected, mode classic" in out
    assert "config.json -> /etc/payments/config.json" in out
    assert "CronJob/nightly-report (namespace finance): injected, mode init-only" in out


def test_explain_lists_every_error_of_a_rejected_pod(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(
        [
            "explain",
            "-f",
            write(tmp_path, "p.yaml", pod(**OPTED_IN, agent_inject_file_db="../../etc/passwd")),
            *ADDR,
        ],
        capsys,
    )
    assert code == 1
    assert "Pod/web (namespace default): rejected" in out
    assert (
        "vault.hashicorp.com/agent-inject-file-db: '../../etc/passwd' would be written outside /vault/secrets"
        in out
    )
