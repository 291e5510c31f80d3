"""The log scrubber: every form of every registered value, in text and JSON lines; the rule for what
is registered; the registration sites (Vault answers, commands)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tests.agent.forms import ENCODERS, leaks, number_forms, string_forms
from tests.budget import examples
from vaultinject.agent.commands import run_command
from vaultinject.agent.logs import FEW_PREFIXES, REDACTED, Logger
from vaultinject.agent.renderer import Renderer
from vaultinject.agent.store import Dependency, Store
from vaultinject.templates import JSONNumber
from vaultinject.templates.gofmt import go_quote
from vaultinject.vault import VaultClient

FORMATS = ["standard", "json"]
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj\n"
    "MzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDuictGeurT8jNbvJZHtCSuYEvu\n"
    "-----END PRIVATE KEY-----\n"
)
SHAPES = {
    "quote": 'pa"ss"word',
    "backslash": "back\\slash",
    "non-ascii": "pässwörd-äöü",
    "emoji": "key-\U0001f600-val",
    "html": "<b>&amp;</b>",
    "pem": PEM,
    "regex metacharacters": "a.b*c+(d)?[e]|{f}^$\\1",
    "control characters": "tab\there\x00nul\x7f",
}


def logged(log_format: str, secret: object, *, crowded: bool = False, **fields: object) -> str:
    stream = io.StringIO()
    logger = Logger(log_format=log_format, stream=stream)
    logger.add_secret({"value": secret, "others": CROWD if crowded else []})
    logger.error("render failed", **fields)
    return stream.getvalue()


@pytest.mark.parametrize("log_format", FORMATS)
@pytest.mark.parametrize("shape", sorted(SHAPES))
@pytest.mark.parametrize("encoding", sorted(ENCODERS))
@pytest.mark.parametrize("crowded", [False, True])
def test_every_encoding_of_every_shape_is_scrubbed(
    log_format: str, shape: str, encoding: str, crowded: bool
) -> None:
    secret = SHAPES[shape]
    quoted = ENCODERS[encoding](secret)
    log = logged(log_format, secret, crowded=crowded, error=f'parsing "{quoted}": invalid syntax')
    assert not leaks(string_forms(secret), log), log
    assert REDACTED in log


@pytest.mark.parametrize("log_format", FORMATS)
def test_each_line_of_a_multi_line_value_is_scrubbed_on_its_own(log_format: str) -> None:
    middle = PEM.splitlines()[1]
    log = logged(log_format, PEM, output=f"line 2: {middle}", quoted=go_quote(middle))
    assert middle not in log
    assert log.count(REDACTED) == 2


@pytest.mark.parametrize("log_format", FORMATS)
@pytest.mark.parametrize("literal", ["73914682", "123456789012345678901234567890", "3.14159265358979"])
def test_long_numbers_are_scrubbed_as_every_rendering(log_format: str, literal: str) -> None:
    renderings = number_forms(literal)
    log = logged(log_format, JSONNumber(literal), error=" and ".join(sorted(renderings)), code=float(literal))
    assert not leaks(renderings, log), log
    assert log.count(REDACTED) == len(renderings) + 1


@pytest.mark.parametrize("log_format", FORMATS)
def test_short_values_flags_and_small_numbers_are_not_registered(log_format: str) -> None:
    stream = io.StringIO()
    logger = Logger(log_format=log_format, stream=stream)
    logger.add_secret({"a": "on", "b": "true", "c": "None", "d": True, "e": 5432, "f": JSONNumber("86400")})
    logger.info("ready true on 5432 86400 none", ok=True, port=5432, ttl=86400)
    assert REDACTED not in stream.getvalue()


def test_the_longest_form_wins_where_secrets_share_a_prefix() -> None:
    stream = io.StringIO()
    logger = Logger(stream=stream)
    logger.add_secret(["abcd", "abcdefgh", "abcdef"])
    logger.info("x", value="abcdefgh abcdefg abcdx")
    assert stream.getvalue().endswith(f'value="{REDACTED} {REDACTED}g {REDACTED}x"\n')


def test_a_json_line_stays_json_when_encoding_reassembles_a_secret() -> None:
    # The field holds "äxyz" (no secret); JSON writes it as \u00e4xyz, which contains the secret.
    log = logged("json", "u00e4xyz", error="äxyz")
    assert "u00e4xyz" not in log
    assert json.loads(log)["error"] == REDACTED


# Secrets that never occur in a test's text: registered, they make the scrubber use its pattern.
CROWD = [f"\ue000{index:03d}-unseen" for index in range(FEW_PREFIXES + 1)]


def test_the_pattern_is_rebuilt_only_when_a_new_prefix_is_registered() -> None:
    logger = Logger(stream=io.StringIO())
    logger.add_secret([*CROWD, "hunter2-long"])
    logger.info("one")
    pattern = logger.scrubber._pattern
    assert pattern is not None
    logger.add_secret({"password": "hunter2-long", "flag": True, "rotated": "hunter3-long"})
    logger.info("two", value="hunter3-long")
    assert logger.scrubber._pattern is pattern
    logger.add_secret("another-secret")
    logger.info("three")
    assert logger.scrubber._pattern is not pattern


def test_deep_data_and_many_forms_sharing_a_prefix_do_not_break_the_scrubber() -> None:
    nested: object = "deep-secret-value"
    for _ in range(5000):
        nested = [nested]
    chain = ["x" * length for length in range(4, 1004)]
    stream = io.StringIO()
    logger = Logger(stream=stream)
    logger.add_secret([nested, chain])
    logger.info("x", a="deep-secret-value", b="x" * 1003 + " " + "x" * 1005)
    assert stream.getvalue().endswith(f'a={REDACTED} b="{REDACTED} {REDACTED}xx"\n')


def test_vault_answers_teach_data_numbers_lease_ids_tokens_and_accessors(tmp_path: Path) -> None:
    stream = io.StringIO()
    logger = Logger(stream=stream)
    renderer = Renderer(Store(str(tmp_path)), VaultClient("https://127.0.0.1:1"), logger)
    body = (
        b'{"lease_id": "database/creds/app/Xy12abCD", "data": {"pin": 73914682, "ratio": 0.5,'
        b' "password": "pw-1234"}, "auth": {"client_token": "hvs.client", "accessor": "acc-1"},'
        b' "wrap_info": {"token": "hvs.wrapped", "accessor": "acc-2"}}'
    )
    renderer.learn(Dependency("read", "database/creds/app", None, body, 0.0))
    values = ["database/creds/app/Xy12abCD", "73914682", "pw-1234", "hvs.client", "acc-1", "hvs.wrapped"]
    logger.info("x", values=" ".join([*values, "acc-2", "0.5"]))
    assert stream.getvalue().endswith(f'values="{" ".join([REDACTED] * 7)} 0.5"\n')


def test_command_output_is_scrubbed_before_it_is_cut_to_size() -> None:
    stream = io.StringIO()
    logger = Logger(stream=stream)
    secret = "S3CRET-" + "x" * 20 + "-END"
    logger.add_secret(secret)
    assert not run_command(f"printf '%01990d{secret}'; exit 1", logger, file="/vault/secrets/db")
    assert "S3CRET" not in stream.getvalue()
    assert REDACTED[:5] in stream.getvalue()


# Property: for any secret and any line that embeds it in any encoding, no encoding survives.

SPECIAL = st.sampled_from(list("\"\\\n\r\t<>&.*+?()[]{}|^$'/ äöü€\U0001f600\u2028\x00\x7f"))
SECRETS = st.text(st.one_of(SPECIAL, st.characters()), min_size=4, max_size=40)
FILLER = st.text(st.one_of(SPECIAL, st.characters()), max_size=20)


def overlaps_marker(form: str) -> bool:
    """Whether redaction itself could spell this form (a secret sharing text with `[redacted]`)."""
    return form in REDACTED or any(
        REDACTED.endswith(form[:cut]) or REDACTED.startswith(form[cut:]) for cut in range(1, len(form))
    )


def assert_no_form_survives(forms: set[str], log_format: str, log: str) -> None:
    """No form in the logged field `error`, as written or as decoded (the frame around it, the
    timestamp, level and keys, is the agent's own text)."""
    written = log.split('"error": ' if log_format == "json" else " error=", 1)[1]
    assert not leaks(forms, written), log
    if log_format == "json":
        decoded = json.loads(log)["error"]
    else:
        decoded = json.loads(written) if written.startswith('"') else written
    assert not {form for form in forms if form in decoded}, log


@settings(max_examples=examples(500), deadline=None)
@given(
    secret=SECRETS,
    encoding=st.sampled_from(sorted(ENCODERS)),
    before=FILLER,
    after=FILLER,
    log_format=st.sampled_from(FORMATS),
    line=st.integers(min_value=-1, max_value=3),
    crowded=st.booleans(),
)
def test_no_encoding_of_a_string_secret_survives(
    *, secret: str, encoding: str, before: str, after: str, log_format: str, line: int, crowded: bool
) -> None:
    forms = string_forms(secret)
    assume(forms and not any(overlaps_marker(form) for form in forms))
    lines = secret.splitlines() or [secret]
    quoted = ENCODERS[encoding](secret if line < 0 else lines[line % len(lines)])
    text = before + quoted + after
    assert_no_form_survives(forms, log_format, logged(log_format, secret, crowded=crowded, error=text))


@settings(max_examples=examples(150), deadline=None)
@given(
    number=st.one_of(
        st.integers(min_value=10**5, max_value=10**40),
        st.floats(allow_nan=False, allow_infinity=False, min_value=1e5, max_value=1e40),
    ),
    before=FILLER,
    after=FILLER,
    log_format=st.sampled_from(FORMATS),
    crowded=st.booleans(),
)
def test_no_rendering_of_a_long_number_survives(
    *, number: float, before: str, after: str, log_format: str, crowded: bool
) -> None:
    literal = repr(number)
    forms = number_forms(literal)
    for form in sorted(forms):
        log = logged(log_format, JSONNumber(literal), crowded=crowded, error=before + form + after)
        assert_no_form_survives(forms, log_format, log)
