"""The Vault connection settings every command shares: the `vault` CLI's variables, flags over them."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from vaultinject.cli.connect import ConnectionOptionError, add_vault_options, vault_settings


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_vault_options(parser)
    return parser.parse_args(list(argv))


def test_the_environment_is_read(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text("pem")
    env = {"VAULT_ADDR": "https://v:8200", "VAULT_TOKEN": "env-token\n", "VAULT_CACERT": str(ca),
           "VAULT_NAMESPACE": "team-a", "HOME": str(tmp_path)}  # fmt: skip
    settings = vault_settings(parse(), env)
    assert (settings.address, settings.token, settings.ca_file, settings.namespace) == (
        "https://v:8200", "env-token", str(ca), "team-a",
    )  # fmt: skip
    with pytest.raises(ConnectionOptionError, match=r"cannot load the Vault CA file .*ca.pem"):
        settings.client()  # "pem" is no certificate: an error naming the file, not a traceback
    client = vault_settings(parse(), {**env, "VAULT_CACERT": ""}).client()
    assert (client.token, client.namespace, client.address) == ("env-token", "team-a", "https://v:8200")


def test_flags_override_the_environment(tmp_path: Path) -> None:
    ca, token = tmp_path / "ca.pem", tmp_path / "token"
    ca.write_text("pem")
    token.write_text("file-token\n")
    env = {"VAULT_ADDR": "https://env:8200", "VAULT_TOKEN": "env-token", "VAULT_CACERT": "/nope",
           "VAULT_NAMESPACE": "env-ns", "HOME": str(tmp_path)}  # fmt: skip
    arguments = parse("--vault-addr", "http://flag:8200", "--vault-token-file", str(token),
                      "--vault-cacert", str(ca), "--vault-enterprise-namespace", "flag-ns")  # fmt: skip
    settings = vault_settings(arguments, env)
    assert (settings.address, settings.token, settings.ca_file, settings.namespace) == (
        "http://flag:8200", "file-token", str(ca), "flag-ns",
    )  # fmt: skip


def test_the_vault_cli_token_file_is_the_fallback(tmp_path: Path) -> None:
    (tmp_path / ".vault-token").write_text("hvs.from-login")
    settings = vault_settings(parse(), {"HOME": str(tmp_path)})
    assert settings.token == "hvs.from-login"
    assert settings.address == "https://127.0.0.1:8200"


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        ((), {}, "no Vault token: set VAULT_TOKEN"),
        (("--vault-token-file", "{tmp}/missing"), {}, "cannot read the Vault token from"),
        (("--vault-token-file", "{tmp}/empty"), {}, "is empty"),
        ((), {"VAULT_TOKEN": "t", "VAULT_ADDR": "vault:8200"}, "must start with http:// or https://"),
        (
            (),
            {"VAULT_TOKEN": "t", "VAULT_CACERT": "{tmp}/missing.pem"},
            "does not exist (--vault-cacert / VAULT_CACERT)",
        ),
    ],
)
def test_bad_settings_name_the_fix(
    tmp_path: Path, argv: tuple[str, ...], env: dict[str, str], message: str
) -> None:
    (tmp_path / "empty").write_text("\n")
    arguments = parse(*(arg.format(tmp=tmp_path) for arg in argv))
    environ = {"HOME": str(tmp_path), **{key: value.format(tmp=tmp_path) for key, value in env.items()}}
    with pytest.raises(ConnectionOptionError) as raised:
        vault_settings(arguments, environ)
    assert message in str(raised.value)
