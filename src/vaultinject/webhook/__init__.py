"""The admission webhook: `review()` decides, `WebhookApp` serves it over ASGI, `server.serve()` runs it."""

from vaultinject.webhook.app import WebhookApp
from vaultinject.webhook.review import BadReview, Decision, review

__all__ = ["BadReview", "Decision", "WebhookApp", "review"]
