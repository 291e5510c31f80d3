"""The webhook's log lines: one shape for every logger, and decision lines written a loop turn at a time."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from tests.pods import OPTED_IN, pod
from tests.webhook.reviews import admission_review, mutate
from vaultinject.spec import Settings
from vaultinject.webhook import WebhookApp, logs

SETTINGS = Settings(vault_addr="https://vault:8200")


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


@pytest.fixture
def stream() -> Iterator[CountingStream]:
    root = logging.getLogger()
    handlers, level, configured = root.handlers[:], root.level, logs._configured[:]
    sink = CountingStream()
    yield sink
    root.handlers[:], logs._configured[:] = handlers, configured
    root.setLevel(level)


def test_decisions_are_json_lines_with_the_other_logs_shape_and_no_annotation_value(
    stream: CountingStream,
) -> None:
    logs.configure("info", as_json=True, stream=stream)
    decisions = logs.decision_lines()
    assert decisions is not None
    app = WebhookApp(SETTINGS, decision_log=decisions)
    template = '{{ with secret "kv/db" }}password=hunter2{{ end }}'
    mutate(app, admission_review(pod(**OPTED_IN, agent_inject_template_db=template), uid="u-7"))
    logging.getLogger("vaultinject.webhook").warning("a warning")
    decision, warning = (json.loads(line) for line in stream.getvalue().splitlines())
    assert (decision["uid"], decision["result"], decision["mode"]) == ("u-7", "injected", "native")
    assert decision["msg"] == "injected shop/web"
    assert decision.keys() - {"uid", "namespace", "pod", "result", "reason", "ms", "mode"} == {
        "time", "level", "logger", "msg",
    }  # fmt: skip
    assert warning.keys() == {"time", "level", "logger", "msg"}
    assert (decision["logger"], decision["level"]) == (warning["logger"], "info")
    assert "hunter2" not in stream.getvalue()
    app.close()


def test_the_decisions_of_one_loop_turn_share_one_write(stream: CountingStream) -> None:
    logs.configure("info", as_json=False, stream=stream)
    decisions = logs.decision_lines()
    assert decisions is not None

    async def burst() -> int:
        for index in range(50):
            decisions(f"injected shop/app-{index}", {"uid": str(index)})
        written_before_the_turn_ends = stream.writes
        await asyncio.sleep(0)
        return written_before_the_turn_ends

    assert asyncio.run(burst()) == 0
    lines = stream.getvalue().splitlines()
    assert stream.writes == 1
    assert [line.split(" uid=")[1] for line in lines] == [str(index) for index in range(50)]
    assert lines[0].split(" ", 1)[1] == "info    injected shop/app-0 uid=0"


def test_outside_a_loop_a_decision_is_written_at_once(stream: CountingStream) -> None:
    logs.configure("info", stream=stream)
    decisions = logs.decision_lines()
    assert decisions is not None
    decisions("skipped shop/app", {})
    assert stream.getvalue().endswith(" info    skipped shop/app\n")


def test_decisions_are_not_written_above_info(stream: CountingStream) -> None:
    logs.configure("warning", stream=stream)
    assert logs.decision_lines() is None
