"""Log lines (text and JSON), secret scrubbing, and the retry schedule."""

from __future__ import annotations

import io
import json

from vaultinject.agent.backoff import AUTH_ERROR_CAP, Backoff
from vaultinject.agent.logs import REDACTED, Logger


def test_text_lines_look_like_vault_agent_lines() -> None:
    stream = io.StringIO()
    Logger(stream=stream).info("rendered", file="/vault/secrets/db", note="two words")
    line = stream.getvalue()
    assert line.endswith('agent: rendered file=/vault/secrets/db note="two words"\n')
    assert "[INFO]  agent:" in line


def test_json_lines_carry_level_message_and_fields() -> None:
    stream = io.StringIO()
    Logger(log_format="json", stream=stream).error("authentication failed", cause="permission-denied")
    record = json.loads(stream.getvalue())
    assert (record["@level"], record["@message"], record["cause"]) == (
        "error",
        "authentication failed",
        "permission-denied",
    )


def test_levels_below_the_threshold_are_dropped() -> None:
    stream = io.StringIO()
    logger = Logger(level="warn", stream=stream)
    logger.info("quiet")
    logger.debug("quieter")
    logger.warn("loud")
    assert stream.getvalue().count("\n") == 1


def test_known_secret_values_are_scrubbed_from_every_line() -> None:
    stream = io.StringIO()
    logger = Logger(log_format="json", stream=stream)
    logger.add_secret({"password": "hunter2-long", "nested": ["tok-abcdef"], "port": 5432, "flag": "on"})
    logger.error("template failed", error="value hunter2-long is not a number; token tok-abcdef")
    text = stream.getvalue()
    assert "hunter2-long" not in text
    assert "tok-abcdef" not in text
    assert text.count(REDACTED) == 2


def test_backoff_doubles_with_jitter_up_to_the_maximum() -> None:
    backoff = Backoff(1.0, 8.0)
    delays = [backoff.next() for _ in range(6)]
    for delay, nominal in zip(delays, [1, 2, 4, 8, 8, 8], strict=True):
        assert 0.75 * nominal <= delay <= nominal
    backoff.reset()
    assert backoff.next() <= 1.0


def test_backoff_honours_retry_after_and_the_auth_cap() -> None:
    backoff = Backoff(1.0, 300.0)
    assert backoff.next(retry_after=7.5) == 7.5
    for _ in range(10):
        assert backoff.next(cap=AUTH_ERROR_CAP) <= AUTH_ERROR_CAP


def test_backoff_defaults_are_upstreams() -> None:
    backoff = Backoff()
    assert (backoff.minimum, backoff.maximum) == (1.0, 300.0)
