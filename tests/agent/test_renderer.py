"""The store round-trips the token and dependencies; the renderer teaches the logger their secrets."""

from __future__ import annotations

import io
import json
import stat
from pathlib import Path

import pytest

from vaultinject import templates
from vaultinject.agent.logs import REDACTED, Logger
from vaultinject.agent.renderer import Renderer, _Source
from vaultinject.agent.store import Dependency, Store, TokenState
from vaultinject.vault import VaultClient

BODY = {
    "lease_id": "database/creds/app/abc",
    "lease_duration": 60,
    "renewable": True,
    "data": {"password": "saved-state-pw"},
}


def saved_store(directory: Path) -> Store:
    store = Store(str(directory))
    store.token = TokenState("hvs.saved-token-value", "accessor", 3600, True, 1000.0)
    store.dependencies["k"] = Dependency(
        "read", "database/creds/app", None, json.dumps(BODY).encode(), 1000.0
    )
    store.save()
    return store


def test_the_state_file_round_trips_and_is_private(tmp_path: Path) -> None:
    saved_store(tmp_path)
    loaded = Store(str(tmp_path))
    assert loaded.load()
    assert loaded.token is not None
    assert (loaded.token.token, loaded.token.expires_at) == ("hvs.saved-token-value", 4600.0)
    (dependency,) = loaded.dependencies.values()
    assert (dependency.lease_id, dependency.lease_duration, dependency.renewable, dependency.expires_at) == (
        "database/creds/app/abc",
        60,
        True,
        1060.0,
    )
    assert stat.S_IMODE((tmp_path / ".vaultinject-state.json").stat().st_mode) == 0o600


def test_secrets_of_a_loaded_dependency_are_scrubbed_from_logs(tmp_path: Path) -> None:
    saved_store(tmp_path)
    loaded = Store(str(tmp_path))
    assert loaded.load()
    stream = io.StringIO()
    logger = Logger(stream=stream)
    renderer = Renderer(loaded, VaultClient("https://127.0.0.1:1"), logger)
    for dependency in loaded.dependencies.values():
        renderer.learn(dependency)
    logger.error("template failed", error="value saved-state-pw is not a number")
    assert "saved-state-pw" not in stream.getvalue()
    assert REDACTED in stream.getvalue()


def test_a_state_without_a_token_is_not_resumable(tmp_path: Path) -> None:
    (tmp_path / ".vaultinject-state.json").write_text(
        json.dumps({"version": 1, "token": None, "dependencies": []})
    )
    assert Store(str(tmp_path)).load() is False
    (tmp_path / ".vaultinject-state.json").write_text("{not json")
    assert Store(str(tmp_path)).load() is False


def test_the_agent_source_tells_an_empty_variable_from_an_unset_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAULTINJECT_TEST_EMPTY", "")
    monkeypatch.setenv("VAULTINJECT_TEST_SET", "value")
    monkeypatch.delenv("VAULTINJECT_TEST_UNSET", raising=False)
    renderer = Renderer(
        Store(str(tmp_path)), VaultClient("https://127.0.0.1:1"), Logger(stream=io.StringIO())
    )
    template = templates.parse(
        '{{ envOrDefault "VAULTINJECT_TEST_EMPTY" "default" }}|{{ envOrDefault "VAULTINJECT_TEST_UNSET" "default" }}|'
        '{{ envOrDefault "VAULTINJECT_TEST_SET" "default" }}|{{ env "VAULTINJECT_TEST_UNSET" }}'
    )
    assert template.render(_Source(renderer)) == "|default|value|"
