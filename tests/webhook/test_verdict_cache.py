"""The verdict cache: a cached answer is the answer `review()` computes, for the review it answers."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.pods import OPTED_IN, pod
from tests.webhook.reviews import admission_review
from vaultinject.spec import Settings
from vaultinject.webhook.review import VerdictCache, review

SETTINGS = Settings(vault_addr="https://vault:8200")
BAD = {**OPTED_IN, "agent_run_as_user": "nobody"}
REVIEWS = {
    "injected": admission_review(pod(**OPTED_IN)),
    "rejected": admission_review(pod(**BAD)),
    "skipped": admission_review(pod()),
    "update": admission_review(pod(**OPTED_IN), operation="UPDATE"),
    "dry run": admission_review(pod(**OPTED_IN), dryRun=True),
    "v1beta1": admission_review(pod(**OPTED_IN), api_version="admission.k8s.io/v1beta1"),
    "no namespace": admission_review(pod(**OPTED_IN), namespace=None),
}

RESULTS = {"rejected": "rejected", "skipped": "skipped", "update": "skipped"}


def body(document: dict[str, Any], uid: str) -> bytes:
    document = json.loads(json.dumps(document))
    document["request"]["uid"] = uid
    return json.dumps(document).encode()


@pytest.mark.parametrize("name", REVIEWS)
def test_a_cached_verdict_answers_exactly_as_a_fresh_decision(name: str) -> None:
    cache = VerdictCache()
    first = review(body(REVIEWS[name], "uid-1"), SETTINGS, cache)
    again = review(body(REVIEWS[name], "uid-2"), SETTINGS, cache)
    assert len(cache) == 1
    assert first.result == RESULTS.get(name, "injected")
    assert first == review(body(REVIEWS[name], "uid-1"), SETTINGS)
    assert again == review(body(REVIEWS[name], "uid-2"), SETTINGS)
    assert json.loads(again.body)["response"]["uid"] == "uid-2"


def test_what_the_verdict_depends_on_is_in_its_key() -> None:
    cache = VerdictCache()
    shop = review(body(admission_review(pod(**OPTED_IN)), "a"), SETTINGS, cache)
    other = review(body(admission_review(pod(**OPTED_IN), namespace="other"), "a"), SETTINGS, cache)
    relabelled = pod(**OPTED_IN)
    relabelled["metadata"]["labels"] = {"app": "web", "pod-template-hash": "2"}
    review(body(admission_review(relabelled), "a"), SETTINGS, cache)
    review(body(admission_review(pod(**OPTED_IN), operation="UPDATE"), "a"), SETTINGS, cache)
    assert len(cache) == 4
    assert shop.namespace == "shop"
    assert other.namespace == "other"


def test_the_cache_is_bounded_by_entries_and_by_bytes() -> None:
    by_entries = VerdictCache(entries=2)
    for label in ("a", "b", "c"):
        relabelled = pod(**OPTED_IN)
        relabelled["metadata"]["labels"] = {"v": label}
        review(body(admission_review(relabelled), "u"), SETTINGS, by_entries)
    assert len(by_entries) == 2
    tiny = VerdictCache(max_bytes=1024)  # a verdict over an eighth of the budget is not kept
    decision = review(body(admission_review(pod(**OPTED_IN)), "u"), SETTINGS, tiny)
    assert decision.result == "injected"
    assert len(tiny) == 0
    assert tiny.bytes == 0
