"""The CronJob controller (`pkg/controller/cronjob`, v2): Jobs named `<cronjob>-<scheduled minutes since
the epoch>` at each scheduled time of a standard 5-field schedule (`*/n`, ranges, lists, names, the
`@hourly`-style descriptors) in `timeZone` (UTC by default); concurrencyPolicy, suspend,
startingDeadlineSeconds, history limits; status active/lastScheduleTime/lastSuccessfulTime."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from vaultinject.lab.controllers.base import Controller, Key, key_of
from vaultinject.lab.controllers.client import ApiError
from vaultinject.lab.controllers.job import finished
from vaultinject.lab.controllers.manager import register
from vaultinject.lab.controllers.replicaset import owner_key, owner_reference
from vaultinject.lab.kube.clock import parse_time, rfc3339
from vaultinject.lab.kube.model import clone
from vaultinject.lab.kube.store import Change

JSON = dict[str, Any]
SCHEDULED_AT = "batch.kubernetes.io/cronjob-scheduled-timestamp"
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = {m: i + 1 for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}  # noqa: SIM905
_DAYS = {d: i for i, d in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_BOUNDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
)


class ScheduleError(ValueError):
    pass


def _field(text: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    """One field as robfig/cron parses it; also whether it was `*` (or `?`)."""
    values: set[int] = set()
    for part in text.split(","):
        expr, _, step_text = part.partition("/")
        step = int(step_text) if step_text else 1
        if step <= 0:
            raise ScheduleError(f"step must be positive: {part}")
        if expr in {"*", "?"}:
            start, end = low, high
        else:
            first, _, last = expr.partition("-")
            start = names[first.lower()] if first.lower() in names else int(first)
            end = (names[last.lower()] if last.lower() in names else int(last)) if last else start
            if step_text and not last:
                end = high
        if not low <= start <= end <= high and not (high == 6 and end == 7):
            raise ScheduleError(f"value out of range ({low}-{high}): {part}")
        values.update(v % 7 if high == 6 else v for v in range(start, end + 1, step))
    return values, text in {"*", "?"} or text.startswith(("*/", "?/"))


@dataclass(frozen=True)
class Schedule:
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> Schedule:
        spec = _DESCRIPTORS.get(text.strip(), text.strip())
        fields = spec.split()
        if len(fields) != 5:
            raise ScheduleError(f"expected exactly 5 fields, found {len(fields)}: {text}")
        try:
            parsed = [
                _field(f, low, high, names) for f, (low, high, names) in zip(fields, _BOUNDS, strict=True)
            ]
        except ValueError as error:
            raise ScheduleError(str(error)) from None
        sets = [frozenset(values) for values, _ in parsed]
        return cls(
            sets[0], sets[1], sets[2], sets[3], sets[4], any_day=parsed[2][1], any_weekday=parsed[4][1]
        )

    def _day_matches(self, when: dt.datetime) -> bool:
        dom = when.day in self.days
        dow = (when.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:  # robfig: AND unless both are restricted
            return dom and dow
        return dom or dow

    def next_after(self, when: dt.datetime) -> dt.datetime | None:
        """The first scheduled minute strictly after `when` (within five years)."""
        t = when.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
        limit = t + dt.timedelta(days=366 * 5)
        while t < limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + dt.timedelta(days=32)).replace(day=1)
                continue
            if not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + dt.timedelta(days=1)
                continue
            if t.hour not in self.hours:
                t = t.replace(minute=0) + dt.timedelta(hours=1)
                continue
            if t.minute not in self.minutes:
                t += dt.timedelta(minutes=1)
                continue
            return t
        return None


def _job_time(job: JSON) -> str:
    status = job.get("status") or {}
    return str(
        status.get("completionTime") or status.get("startTime") or job["metadata"]["creationTimestamp"]
    )


@register
class CronJobController(Controller):
    name = "cronjob-controller"
    watches: ClassVar[tuple[str, ...]] = ("cronjobs.batch", "jobs.batch")

    def keys_for(self, change: Change) -> Iterable[Key]:
        if change.storage == "jobs.batch":
            return owner_key(change.obj, "CronJob")
        return [key_of(change.obj)]

    def reconcile(self, key: Key) -> float | None:
        cj = self.client.get("cronjobs.batch", *key)
        if cj is None or cj["metadata"].get("deletionTimestamp"):
            return None
        spec = cj["spec"]
        status = clone(cj.get("status") or {})
        jobs = self.client.owned("jobs.batch", cj)
        active = self._track(cj, status, jobs)
        self._cleanup(cj, jobs)
        try:
            schedule = Schedule.parse(spec["schedule"])
            zone = ZoneInfo(spec["timeZone"]) if spec.get("timeZone") else dt.UTC
        except (ScheduleError, KeyError, ValueError) as error:
            self.events.warning(
                cj, "UnparseableSchedule", f"unparseable schedule: {spec.get('schedule')!r} : {error}"
            )
            self._write(cj, status)
            return None
        now = dt.datetime.fromtimestamp(self.clock.now(), zone)
        since = status.get("lastScheduleTime") or cj["metadata"]["creationTimestamp"]
        due = None
        t = schedule.next_after(dt.datetime.fromtimestamp(parse_time(since), zone))
        while t is not None and t <= now:
            due, t = t, schedule.next_after(t)
        deadline = spec.get("startingDeadlineSeconds")
        if due is not None and deadline is not None and (now - due).total_seconds() > int(deadline):
            due = None  # missed its starting window
        if due is not None and not spec.get("suspend"):
            policy = spec.get("concurrencyPolicy", "Allow")
            if policy == "Forbid" and active:
                self._write(cj, status)
                return 1.0
            if policy == "Replace":
                for job in active:
                    self._delete_job(cj, job)
                status["active"] = []
            created = self._create(cj, due)
            status.setdefault("active", [])
            if created is not None and all(r["uid"] != created["metadata"]["uid"] for r in status["active"]):
                status["active"].append(_reference(created))
            status["lastScheduleTime"] = rfc3339(due.timestamp())
        if not status.get("active"):
            status.pop("active", None)
        self._write(cj, status)
        upcoming = schedule.next_after(now)
        # bounded: tests (and drills) move the server clock forward without any change to react to
        return min((upcoming - now).total_seconds(), 1.0) if upcoming else None

    def _track(self, cj: JSON, status: JSON, jobs: list[JSON]) -> list[JSON]:
        by_uid = {j["metadata"]["uid"]: j for j in jobs}
        still = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid", ""))
            if job is None:
                continue
            if finished(job):
                kind = next(
                    c["type"]
                    for c in job["status"]["conditions"]
                    if c["type"] in {"Complete", "Failed"} and c["status"] == "True"
                )
                self.events.normal(
                    cj, "SawCompletedJob", f"Saw completed job: {job['metadata']['name']}, condition: {kind}"
                )
                if kind == "Complete" and job["status"].get("completionTime"):
                    last = status.get("lastSuccessfulTime")
                    if not last or parse_time(last) < parse_time(job["status"]["completionTime"]):
                        status["lastSuccessfulTime"] = job["status"]["completionTime"]
                continue
            still.append(ref)
        known = {r["uid"] for r in still}
        for job in jobs:
            if (
                not finished(job)
                and job["metadata"]["uid"] not in known
                and not job["metadata"].get("deletionTimestamp")
            ):
                still.append(_reference(job))
        status["active"] = still
        return [by_uid[r["uid"]] for r in still]

    def _create(self, cj: JSON, due: dt.datetime) -> JSON | None:
        template = cj["spec"].get("jobTemplate") or {}
        name = f"{cj['metadata']['name']}-{int(due.timestamp() // 60)}"
        metadata: JSON = {
            "name": name,
            "labels": dict((template.get("metadata") or {}).get("labels") or {}),
            "annotations": {
                **((template.get("metadata") or {}).get("annotations") or {}),
                SCHEDULED_AT: due.isoformat().replace("+00:00", "Z"),
            },
            "ownerReferences": [owner_reference(cj)],
        }
        body = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": metadata,
            "spec": clone(template.get("spec") or {}),
        }
        try:
            job = self.client.create("jobs.batch", cj["metadata"]["namespace"], body)
        except ApiError as error:
            if error.code == 409:
                return self.client.get("jobs.batch", cj["metadata"]["namespace"], name)
            self.events.warning(cj, "FailedCreate", f"Error creating job: {error.message}")
            raise
        self.events.normal(cj, "SuccessfulCreate", f"Created job {name}")
        return job

    def _cleanup(self, cj: JSON, jobs: list[JSON]) -> None:
        spec = cj["spec"]
        for wanted, limit in (
            ("Complete", spec.get("successfulJobsHistoryLimit")),
            ("Failed", spec.get("failedJobsHistoryLimit")),
        ):
            if limit is None:
                continue
            done = [j for j in jobs if _has(j, wanted) and not j["metadata"].get("deletionTimestamp")]
            done.sort(key=_job_time)
            for job in done[: max(len(done) - int(limit), 0)]:
                self._delete_job(cj, job)

    def _delete_job(self, cj: JSON, job: JSON) -> None:
        metadata = job["metadata"]
        self.client.delete("jobs.batch", metadata["namespace"], metadata["name"], propagation="Background")
        self.events.normal(cj, "SuccessfulDelete", f"Deleted job {metadata['name']}")

    def _write(self, cj: JSON, status: JSON) -> None:
        if status != (cj.get("status") or {}):
            updated = clone(cj)
            updated["status"] = status
            self.client.replace("cronjobs.batch", updated, subresource="status")


def _has(job: JSON, kind: str) -> bool:
    conditions = (job.get("status") or {}).get("conditions") or []
    return any(c.get("type") == kind and c.get("status") == "True" for c in conditions)


def _reference(job: JSON) -> JSON:
    metadata = job["metadata"]
    return {
        "kind": "Job",
        "namespace": metadata["namespace"],
        "name": metadata["name"],
        "uid": metadata["uid"],
        "apiVersion": "batch/v1",
        "resourceVersion": metadata.get("resourceVersion", ""),
    }
