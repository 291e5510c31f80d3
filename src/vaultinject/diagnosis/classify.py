"""Why a Kubernetes-auth login failed, from Vault's answer and the API server's TokenReview of the same
token, or from an agent's log (HashiCorp Vault Agent's format and ours).

The texts matched are the plugin's and the API server's own (`../shared/reference/auth-failure.md`
§2). A bare `403 permission denied` hides its cause: every TokenReview-side failure looks like it, so
only the TokenReview answer (or the Vault server's log) can tell which one it is.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from vaultinject.diagnosis.evidence import TokenReviewAnswer, VaultAnswer

# The plugin's text when the TokenReview's bearer (the stored reviewer token) got a 401: the runbook failure.
REVIEWER_UNAUTHORIZED = (
    "service account unauthorized; this could mean it has been deleted or recreated with a new token"
)
BARE_DENIED = "permission denied"


class Cause(StrEnum):
    OK = "ok"
    REVIEWER_TOKEN_DEAD = "reviewer-token-dead"
    REVIEWER_FORBIDDEN = "reviewer-forbidden"  # the reviewer may not create tokenreviews
    CA_MISMATCH = "ca-mismatch"
    KUBERNETES_UNREACHABLE = "kubernetes-unreachable"  # Vault cannot reach kubernetes_host
    TOKENREVIEW_SIDE = "tokenreview-side"  # a bare 403 with nothing to tell which TokenReview-side cause
    ROLE_OR_BINDING_MISMATCH = "role-or-binding-mismatch"
    AUDIENCE_MISMATCH = "audience-mismatch"
    ISSUER_MISMATCH = "issuer-mismatch"
    CLIENT_TOKEN_INVALID = "client-token-invalid"
    NOT_CONFIGURED = "not-configured"
    SEALED = "sealed"
    NOT_INITIALIZED = "not-initialized"
    UNREACHABLE = "unreachable"  # no answer from Vault: connection refused, timeout, DNS, TLS
    RATE_LIMITED = "rate-limited"
    SERVER_ERROR = "server-error"
    UNKNOWN = "unknown"


# Only these are repaired by rewriting auth/<mount>/config without a stored reviewer token and CA.
HEALABLE = frozenset({Cause.REVIEWER_TOKEN_DEAD, Cause.CA_MISMATCH})


def heal_may_act(cause: Cause) -> bool:
    """Whether `heal` may rewrite the auth config for this cause: only TokenReview-side causes that the
    rewrite repairs (a dead stored reviewer token, a stale stored CA). Sealed, 5xx, rate-limited, network,
    role and client-token causes need a person, and unknown causes are never acted on."""
    return cause in HEALABLE


@dataclass(frozen=True)
class Classification:
    """A cause, why the classifier says so (`explanation`), and the text or answer that decided it."""

    cause: Cause
    explanation: str
    matched: str = ""


# Vault's error texts, most specific first: (pattern, cause, explanation).
_TEXT_RULES: tuple[tuple[re.Pattern[str], Cause, str], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE), cause, explanation)
    for pattern, cause, explanation in (
        (
            re.escape(REVIEWER_UNAUTHORIZED),
            Cause.REVIEWER_TOKEN_DEAD,
            "the API server refused the token Vault reviews logins with (HTTP 401): a stored reviewer "
            "token whose pod was deleted or recreated, or that expired",
        ),
        (
            r"x509:|certificate signed by unknown authority|certificate verify failed",
            Cause.CA_MISMATCH,
            "Vault does not trust the API server's certificate: the CA it uses differs from the cluster's",
        ),
        (
            r'cannot create resource \\?"tokenreviews\\?"',
            Cause.REVIEWER_FORBIDDEN,
            "the identity Vault reviews tokens with may not create tokenreviews (system:auth-delegator)",
        ),
        (
            r"service account name not authorized",
            Cause.ROLE_OR_BINDING_MISMATCH,
            "the service account is not in the role's bound_service_account_names",
        ),
        (
            r"namespace not authorized",
            Cause.ROLE_OR_BINDING_MISMATCH,
            "the namespace is not in the role's bound_service_account_namespaces (nor its selector)",
        ),
        (
            r"invalid role name|missing role\b",
            Cause.ROLE_OR_BINDING_MISMATCH,
            "the login names a role that does not exist on this mount",
        ),
        (
            r"valid for audience|audience|\baud\b",
            Cause.AUDIENCE_MISMATCH,
            "the token's audiences do not include the one the role or the API server wants",
        ),
        (
            r"issuer|\biss\b",
            Cause.ISSUER_MISMATCH,
            "the token's issuer is not the one Vault validates against (issuer, with "
            "disable_iss_validation=false)",
        ),
        (
            r"service account token has been invalidated|token has been invalidated|has expired|"
            r"is not valid yet|does not match service account pod ref claim|has been deleted|"
            r"does not match claim|service account jwt not valid|JWT (?:names|UIDs|namepaces) did not match|"
            r"invalid bearer token",
            Cause.CLIENT_TOKEN_INVALID,
            "the API server does not accept the client's own service-account token (its pod or service "
            "account is gone, or it expired)",
        ),
        (
            r"could not load backend configuration",
            Cause.NOT_CONFIGURED,
            "the Kubernetes auth mount has no config",
        ),
        (r"Vault is sealed", Cause.SEALED, "the Vault node that answered is sealed"),
        (
            r"tokenreviews.*(?:dial tcp|i/o timeout|connection refused|no such host|deadline exceeded)",
            Cause.KUBERNETES_UNREACHABLE,
            "Vault could not reach the API server at kubernetes_host",
        ),
    )
)


def classify_text(texts: Iterable[str]) -> Classification | None:
    """The cause one of Vault's (or a Vault log's) error texts names, or None when none does."""
    for text in texts:
        for pattern, cause, explanation in _TEXT_RULES:
            if pattern.search(text):
                return Classification(cause, explanation, text)
    return None


def _is_bare_denied(answer: VaultAnswer) -> bool:
    texts = [text.strip().lower() for text in answer.errors if text.strip()]
    return answer.status == 403 and texts in ([], [BARE_DENIED])


def classify_login(
    login: VaultAnswer,
    review: TokenReviewAnswer | None = None,
    *,
    vault_may_review: bool | None = None,
    reviewer_stored: bool | None = None,
) -> Classification:
    """Why a login failed, from Vault's answer and the API server's review of the same token.
    `vault_may_review` is the SubjectAccessReview of Vault's reviewer and `reviewer_stored` the config's
    `token_reviewer_jwt_set`, when known."""
    if login.error is not None:
        return Classification(Cause.UNKNOWN, f"the login was not tried: {login.error}")
    if login.network_error is not None:
        return Classification(Cause.UNREACHABLE, "Vault did not answer", login.network_error)
    status = login.status
    shown = _shown(login)
    if status is not None and 200 <= status < 300:
        return Classification(Cause.OK, "the login succeeded", shown)
    if status == 503 or any("vault is sealed" in text.lower() for text in login.errors):
        return Classification(Cause.SEALED, "the Vault node that answered is sealed", shown)
    if status == 501:
        return Classification(Cause.NOT_INITIALIZED, "Vault has not been initialized", shown)
    if status == 429:
        return Classification(Cause.RATE_LIMITED, "Vault's rate-limit quota refused the login", shown)
    if _is_bare_denied(login):
        return _behind_bare_denied(
            review, shown, vault_may_review=vault_may_review, reviewer_stored=reviewer_stored
        )
    named = classify_text(login.errors)
    if named is not None:
        return named
    if status is not None and status >= 500:
        return Classification(Cause.SERVER_ERROR, "Vault failed the login internally", shown)
    return Classification(Cause.UNKNOWN, "Vault's answer names no cause I know", shown)


def _behind_bare_denied(
    review: TokenReviewAnswer | None,
    shown: str,
    *,
    vault_may_review: bool | None,
    reviewer_stored: bool | None,
) -> Classification:
    """A bare 403: the TokenReview of the same token tells which side failed."""
    if review is None or review.error is not None or review.status is None:
        why = (
            "no TokenReview of the same token"
            if review is None
            else f"the TokenReview failed: {review.error}"
        )
        return Classification(
            Cause.TOKENREVIEW_SIDE,
            "a bare 403 permission denied is what every TokenReview-side failure looks like (the reviewer "
            f"token, its RBAC, the CA, the network from Vault to the API server); {why}, so which one "
            "is unknown",
            shown,
        )
    answered = f"{shown}; TokenReview {review.status}"
    if review.status == 401:
        return Classification(
            Cause.REVIEWER_TOKEN_DEAD,
            "the API server refuses the review's bearer token (401) behind Vault's 403: the stored "
            "reviewer token is dead",
            _join(answered, review.message),
        )
    if review.client_token_valid is False:
        named = classify_text([review.review_error]) if review.review_error else None
        return Classification(
            Cause.CLIENT_TOKEN_INVALID,
            "the API server does not accept the client's token: "
            + (review.review_error or "authenticated is false"),
            _join(answered, review.review_error or (named.matched if named else "")),
        )
    if review.client_token_valid:
        if vault_may_review is False:
            return Classification(
                Cause.REVIEWER_FORBIDDEN,
                "the API server accepts the client's token, but Vault's service account may not create "
                "tokenreviews, so Vault's own review is refused",
                answered,
            )
        if reviewer_stored is False:
            return Classification(
                Cause.TOKENREVIEW_SIDE,
                "the API server accepts the client's token, yet Vault refuses it with a bare 403; no "
                "reviewer token is stored, so Vault's own review fails for another reason (its CA, its "
                "network path to the API server, its pod's token)",
                answered,
            )
        return Classification(
            Cause.REVIEWER_TOKEN_DEAD,
            "the API server accepts the client's token, yet Vault refuses it with a bare 403: Vault's own "
            "TokenReview call fails, which is a dead stored reviewer token when the config stores one",
            _join(answered, "authenticated"),
        )
    return Classification(
        Cause.TOKENREVIEW_SIDE,
        f"a bare 403, and the TokenReview answered {review.status}: which TokenReview-side cause is unknown",
        _join(answered, review.message),
    )


def _shown(login: VaultAnswer) -> str:
    return _join(f"Vault {login.status}", "; ".join(login.errors))


def _join(head: str, tail: str) -> str:
    return f"{head} {tail!r}" if tail else head


# -- agent logs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LogVerdict:
    """The last failed-login entry of an agent log, as one line, and its classification."""

    line: str
    classification: Classification


_ENTRY_START = re.compile(r"^\s*(?:\{|\d{4}-\d\d-\d\dT|\[(?:TRACE|DEBUG|INFO|WARN|ERROR)\])")
_CODE = re.compile(r"Code: (\d{3})\. (?:Errors:|Raw Message:)")
_BULLET = re.compile(r"^\s*\|?\s*\* (.+)$", re.MULTILINE)
_OURS_ERROR = re.compile(r": (\d{3}) (.*)$", re.DOTALL)
_FIELD = re.compile(r'\s(\w+)=("(?:[^"\\]|\\.)*"|\S+)')
_NETWORK = re.compile(
    r"cannot reach|connection refused|connection lost|connection reset|i/o timeout|timed out|"
    r"no such host|cannot resolve|TLS failed|dial tcp|deadline exceeded",
    re.IGNORECASE,
)
_FAILED_LOGIN = ("error authenticating", "authentication failed")


def classify_log(lines: Sequence[str], review: TokenReviewAnswer | None = None) -> LogVerdict | None:
    """The last failed login in an agent's log lines (HashiCorp Vault Agent's `error authenticating`
    block, or our `authentication failed` line, text or JSON), classified; None when there is none.
    `review` is a TokenReview that applies to the same failure (the canary's), if any."""
    for entry in reversed(_entries(lines)):
        parsed = _failed_login(entry)
        if parsed is not None:
            answer, one_line = parsed
            return LogVerdict(one_line, classify_login(answer, review))
    return None


def _entries(lines: Sequence[str]) -> list[str]:
    """Log entries: a line that starts an entry, with the continuation lines that follow it."""
    entries: list[str] = []
    for line in lines:
        if entries and not _ENTRY_START.match(line):
            entries[-1] += "\n" + line
        else:
            entries.append(line)
    return entries


def _failed_login(entry: str) -> tuple[VaultAnswer, str] | None:
    message, error = _message_and_error(entry)
    if not any(marker in message for marker in _FAILED_LOGIN):
        return None
    one_line = " ".join(part.strip(" |") for part in entry.splitlines() if part.strip(" |"))
    return _answer(error), one_line


def _message_and_error(entry: str) -> tuple[str, str]:
    """The entry's message and its error text, from a JSON line or a text line (ours or HashiCorp's)."""
    if entry.lstrip().startswith("{"):
        try:
            document = json.loads(entry)
        except ValueError:
            document = None
        if isinstance(document, dict):
            return str(document.get("@message", "")), str(document.get("error", ""))
    head = entry.split("\n", 1)[0]
    fields = dict(_FIELD.findall(entry))
    error = fields.get("error", "")
    if error.startswith('"'):
        try:
            error = str(json.loads(error))
        except ValueError:
            error = error.strip('"')
    if not error.strip() and "error=" in entry:
        error = entry.split("error=", 1)[-1]  # HashiCorp's multi-line `error=` block
    return head, error


def _answer(error: str) -> VaultAnswer:
    """The Vault answer an agent's error text reports."""
    source = "agent log"
    code = _CODE.search(error)
    if code is not None:
        bullets = tuple(b.strip() for b in _BULLET.findall(error[code.end() :]))
        return VaultAnswer(source=source, at=0, status=int(code[1]), errors=bullets)
    ours = _OURS_ERROR.search(error.strip())
    if ours is not None and "login" in error[: ours.start()]:
        # Our client joins Vault's errors with "; ", which the plugin's own texts contain: keep it whole.
        text = ours[2].strip()
        return VaultAnswer(source=source, at=0, status=int(ours[1]), errors=(text,) if text else ())
    if _NETWORK.search(error):
        return VaultAnswer(source=source, at=0, network_error=error.strip())
    return VaultAnswer(source=source, at=0, errors=(error.strip(),) if error.strip() else ())
