"""Value types shared by the server's components: who is acting, how, and what admission sees."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from vaultinject.lab.kube.resources import ResourceType

JSON = dict[str, Any]


def clone(obj: Any) -> Any:
    """A deep copy of a JSON value (faster than copy.deepcopy for plain JSON)."""
    return json.loads(json.dumps(obj))


@dataclass(frozen=True)
class UserInfo:
    """An authenticated user, as TokenReview and AdmissionReview present it."""

    username: str
    uid: str = ""
    groups: tuple[str, ...] = ()
    extra: tuple[tuple[str, tuple[str, ...]], ...] = ()

    def to_json(self) -> JSON:
        body: JSON = {"username": self.username}
        if self.uid:
            body["uid"] = self.uid
        body["groups"] = list(self.groups)
        if self.extra:
            body["extra"] = {k: list(v) for k, v in self.extra}
        return body


SYSTEM = UserInfo("system:apiserver", "", ("system:masters", "system:authenticated"))


@dataclass
class Operation:
    """Who is writing and how: `admit=False` is for the server's own controllers, which skip webhooks."""

    user: UserInfo
    dry_run: bool = False
    admit: bool = True
    warnings: list[str] = field(default_factory=list)


@dataclass
class AdmissionRequest:
    """What the webhook admission chain needs to know about one write."""

    operation: str
    rt: ResourceType
    subresource: str
    namespace: str
    name: str
    obj: JSON | None
    old: JSON | None
    op: Operation
    options: JSON


class Admission(Protocol):
    def admit(self, request: AdmissionRequest) -> JSON | None:
        """Return the (possibly mutated) object, or raise ApiError to refuse the write."""


@dataclass
class DeleteOptions:
    grace_period: int | None = None
    propagation: str | None = None
    precondition_uid: str | None = None
    precondition_rv: str | None = None

    @classmethod
    def from_json(cls, body: JSON) -> DeleteOptions:
        preconditions = body.get("preconditions") or {}
        propagation = body.get("propagationPolicy")
        if propagation is None and body.get("orphanDependents") is not None:
            propagation = "Orphan" if body["orphanDependents"] else "Background"
        grace = body.get("gracePeriodSeconds")
        return cls(
            int(grace) if grace is not None else None,
            propagation,
            preconditions.get("uid"),
            preconditions.get("resourceVersion"),
        )
