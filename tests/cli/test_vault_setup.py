"""`vaultinject vault-setup` against the lab Vault (in-process) and the lab API server (in-process).

Vault "in the cluster" is a lab Vault whose local service-account token file holds the bound token of a
pod `vault-0` (as the kubelet projects it), so a login proves that Vault reviews with its own pod's
token; "outside the cluster" is a lab Vault with no local token at all.
"""

from __future__ import annotations

import base64
import json
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hvac
import pytest

from vaultinject.cli import main
from vaultinject.lab.kube.harness import LabKube, in_process_kube
from vaultinject.lab.vault.harness import ThreadVault, vault_thread

VAULT_LABELS = {"app.kubernetes.io/name": "vault"}


@pytest.fixture(scope="module")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabKube]:
    with in_process_kube(tmp_path_factory.mktemp("kube")) as server:
        yield server


@dataclass
class Cluster:
    """One test's corner of the shared API server: Vault's namespace and an app namespace."""

    kube: LabKube
    vault_ns: str
    app_ns: str
    token_file: Path

    def vault_pod(self, name: str = "vault-0", grant: bool = True) -> dict[str, Any]:
        """Vault's pod as vault-helm runs it; its bound token is what Vault reads as its own."""
        if grant:
            self.kube.grant("system:auth-delegator", self.vault_ns, "vault")
        pod = self.kube.create_pod(self.vault_ns, name, service_account="vault", labels=VAULT_LABELS)
        self.token_file.write_text(self.kube.mint_token(self.vault_ns, "vault", pod=pod))
        return pod

    def app_token(self) -> str:
        pod = self.kube.create_pod(self.app_ns, f"app-{uuid.uuid4().hex[:6]}", service_account="app")
        return self.kube.mint_token(self.app_ns, "app", pod=pod)

    def flags(self, healer: bool = False) -> list[str]:
        """The healer's access has tests of its own (test_healer_access_*): the rest leave it out."""
        if healer:
            return ["--vault-namespace", self.vault_ns, "--healer-namespace", self.healer_ns]
        return ["--vault-namespace", self.vault_ns, "--no-healer-access"]

    @property
    def healer_ns(self) -> str:
        return f"vaultinject-{self.vault_ns.removeprefix('vault-')}"


@pytest.fixture
def cluster(kube: LabKube, tmp_path: Path) -> Cluster:
    suffix = uuid.uuid4().hex[:8]
    vault_ns, app_ns = f"vault-{suffix}", f"shop-{suffix}"
    kube.ensure_namespace(vault_ns)
    kube.ensure_namespace(app_ns)
    return Cluster(kube, vault_ns, app_ns, tmp_path / "vault-sa-token")


@pytest.fixture
def vault(cluster: Cluster, tmp_path: Path) -> Iterator[ThreadVault]:
    """A Vault whose own service-account token and CA are those of pod vault-0 (once it exists)."""
    with vault_thread(
        workdir=tmp_path / "vault",
        local_sa_token_file=cluster.token_file,
        local_ca_cert_file=cluster.kube.ca_file,
        local_token_reload_seconds=0.0,
    ) as server:
        yield server


@pytest.fixture(autouse=True)
def environment(monkeypatch: pytest.MonkeyPatch, kube: LabKube, tmp_path: Path) -> None:
    monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.vault-token of the user's
    for name in ("VAULT_ADDR", "VAULT_TOKEN", "VAULT_CACERT", "VAULT_NAMESPACE", "KUBERNETES_SERVICE_HOST"):
        monkeypatch.delenv(name, raising=False)


def use(monkeypatch: pytest.MonkeyPatch, vault: ThreadVault, token: str | None = None) -> None:
    monkeypatch.setenv("VAULT_ADDR", vault.url)
    monkeypatch.setenv("VAULT_TOKEN", token or vault.root_token)


def setup(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["vault-setup", *args])
    out, err = capsys.readouterr()
    return code, out, err


def client(vault: ThreadVault) -> hvac.Client:
    return hvac.Client(url=vault.url, token=vault.root_token)


def config(vault: ThreadVault) -> dict[str, Any]:
    return dict(client(vault).auth.kubernetes.read_config())


def app_role(vault: ThreadVault, cluster: Cluster) -> None:
    client(vault).auth.kubernetes.create_role(
        "app", bound_service_account_names=["app"], bound_service_account_namespaces=[cluster.app_ns]
    )


