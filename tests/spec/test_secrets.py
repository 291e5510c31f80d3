"""Secret annotations: names, templates, destinations, and the files they must never escape."""

from __future__ import annotations

import pytest

from vaultinject.spec import DEFAULT_TEMPLATES, SecretSpec, Settings, SpecError, parse

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault:8200")


def secrets_of(**annotations: str) -> tuple[SecretSpec, ...]:
    pod = {VAULT + "role": "app", **{VAULT + key: value for key, value in annotations.items()}}
    return parse(pod, SETTINGS).secrets


def only(**annotations: str) -> SecretSpec:
    (secret,) = secrets_of(**annotations)
    return secret


def error_of(**annotations: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        secrets_of(**annotations)
    return caught.value


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("FOOBAR", "foobar"),
        ("foobar-2_3", "foobar-2_3"),
        ("server.crt", "server.crt"),
        ("MixedCase", "mixedcase"),
    ],
)
def test_secret_names_are_the_lower_cased_suffix(key: str, name: str) -> None:
    secret = only(**{f"agent-inject-secret-{key}": "secret/data/x"})
    assert (secret.name, secret.key, secret.destination) == (name, key, f"/vault/secrets/{name}")


@pytest.mark.parametrize("key", ["agent-inject-secret", "agent-inject-secret-"])
def test_a_bare_prefix_is_no_secret(key: str) -> None:
    assert secrets_of(**{key: "secret/data/x"}) == ()


def test_blank_values_create_no_secret() -> None:
    assert secrets_of(**{"agent-inject-secret-db": "  ", "agent-inject-template-db": ""}) == ()


def test_preserve_secret_case_globally_and_per_secret() -> None:
    assert only(**{"agent-inject-secret-FooBar": "s", "preserve-secret-case": "true"}).name == "FooBar"
    explicit = only(
        **{"agent-inject-secret-FOOBAR_EXPLICIT": "s", "preserve-secret-case-FOOBAR_EXPLICIT": "true"}
    )
    assert explicit.name == "FOOBAR_EXPLICIT"
    overridden = only(
        **{
            "agent-inject-secret-Foo": "s",
            "preserve-secret-case": "true",
            "preserve-secret-case-Foo": "false",
        }
    )
    assert overridden.name == "foo"


def test_the_default_template_reads_the_secret_path() -> None:
    secret = only(**{"agent-inject-secret-db": "database/creds/app"})
    assert secret.contents() == DEFAULT_TEMPLATES["map"] % "database/creds/app"
    assert secret.template_annotation == VAULT + "agent-inject-secret-db"


def test_the_json_default_template_is_chosen_case_insensitively() -> None:
    secret = only(**{"agent-inject-secret-db": "kv/db", "agent-inject-default-template": "JSON"})
    assert secret.contents() == '{{ with secret "kv/db" }}{{ .Data | toJSON }}\n{{ end }}'


def test_an_inline_template_wins_over_a_template_file() -> None:
    secret = only(
        **{"agent-inject-template-cfg": "{{ .x }}", "agent-inject-template-file-cfg": "/vault/custom/t"}
    )
    assert (secret.template, secret.template_file, secret.contents()) == ("{{ .x }}", None, "{{ .x }}")
    assert secret.template_annotation == VAULT + "agent-inject-template-cfg"


def test_a_template_file_alone_is_read_at_run_time() -> None:
    secret = only(**{"agent-inject-template-file-cfg": "/vault/custom/cfg.tmpl"})
    assert (secret.template_file, secret.contents(), secret.vault_path) == (
        "/vault/custom/cfg.tmpl",
        None,
        None,
    )


def test_a_template_alone_creates_a_secret() -> None:
    secret = only(**{"agent-inject-template-env": '{{ with secret "kv/app" }}x{{ end }}'})
    assert (secret.name, secret.vault_path) == ("env", None)


@pytest.mark.parametrize(
    ("file", "destination"),
    [("app.env", "/vault/secrets/app.env"), ("/abs/app.env", "/vault/secrets/abs/app.env"),
     ("config/app.env", "/vault/secrets/config/app.env"), ("./a//b", "/vault/secrets/a/b")],
)  # fmt: skip
def test_agent_inject_file_joins_onto_the_mount(file: str, destination: str) -> None:
    assert only(**{"agent-inject-secret-db": "s", "agent-inject-file-db": file}).destination == destination


def test_per_secret_volume_path_with_a_file() -> None:
    secret = only(
        **{
            "agent-inject-secret-env": "s",
            "secret-volume-path-env": "/custom/path",
            "agent-inject-file-env": ".env",
        }
    )
    assert (secret.mount_path, secret.destination) == ("/custom/path", "/custom/path/.env")


