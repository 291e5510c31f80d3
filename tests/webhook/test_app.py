"""`WebhookApp` through its ASGI interface: routes, malformed requests, metrics, the decision deadline."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.budget import examples
from tests.pods import OPTED_IN, pod
from tests.webhook.reviews import admission_review, call, mutate
from vaultinject.spec import Settings
from vaultinject.webhook import WebhookApp
from vaultinject.webhook import app as app_module

SETTINGS = Settings(vault_addr="https://vault:8200")


@pytest.fixture
def app() -> Any:
    webhook = WebhookApp(SETTINGS, deadline=2)
    yield webhook
    webhook.close()


def test_health_readiness_and_metrics(app: WebhookApp) -> None:
    assert call(app, "GET", "/healthz").status == 200
    assert call(app, "GET", "/readyz").status == 200
    mutate(app, admission_review(pod(**OPTED_IN)))
    mutate(app, admission_review(pod(**OPTED_IN, agent_run_as_user="x")))
    mutate(app, admission_review(pod()))
    text = call(app, "GET", "/metrics").body.decode()
    for line in (
        'vaultinject_webhook_reviews_total{result="injected"} 1.0',
        'vaultinject_webhook_reviews_total{result="rejected"} 1.0',
        'vaultinject_webhook_reviews_total{result="skipped"} 1.0',
        'vaultinject_webhook_injections_total{mode="native",namespace="shop"} 1.0',
        'vaultinject_webhook_rejections_total{annotation="vault.hashicorp.com/agent-run-as-user"} 1.0',
        'vaultinject_webhook_review_duration_seconds_bucket{le="0.00025"}',
        "vaultinject_webhook_certificate_expiry_seconds",
    ):
        assert line in text


def test_not_ready_says_why() -> None:
    webhook = WebhookApp(
        SETTINGS, readiness=lambda: (False, "the serving certificate is not issued by any CA")
    )
    answer = call(webhook, "GET", "/readyz")
    assert (answer.status, answer.body) == (503, b"the serving certificate is not issued by any CA\n")
    webhook.close()


@pytest.mark.parametrize(
    ("route", "body", "content_type", "expected"),
    [
        ("GET /mutate", b"", None, (405, "use POST")),
        ("POST /healthz", b"", None, (405, "use GET or HEAD")),
        ("POST /mutate", b"{}", "text/plain", (415, "application/json")),
        ("POST /mutate", b"{}", None, (415, "application/json")),
        ("POST /mutate", b"", "application/json", (400, "empty")),
        ("POST /mutate", b"not json", "application/json", (400, "not JSON")),
        ("POST /mutate", b'{"kind": "Pod"}', "application/json", (400, "expected kind AdmissionReview")),
        ("POST /mutate", b" " * (3 * 1024 * 1024 + 1), "application/json", (413, "larger than")),
        ("GET /nope", b"", None, (404, "POST /mutate")),
    ],
)
def test_malformed_requests_get_a_4xx_that_says_why(
    app: WebhookApp, route: str, body: bytes, content_type: str | None, expected: tuple[int, str]
) -> None:
    method, path = route.split()
    status, message = expected
    answer = call(app, method, path, body, content_type=content_type, chunks=3)
    assert answer.status == status
    assert message in answer.body.decode()
    if status == 405:
        assert answer.headers["allow"]


def test_a_decision_past_the_deadline_is_refused_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(body: bytes, settings: Settings) -> Any:
        time.sleep(1.5)
        raise AssertionError("answered too late")

    monkeypatch.setattr(app_module, "review", slow)
    webhook = WebhookApp(SETTINGS, deadline=0.3)
    started = time.monotonic()
    large = pod(**OPTED_IN)
    large["metadata"]["annotations"]["example.com/notes"] = "n" * (app_module.INLINE_BODY + 1)
    answer = mutate(webhook, admission_review(large, uid="late"))  # large reviews are decided on the pool
    assert time.monotonic() - started < 1.2
    response = answer.json()["response"]
    assert (answer.status, response["uid"], response["allowed"]) == (200, "late", False)
    assert "could not decide within 0.3s" in response["status"]["message"]
    webhook.close()


def test_one_log_line_per_decision_without_annotation_values(
    app: WebhookApp, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "vaultinject.webhook")
    secret_template = '{{ with secret "kv/db" }}password=hunter2{{ end }}'
    mutate(app, admission_review(pod(**OPTED_IN, agent_inject_template_db=secret_template), uid="u-42"))
    records = [r for r in caplog.records if r.name == "vaultinject.webhook"]
    assert len(records) == 1
    fields = records[0].decision  # type: ignore[attr-defined]
    assert (fields["uid"], fields["result"], fields["mode"]) == ("u-42", "injected", "native")
    assert "hunter2" not in caplog.text


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
    max_leaves=20,
)
FIELDS = ["uid", "kind", "namespace", "operation", "object", "dryRun"]


@st.composite
def admission_reviews(draw: st.DrawFn) -> Any:
    """Valid reviews with any of their fields (or the pod's) replaced by an arbitrary JSON value."""
    obj: Any = pod(**draw(st.sampled_from([OPTED_IN, {}, {**OPTED_IN, "agent_run_as_user": "x"}])))
    review: Any = admission_review(obj)
    for field in draw(st.lists(st.sampled_from(FIELDS), max_size=3)):
        review["request"][field] = draw(JSON_VALUES)
    if draw(st.booleans()):
        target = draw(st.sampled_from(["metadata", "spec"]))
        if isinstance(review["request"].get("object"), dict):
            review["request"]["object"][target] = draw(JSON_VALUES)
    if draw(st.integers(0, 9)) == 0:
        review = draw(JSON_VALUES)
    return review


@given(admission_reviews())
@settings(max_examples=examples(150), deadline=None)
def test_no_admission_review_shape_gets_a_5xx(review: Any) -> None:
    webhook = WebhookApp(SETTINGS)
    try:
        answer = mutate(webhook, review)
    finally:
        webhook.close()
    assert answer.status in {200, 400}
    if answer.status == 200:
        response = answer.json()["response"]
        assert response["uid"] == review["request"]["uid"]
        assert isinstance(response["allowed"], bool)
        assert "internal error" not in answer.body.decode(), "a malformed pod must get a clear refusal"


def test_an_internal_error_refuses_the_pod_and_logs_no_data(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(body: bytes, settings: Settings, cache: object = None) -> Any:
        raise ValueError("password=hunter2 quoted by a bug")

    monkeypatch.setattr(app_module, "review", broken)
    caplog.set_level(logging.INFO, "vaultinject.webhook")
    webhook = WebhookApp(SETTINGS)
    answer = mutate(webhook, admission_review(pod(**OPTED_IN), uid="oops"))
    webhook.close()
    response = answer.json()["response"]
    assert (answer.status, response["uid"], response["allowed"]) == (200, "oops", False)
    assert "internal error" in response["status"]["message"]
    assert "internal error deciding a review: ValueError at " in caplog.text
    assert "hunter2" not in caplog.text
