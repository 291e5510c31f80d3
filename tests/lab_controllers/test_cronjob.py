"""The CronJob controller: schedules as robfig/cron reads them, Jobs named by the scheduled minute, the
concurrency policy and history, driven by moving the server clock."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.lab_controllers.workloads import NS, LabKube, finish, get, lab, live, messages, wait_for
from vaultinject.lab.controllers.cronjob import Schedule, ScheduleError

CRONJOBS = f"/apis/batch/v1/namespaces/{NS}/cronjobs"
JOBS = f"/apis/batch/v1/namespaces/{NS}/jobs"
UTC = dt.UTC


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("schedule", "after", "expected"),
    [
        ("*/15 * * * *", "2026-01-01T10:07", "2026-01-01T10:15"),
        ("0 9-17/4 * * *", "2026-01-01T13:00", "2026-01-01T17:00"),
        ("30 2 * * mon,fri", "2026-01-01T00:00", "2026-01-02T02:30"),  # 2026-01-01 is a Thursday
        ("0 0 13 * 5", "2026-01-01T00:00", "2026-01-02T00:00"),  # day-of-month OR day-of-week
        ("@hourly", "2026-01-01T10:00", "2026-01-01T11:00"),
        ("@monthly", "2026-01-15T00:00", "2026-02-01T00:00"),
        ("0 0 29 feb *", "2026-01-01T00:00", "2028-02-29T00:00"),
    ],
)
def test_schedules(schedule: str, after: str, expected: str) -> None:
    assert Schedule.parse(schedule).next_after(_at(after)) == _at(expected)


@pytest.mark.parametrize("schedule", ["* * * *", "61 * * * *", "*/0 * * * *", "x * * * *"])
def test_bad_schedules(schedule: str) -> None:
    with pytest.raises(ScheduleError):
        Schedule.parse(schedule)


@pytest.fixture
def kube(tmp_path: Path) -> Iterator[LabKube]:
    with lab(tmp_path / "kube", "cronjob-controller", "job-controller") as server:
        yield server


def _cronjob(name: str, **spec: Any) -> dict[str, Any]:
    pod = {"spec": {"restartPolicy": "Never", "containers": [{"name": "tick", "image": "busybox"}]}}
    return {
        "metadata": {"name": name},
        "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": pod}}, **spec},
    }


def _advance_to_next_five_minutes(kube: LabKube) -> int:
    """Move the clock just past the next multiple of five minutes; returns that minute since the epoch."""
    assert kube.server is not None
    now = kube.server.clock.now()
    minute = (int(now // 300) + 1) * 5
    kube.server.clock.advance(minute * 60 - now + 1)
    return minute


def _jobs(kube: LabKube) -> list[str]:
    return sorted(j["metadata"]["name"] for j in get(kube, JOBS)["items"])


def test_jobs_are_created_on_schedule_and_their_completion_is_seen(kube: LabKube) -> None:
    kube.call("POST", CRONJOBS, _cronjob("tick", concurrencyPolicy="Forbid"))
    minute = _advance_to_next_five_minutes(kube)
    wait_for(lambda: _jobs(kube) == [f"tick-{minute}"])
    job = get(kube, f"{JOBS}/tick-{minute}")
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"].endswith("Z")
    status = wait_for(lambda: get(kube, f"{CRONJOBS}/tick").get("status", {}).get("active"))
    assert [r["name"] for r in status] == [f"tick-{minute}"]
    assert messages(kube, "SuccessfulCreate", "tick") == [f"Created job tick-{minute}"]
    # Forbid: the next run is skipped while this one is active
    _advance_to_next_five_minutes(kube)
    with pytest.raises(TimeoutError):
        wait_for(lambda: len(_jobs(kube)) > 1, timeout=1.5)
    pod = wait_for(lambda: live(kube, f"job-name=tick-{minute}"))[0]
    finish(kube, pod, 0)
    saw = wait_for(lambda: messages(kube, "SawCompletedJob", "tick"))
    assert saw == [f"Saw completed job: tick-{minute}, condition: Complete"]
    cj_status = wait_for(
        lambda: (s := get(kube, f"{CRONJOBS}/tick")["status"]).get("lastSuccessfulTime") and s
    )
    # the run Forbid held back is still due (no startingDeadlineSeconds): it starts now
    assert [r["name"] for r in cj_status["active"]] == [f"tick-{minute + 5}"]
    assert _jobs(kube) == [f"tick-{minute}", f"tick-{minute + 5}"]


def test_history_limits_keep_only_the_newest_finished_jobs(kube: LabKube) -> None:
    kube.call("POST", CRONJOBS, _cronjob("hist", successfulJobsHistoryLimit=1))
    for _ in range(3):
        minute = _advance_to_next_five_minutes(kube)
        name = f"hist-{minute}"
        wait_for(lambda: name in _jobs(kube))  # noqa: B023 (used before the loop moves on)
        pod = wait_for(lambda: live(kube, f"job-name={name}"))[0]  # noqa: B023
        finish(kube, pod, 0)
        wait_for(lambda: get(kube, f"{JOBS}/{name}").get("status", {}).get("completionTime"))  # noqa: B023
    wait_for(lambda: _jobs(kube) == [f"hist-{minute}"])
    assert len(messages(kube, "SuccessfulDelete", "hist")) == 2