def login(vault: ThreadVault, jwt: str) -> int:
    status, _ = vault.api("POST", "auth/kubernetes/login", {"role": "app", "jwt": jwt}, token="")
    return status


def claims(jwt: str) -> dict[str, Any]:
    payload = jwt.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def in_cluster(cluster: Cluster, *extra: str, healer: bool = False) -> list[str]:
    return [*cluster.flags(healer), "--kubernetes-host", cluster.kube.url, *extra]


# -- Vault in the cluster --------------------------------------------------------------------------


def test_fresh_vault_gets_host_only_config_and_a_real_login_works(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    use(monkeypatch, vault)
    code, out, _ = setup(capsys, *in_cluster(cluster))
    assert code == 0, out
    assert (
        f"Vault runs in the cluster: pods vault-0 (app.kubernetes.io/name=vault) in namespace {cluster.vault_ns}"
        in out
    )
    assert "1. enable the Kubernetes auth method at auth/kubernetes/: it is not enabled" in out
    assert "2. write auth/kubernetes/config with kubernetes_host" in out
    assert "done: 2 steps applied" in out
    stored = config(vault)
    assert stored["kubernetes_host"] == cluster.kube.url
    assert stored["token_reviewer_jwt_set"] is False
    assert stored["kubernetes_ca_cert"] == ""
    assert stored["disable_local_ca_jwt"] is False
    app_role(vault, cluster)
    assert login(vault, cluster.app_token()) == 200

    code, out, _ = setup(capsys, *in_cluster(cluster))
    assert code == 0
    assert "nothing to do" in out
    assert "plan:" not in out


def test_default_host_is_the_in_cluster_service(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    use(monkeypatch, vault)
    code, out, _ = setup(capsys, *cluster.flags(), "--dry-run", "-o", "json")
    assert code == 0
    plan = json.loads(out)
    body = plan["steps"][1]["action"]["body"]
    assert body["kubernetes_host"] == "https://kubernetes.default.svc"
    assert "token_reviewer_jwt" not in body
    assert body["kubernetes_ca_cert"] == ""


def test_fragile_runbook_config_is_replaced_and_logins_survive_the_vault_pod(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The runbook stores vault-0's bound token; vault-0 is recreated (new UID) and logins die with it."""
    pod = cluster.vault_pod()
    hv = client(vault)
    hv.sys.enable_auth_method("kubernetes")
    issuer = claims(cluster.token_file.read_text())["iss"]
    hv.write(  # the runbook's command, plus an issuer set on purpose
        "auth/kubernetes/config",
        kubernetes_host=cluster.kube.url,
        token_reviewer_jwt=cluster.token_file.read_text(),
        kubernetes_ca_cert=cluster.kube.ca_file.read_text(),
        issuer=issuer,
        disable_iss_validation=False,
    )
    app_role(vault, cluster)
    assert login(vault, cluster.app_token()) == 200
    cluster.kube.call(
        "DELETE", f"/api/v1/namespaces/{cluster.vault_ns}/pods/{pod['metadata']['name']}?gracePeriodSeconds=0"
    )
    cluster.vault_pod(grant=False)  # the StatefulSet's new vault-0; the kubelet projects its token
    assert login(vault, cluster.app_token()) == 403  # the stored token died with the old pod

    use(monkeypatch, vault)
    code, out, _ = setup(capsys, *in_cluster(cluster))
    assert code == 0, out
    assert "a reviewer token is stored (token_reviewer_jwt): a pod's bound token dies with its pod" in out
    assert "a CA is stored (kubernetes_ca_cert)" in out
    assert f"kept as set: issuer={issuer!r}, disable_iss_validation=False" in out
    stored = config(vault)
    assert stored["token_reviewer_jwt_set"] is False
    assert stored["kubernetes_ca_cert"] == ""
    assert stored["issuer"] == issuer
    assert stored["disable_iss_validation"] is False
    assert login(vault, cluster.app_token()) == 200
    assert cluster.token_file.read_text() not in out


def test_dry_run_writes_nothing(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    use(monkeypatch, vault)
    code, out, _ = setup(capsys, *in_cluster(cluster), "--dry-run")
    assert code == 0
    assert "plan:" in out
    assert "dry run: nothing was changed" in out
    assert "kubernetes/" not in client(vault).sys.list_auth_methods()["data"]


def test_old_vault_is_refused_naming_the_local_token_reload(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    with vault_thread(workdir=tmp_path / "old", version="1.9.2") as old:
        use(monkeypatch, old)
        code, out, _ = setup(capsys, *in_cluster(cluster))
        assert code == 1
        assert "Vault 1.9.2 is older than 1.9.3" in out
        assert "local token reload" in out
        assert "fix: upgrade Vault to 1.9.3 or later" in out
        assert "kubernetes/" not in client(old).sys.list_auth_methods()["data"]


def test_missing_auth_delegator_is_refused_then_granted(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod(grant=False)
    use(monkeypatch, vault)
    code, out, _ = setup(capsys, *in_cluster(cluster))
    assert code == 1
    binding = f"vaultinject-auth-delegator-{cluster.vault_ns}-vault"
    assert f"service account {cluster.vault_ns}/vault is not allowed to create tokenreviews" in out
    assert (
        f"fix: kubectl create clusterrolebinding {binding} --clusterrole=system:auth-delegator "
        f"--serviceaccount={cluster.vault_ns}:vault"
    ) in out
    assert "kubernetes/" not in client(vault).sys.list_auth_methods()["data"]
    code, out, _ = setup(capsys, *in_cluster(cluster), "-o", "json")
    assert code == 1
    document = json.loads(out)
    assert document["applied"] is False
    assert document["refusals"][0]["fix"].startswith(f"kubectl create clusterrolebinding {binding}")

    code, out, _ = setup(capsys, *in_cluster(cluster, "--grant-auth-delegator"))
    assert code == 0, out
    assert f"bind service account {cluster.vault_ns}/vault to ClusterRole system:auth-delegator" in out
    app_role(vault, cluster)
    assert login(vault, cluster.app_token()) == 200
    code, out, _ = setup(capsys, *in_cluster(cluster))
    assert (code, "nothing to do" in out) == (0, True)


def test_role_and_generated_policy_then_login_reads_the_secret(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    use(monkeypatch, vault)
    role = ["--role", "app", "--service-account", "app", "--namespace", cluster.app_ns,
            "--policy", "app-read", "--secret-path", "secret/data/shop/*", "--ttl", "1h"]  # fmt: skip
    code, out, _ = setup(capsys, *in_cluster(cluster), *role)
    assert code == 0, out
    assert (
        "write policy app-read (read-only, generated from --secret-path): policy app-read does not exist"
        in out
    )
    assert f"write role app on auth/kubernetes/ for service accounts {cluster.app_ns}/app" in out
    client(vault).secrets.kv.v2.create_or_update_secret("shop/db", secret={"password": "hunter22"})
    client(vault).secrets.kv.v2.create_or_update_secret("other/db", secret={"password": "nope"})
    _, answer = vault.api(
        "POST", "auth/kubernetes/login", {"role": "app", "jwt": cluster.app_token()}, token=""
    )
    token = answer["auth"]["client_token"]
    assert answer["auth"]["lease_duration"] == 3600
    assert vault.api("GET", "secret/data/shop/db", token=token)[0] == 200
    assert vault.api("GET", "secret/data/other/db", token=token)[0] == 403

    code, out, _ = setup(capsys, *in_cluster(cluster), *role)
    assert (code, "nothing to do" in out) == (0, True), out


# -- Vault outside the cluster -----------------------------------------------------------------------


def test_outside_cluster_creates_a_reviewer_with_a_secret_token_and_login_works(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with vault_thread(
        workdir=tmp_path / "outside",
        local_sa_token_file=tmp_path / "no-token",
        local_ca_cert_file=tmp_path / "no-ca",
    ) as outside:
        use(monkeypatch, outside)
        code, out, err = setup(capsys, *cluster.flags())
        assert code == 0, out + err
        assert "Vault runs outside the cluster: no pod labelled app.kubernetes.io/name=vault" in out
        assert "a token bound to a Secret lives until the Secret is deleted" in out
        secret_name = "vault-token-reviewer-token"
        secret = cluster.kube.call("GET", f"/api/v1/namespaces/{cluster.vault_ns}/secrets/{secret_name}")
        assert secret["type"] == "kubernetes.io/service-account-token"
        binding = cluster.kube.call(
            "GET",
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/"
            f"vaultinject-auth-delegator-{cluster.vault_ns}-vault-token-reviewer",
        )
        assert binding["roleRef"]["name"] == "system:auth-delegator"
        reviewer = f"system:serviceaccount:{cluster.vault_ns}:vault-token-reviewer"
        can_i = subprocess.run(
            ["kubectl", "auth", "can-i", "create", "tokenreviews.authentication.k8s.io", "--as", reviewer],
            env=cluster.kube.env(), capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert can_i.stdout.strip() == "yes", can_i.stderr
        stored = config(outside)
        assert stored["token_reviewer_jwt_set"] is True
        assert stored["kubernetes_host"] == cluster.kube.url
        assert "BEGIN CERTIFICATE" in stored["kubernetes_ca_cert"]
        token = base64.b64decode(secret["data"]["token"]).decode()
        assert token not in out
        assert token not in err
        app_role(outside, cluster)
        assert login(outside, cluster.app_token()) == 200

        code, out, _ = setup(capsys, *cluster.flags())
        assert code == 0, out
        assert "nothing to do" in out
        assert "cannot tell whether it is the one of Secret" in out


# -- connection settings and permissions ----------------------------------------------------------


def test_flags_override_the_vault_variables(
    cluster: Cluster, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    with vault_thread(workdir=tmp_path / "tls", tls=True) as secure:
        assert secure.ca_file is not None
        monkeypatch.setenv("VAULT_ADDR", "https://127.0.0.1:1")  # nothing listens there
        monkeypatch.setenv("VAULT_TOKEN", "not-the-token")
        monkeypatch.setenv("VAULT_CACERT", str(tmp_path / "missing.pem"))
        token_file = tmp_path / "token"
        token_file.write_text(secure.root_token + "\n")
        flags = ["--vault-addr", secure.url, "--vault-cacert", str(secure.ca_file),
                 "--vault-token-file", str(token_file), "--dry-run"]  # fmt: skip
        code, out, err = setup(capsys, *in_cluster(cluster), *flags)
        assert code == 0, out + err
        assert f"at {secure.url}" in out

        monkeypatch.setenv("VAULT_ADDR", secure.url)
        monkeypatch.setenv("VAULT_TOKEN", secure.root_token)
        monkeypatch.setenv("VAULT_CACERT", str(secure.ca_file))
        code, out, err = setup(capsys, *in_cluster(cluster), "--dry-run")
        assert code == 0, out + err

        monkeypatch.delenv("VAULT_CACERT")
        code, out, err = setup(capsys, *in_cluster(cluster), "--dry-run")
        assert code == 1
        assert "TLS" in err


def test_no_token_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = setup(capsys, "--dry-run")
    assert code == 2
    assert "no Vault token: set VAULT_TOKEN" in err


def read_only_token(cluster: Cluster, vault: ThreadVault, **options: bool) -> tuple[hvac.Client, str]:
    """A Vault pod, Kubernetes auth enabled, and a token that may only read its mount and config."""
    cluster.vault_pod()
    hv = client(vault)
    hv.sys.enable_auth_method("kubernetes")
    hv.sys.create_or_update_acl_policy(
        "reader",
        'path "sys/auth" { capabilities = ["read"] }\npath "auth/kubernetes/config" { capabilities = ["read"] }',
    )
    return hv, hv.auth.token.create(policies=["reader"], **options)["auth"]["client_token"]


def test_a_token_without_permission_gets_the_path_and_capability(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    hv, weak = read_only_token(cluster, vault)
    use(monkeypatch, vault, weak)
    code, out, _ = setup(capsys, *in_cluster(cluster))
    assert code == 1
    assert "needs update on auth/kubernetes/config (it has: read)" in out
    assert (
        'fix: add to the token\'s policy: path "auth/kubernetes/config" { capabilities = ["update"] }' in out
    )
    assert weak not in out
    with pytest.raises(hvac.exceptions.InvalidPath):
        hv.auth.kubernetes.read_config()


def test_json_output_is_the_plan(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    use(monkeypatch, vault)
    code, out, err = setup(capsys, *in_cluster(cluster), "-o", "json")
    assert code == 0
    document = json.loads(out)
    assert document["mode"] == "in-cluster"
    assert document["applied"] is True
    assert [s["action"]["path"] for s in document["steps"]] == [
        "sys/auth/kubernetes",
        "auth/kubernetes/config",
    ]
    assert "[2/2] done" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "app"], "--role needs at least one --service-account"),
        (["--policy", "p"], "belong to a --role"),
        (
            ["--role", "a", "--service-account", "a", "--namespace", "n", "--secret-path", "x"],
            "exactly one --policy",
        ),
        (["--policy-file", "nofile"], "must be NAME=FILE"),
        (["--role", "a", "--service-account", "a", "--namespace", "n", "--ttl", "soon"], "--ttl 'soon'"),
    ],
)
def test_bad_flags_exit_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, args: list[str], message: str
) -> None:
    monkeypatch.setenv("VAULT_TOKEN", "t")
    code, _, err = setup(capsys, *args)
    assert code == 2
    assert message in err


def test_a_403_on_the_write_itself_names_the_path_and_capability(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the default policy the token may not ask sys/capabilities-self: Vault's 403 is the answer."""
    _, weak = read_only_token(cluster, vault, no_default_policy=True)
    use(monkeypatch, vault, weak)
    code, _, err = setup(capsys, *in_cluster(cluster))
    assert code == 1
    assert (
        "error: Vault refused POST auth/kubernetes/config (403): the Vault token may not write "
        "auth/kubernetes/config: it needs update on auth/kubernetes/config"
    ) in err
    assert weak not in err


def test_an_unreachable_api_server_is_a_clear_failure(
    cluster: Cluster,
    vault: ThreadVault,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    broken = tmp_path / "kubeconfig"
    broken.write_text(cluster.kube.kubeconfig.read_text().replace(cluster.kube.url, "https://127.0.0.1:1"))
    use(monkeypatch, vault)
    code, _, err = setup(capsys, *cluster.flags(), "--kubeconfig", str(broken))
    assert code == 1
    assert "error: cannot list the pods of Vault's namespace: the Kubernetes API server did not answer" in err
    assert "Traceback" not in err


def test_a_ca_file_without_a_certificate_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bogus = tmp_path / "ca.pem"
    bogus.write_text("not a certificate")
    monkeypatch.setenv("VAULT_TOKEN", "t")
    monkeypatch.setenv("VAULT_CACERT", str(bogus))
    code, _, err = setup(capsys, "--dry-run")
    assert code == 2
    assert f"cannot load the Vault CA file {bogus}" in err
    assert "Traceback" not in err


# -- the healer's and the canary's access ------------------------------------------------------------


def test_healer_access_lets_the_healer_log_in_by_jwt_and_rewrite_only_the_config_without_a_reviewer_token(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    use(monkeypatch, vault)
    code, out, _ = setup(capsys, *in_cluster(cluster, healer=True))
    assert code == 0, out
    assert "write policy vaultinject-healer" in out
    assert "enable the JWT auth method at auth/vaultinject-jwt/" in out
    namespace = cluster.healer_ns
    cluster.kube.ensure_service_account(namespace, "vaultinject-healer")
    healer_jwt = cluster.kube.mint_token(namespace, "vaultinject-healer", audiences=["vaultinject-healer"])
    healer = hvac.Client(url=vault.url)
    healer.auth.jwt.jwt_login("vaultinject-healer", healer_jwt, path="vaultinject-jwt")
    assert healer.lookup_token()["data"]["policies"] == ["default", "vaultinject-healer"]
    current = healer.read("auth/kubernetes/config")["data"]
    healer.write("auth/kubernetes/config", kubernetes_host=current["kubernetes_host"])
    with pytest.raises(hvac.exceptions.Forbidden):
        healer.write(
            "auth/kubernetes/config", kubernetes_host=current["kubernetes_host"], token_reviewer_jwt="x"
        )
    with pytest.raises(hvac.exceptions.Forbidden):
        healer.sys.list_auth_methods()
    other_jwt = cluster.kube.mint_token(namespace, "vaultinject-canary", audiences=["vaultinject-healer"])
    with pytest.raises(hvac.exceptions.InvalidRequest):  # bound to the healer's service account only
        hvac.Client(url=vault.url).auth.jwt.jwt_login("vaultinject-healer", other_jwt, path="vaultinject-jwt")

    code, out, _ = setup(capsys, *in_cluster(cluster, healer=True))
    assert (code, "nothing to do" in out) == (0, True), out


def test_healer_access_gives_the_canary_a_login_whose_token_can_do_nothing(
    cluster: Cluster, vault: ThreadVault, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cluster.vault_pod()
    use(monkeypatch, vault)
    code, out, _ = setup(capsys, *in_cluster(cluster, healer=True))
    assert code == 0, out
    assert f"create service account {cluster.healer_ns}/vaultinject-canary for canary logins" in out
    canary_jwt = cluster.kube.mint_token(cluster.healer_ns, "vaultinject-canary")
    canary = hvac.Client(url=vault.url)
    answer = canary.auth.kubernetes.login("vaultinject-canary", canary_jwt)
    assert answer["auth"]["policies"] == []
    with pytest.raises(hvac.exceptions.Forbidden):
        canary.lookup_token()  # not even the default policy
