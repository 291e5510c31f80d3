"""JWT and AppRole auth, PKI issue with parameters, LIST, and missing keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from cryptography import x509

from tests.agent.lab import AgentRun, Lab

ISSUER = "https://kubernetes.default.svc.cluster.local"


def test_jwt_auth_with_the_pods_token_against_the_clusters_jwks(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    client = lab.client
    client.sys.enable_auth_method("jwt")
    client.write(
        "auth/jwt/config",
        jwks_url=f"{lab.kube.url}/openid/v1/jwks",
        jwks_ca_pem=Path(lab.kube.ca_file).read_text(),
        bound_issuer=ISSUER,
    )
    client.write("auth/jwt/role/app", role_type="jwt", bound_audiences=ISSUER, user_claim="sub",
                 bound_subject="system:serviceaccount:demo:app", token_policies="app")  # fmt: skip
    run = agent(auth_type="jwt", auth_path="auth/jwt", agent_inject_secret_db="secret/data/app/db")
    assert run.run("init") == 0, run.log()
    assert "alice" in run.file("db")
    assert 'auth="jwt at auth/jwt"' in run.log()


def test_approle_auth_reads_its_ids_from_files(
    lab: Lab, agent: Callable[..., AgentRun], tmp_path: Path
) -> None:
    client = lab.client
    client.sys.enable_auth_method("approle")
    client.write("auth/approle/role/app", token_policies="app")
    role_id = client.read("auth/approle/role/app/role-id")["data"]["role_id"]
    secret_id = client.write("auth/approle/role/app/secret-id")["data"]["secret_id"]
    lab.secrets.update({role_id, secret_id})
    (tmp_path / "role-id").write_text(role_id)
    (tmp_path / "secret-id").write_text(secret_id + "\n")
    run = agent(auth_type="approle", auth_path="auth/approle", role="",
                auth_config_role_id_file_path=str(tmp_path / "role-id"),
                auth_config_secret_id_file_path=str(tmp_path / "secret-id"),
                agent_inject_secret_db="secret/data/app/db")  # fmt: skip
    assert run.run("init") == 0, run.log()
    assert "alice" in run.file("db")


def test_pki_issue_with_parameters_writes_a_real_certificate(
    lab: Lab, agent: Callable[..., AgentRun]
) -> None:
    client = lab.client
    client.sys.enable_secrets_engine("pki")
    client.write("pki/root/generate/internal", common_name="lab root", ttl="87600h")
    client.write("pki/roles/app", allowed_domains="demo.svc", allow_subdomains=True, max_ttl="72h")
    run = agent(
        agent_inject_secret_cert="pki/issue/app",
        agent_inject_template_cert='{{ with secret "pki/issue/app" "common_name=web.demo.svc" "ttl=2h" }}'
        "{{ .Data.certificate }}{{ end }}",
        agent_inject_secret_bundle="pki/issue/app",
        agent_inject_template_bundle='{{ with pkiCert "pki/issue/app" "common_name=api.demo.svc" }}{{ .Cert }}{{ .Key }}{{ end }}',
        agent_inject_perms_bundle="0600",
    )
    assert run.run("init") == 0, run.log()
    certificate = x509.load_pem_x509_certificate(run.file("cert").encode())
    assert certificate.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == "web.demo.svc"
    lifetime = certificate.not_valid_after_utc - certificate.not_valid_before_utc
    assert 7000 < lifetime.total_seconds() <= 7260
    bundle = run.file("bundle")
    assert "BEGIN CERTIFICATE" in bundle
    assert "PRIVATE KEY" in bundle


def test_secrets_lists_keys_under_a_path(lab: Lab, agent: Callable[..., AgentRun]) -> None:
    lab.client.write("kv1/app/one", value="first-value")
    lab.client.write("kv1/app/two", value="second-value")
    run = agent(agent_inject_template_keys='{{ range secrets "kv1/app/" }}{{ . }}\n{{ end }}')
    assert run.run("init") == 0, run.log()
    assert {"one", "two"} <= set(run.file("keys").split())


def test_a_missing_key_renders_no_value_or_fails_with_error_on_missing_key(
    agent: Callable[..., AgentRun],
) -> None:
    template = '{{ with secret "secret/data/app/db" }}{{ .Data.data.nope }}{{ end }}'
    lenient = agent(agent_inject_template_a=template)
    assert lenient.run("init") == 0, lenient.log()
    assert lenient.file("a") == "<no value>"  # consul-template uses missingkey=zero; Go prints <no value>
    strict = agent(agent_inject_template_b=template, error_on_missing_key_b="true")
    strict.start("init")
    strict.wait_for(
        lambda: 'map has no entry for key \\"nope\\"' in strict.log(), what="the missing-key error"
    )
    assert not (strict.secrets_dir / "b").exists()


def test_agent_inject_token_writes_the_token_for_the_app(agent: Callable[..., AgentRun]) -> None:
    run = agent(agent_inject_token="true", agent_inject_secret_db="secret/data/app/db")
    assert run.run("init") == 0, run.log()
    assert run.file("token").startswith("hvs.")