@pytest.mark.parametrize("file", ["../escape", "a/../../etc/passwd", "..", "a/..", "/", "ok\0no"])
def test_a_file_that_escapes_the_volume_is_rejected(file: str) -> None:
    error = error_of(**{"agent-inject-secret-db": "s", "agent-inject-file-db": file})
    assert error.annotation == VAULT + "agent-inject-file-db"
    assert "outside /vault/secrets" in error.message


def test_a_per_secret_path_must_be_a_usable_mount() -> None:
    error = error_of(**{"agent-inject-secret-db": "s", "secret-volume-path-db": "../up"})
    assert error.annotation == VAULT + "secret-volume-path-db"


def test_two_secrets_writing_one_file_are_rejected() -> None:
    error = error_of(
        **{"agent-inject-secret-a": "s", "agent-inject-secret-b": "s", "agent-inject-file-b": "a"}
    )
    assert error.annotation == VAULT + "agent-inject-secret-b"
    assert "which 'a' writes too" in error.message


def test_names_that_differ_only_in_case_would_collide() -> None:
    error = error_of(**{"agent-inject-secret-Db": "s", "agent-inject-secret-db": "s"})
    assert "/vault/secrets/db" in error.message


def test_a_secret_named_token_collides_with_the_injected_token() -> None:
    error = error_of(**{"agent-inject-secret-token": "s", "agent-inject-token": "true"})
    assert "which 'agent-inject-token' writes too" in error.message


def test_per_secret_options() -> None:
    secret = only(
        **{
            "agent-inject-secret-db": "s",
            "agent-inject-perms-db": "0400",
            "agent-inject-command-db": "pkill -HUP nginx",
            "agent-template-left-delim-db": "[[",
            "agent-template-right-delim-db": "]]",
            "error-on-missing-key-db": "true",
        }
    )
    assert (
        secret.perms,
        secret.command,
        secret.left_delim,
        secret.right_delim,
        secret.error_on_missing_key,
    ) == (
        0o400,
        "pkill -HUP nginx",
        "[[",
        "]]",
        True,
    )


def test_per_secret_defaults() -> None:
    secret = only(**{"agent-inject-secret-db": "s", "agent-template-left-delim-db": ""})
    assert (
        secret.perms,
        secret.command,
        secret.left_delim,
        secret.right_delim,
        secret.error_on_missing_key,
    ) == (
        None,
        None,
        "{{",
        "}}",
        False,
    )


@pytest.mark.parametrize(
    ("suffix", "value", "fragment"),
    [("agent-inject-perms-db", "rw", "octal file mode"), ("error-on-missing-key-db", "yes", "not a boolean"),
     ("agent-template-left-delim-db", " [[ ", "not a template delimiter"),
     ("preserve-secret-case-db", "keep", "not a boolean")],
)  # fmt: skip
def test_invalid_per_secret_options(suffix: str, value: str, fragment: str) -> None:
    error = error_of(**{"agent-inject-secret-db": "s", suffix: value})
    assert (error.annotation, fragment in error.message) == (VAULT + suffix, True)


def test_per_secret_annotations_are_looked_up_with_the_raw_suffix() -> None:
    secret = only(
        **{"agent-inject-secret-DB": "s", "agent-inject-file-DB": "db.env", "agent-inject-file-db": "x"}
    )
    assert secret.destination == "/vault/secrets/db.env"


def test_per_secret_annotations_without_a_secret_are_ignored_with_a_warning() -> None:
    pod = {VAULT + "role": "app", VAULT + "agent-inject-file-ghost": "ghost.env"}
    assert any("agent-inject-file-ghost names no secret" in w for w in parse(pod, SETTINGS).warnings)


def test_template_file_prefix_is_tried_before_template() -> None:
    secret = only(**{"agent-inject-template-file-x": "/vault/custom/x.tmpl"})
    assert (secret.name, secret.template_file) == ("x", "/vault/custom/x.tmpl")


def test_secrets_are_in_a_stable_order() -> None:
    keys = [s.key for s in secrets_of(**{f"agent-inject-secret-{k}": "s" for k in ["zeta", "alpha", "mid"]})]
    assert keys == ["alpha", "mid", "zeta"]


def test_default_templates_are_upstreams() -> None:
    assert DEFAULT_TEMPLATES["map"] % "secret/x" == (
        '{{ with secret "secret/x" }}{{ range $k, $v := .Data }}{{ $k }}: {{ $v }}\n{{ end }}{{ end }}'
    )
    assert (
        DEFAULT_TEMPLATES["json"] % "secret/x"
        == '{{ with secret "secret/x" }}{{ .Data | toJSON }}\n{{ end }}'
    )
