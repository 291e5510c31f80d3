"""Rules that must mean what upstream means: empty values, and paths judged as the runtime mounts them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.budget import examples
from vaultinject.spec import InjectionSpec, Settings, SpecError, parse, paths
from vaultinject.spec.model import RESERVED_AGENT_PATHS
from vaultinject.spec.parser import KNOWN_KEYS

VAULT = "vault.hashicorp.com/"
SETTINGS = Settings(vault_addr="https://vault.vault.svc:8200")
GOCLEAN_DIR = Path(__file__).parent / "goclean"


def spec_of(**annotations: str) -> InjectionSpec:
    base = {VAULT + "agent-inject": "true", VAULT + "role": "app"}
    return parse({**base, **{VAULT + key: value for key, value in annotations.items()}}, SETTINGS)


def error_of(**annotations: str) -> SpecError:
    with pytest.raises(SpecError) as caught:
        spec_of(**annotations)
    return caught.value


# Empty values, as upstream's Init/New/Validate treat them (its TestCouldErrorAnnotations and the code).

EMPTY_MEANS_DEFAULT: list[tuple[str, Callable[[InjectionSpec], object], object]] = [
    # upstream skips the duration check and the flag: the agent's own backoff
    ("auth-min-backoff", lambda s: s.auth.min_backoff, None),
    ("auth-max-backoff", lambda s: s.auth.max_backoff, None),
    # upstream sets no VAULT_MAX_RETRIES / VAULT_CLIENT_TIMEOUT / VAULT_LOG_* variable: the agent's defaults
    ("client-max-retries", lambda s: s.vault.client_max_retries, None),
    ("client-timeout", lambda s: s.vault.client_timeout, None),
    ("log-level", lambda s: s.log_level, "info"),
    ("log-format", lambda s: s.log_format, "standard"),
    ("agent-cache-listener-port", lambda s: s.cache.listener_port, 8200),
    # parseutil.ParseBool reads "" as false
    ("agent-pre-populate", lambda s: s.pre_populate, False),
    ("tls-skip-verify", lambda s: s.vault.tls_skip_verify, False),
    ("agent-share-process-namespace", lambda s: s.share_process_namespace, False),
    # the empty string is no patch, no list, no value
    ("agent-json-patch", lambda s: s.agent_json_patch, ()),
    ("agent-disable-keep-alives", lambda s: s.disable_keep_alives, ()),
    (
        "template-static-secret-render-interval",
        lambda s: s.template_config.static_secret_render_interval,
        None,
    ),
    ("namespace", lambda s: s.auth.vault_namespace, None),
]


@pytest.mark.parametrize(
    ("suffix", "read", "expected"), EMPTY_MEANS_DEFAULT, ids=[e[0] for e in EMPTY_MEANS_DEFAULT]
)
def test_an_empty_value_means_what_it_means_upstream(
    suffix: str, read: Callable[[InjectionSpec], object], expected: object
) -> None:
    assert read(spec_of(**{suffix: ""})) == expected


def test_empty_backoffs_do_not_take_the_injector_settings() -> None:
    configured = SETTINGS._replace(auth_min_backoff="2s", auth_max_backoff="1m")
    base = {VAULT + "agent-inject": "true", VAULT + "role": "app"}
    assert parse(base, configured).auth.min_backoff == 2.0
    spec = parse({**base, VAULT + "auth-min-backoff": "", VAULT + "auth-max-backoff": ""}, configured)
    assert (spec.auth.min_backoff, spec.auth.max_backoff) == (None, None)


EMPTY_IS_AN_ERROR = [
    ("agent-image", "no Vault image found"),  # upstream Validate
    ("agent-request-namespace", "namespace missing from request"),  # upstream Validate
    ("agent-inject-default-template", "invalid default template type"),
    ("agent-revoke-grace", "not a non-negative integer"),  # strconv.ParseUint
    ("template-lease-renewal-threshold", "not a number"),  # strconv.ParseFloat
    ("auth-type", "not a supported auth type"),  # upstream: no Vault Auth Type found
    ("auth-path", "no auth path"),
    ("service", "no Vault address"),
    ("role", "no Vault role"),
    ("secret-volume-path", "not a usable mount path"),  # upstream writes an empty mountPath
    # stricter: upstream's ParseInt reads "" as 0 and runs the agents as root
    ("agent-run-as-user", "upstream would run the agents as root"),
    ("agent-run-as-group", "upstream would run the agents as root"),
]


@pytest.mark.parametrize(("suffix", "fragment"), EMPTY_IS_AN_ERROR, ids=[e[0] for e in EMPTY_IS_AN_ERROR])
def test_an_empty_value_upstream_rejects_is_rejected(suffix: str, fragment: str) -> None:
    error = error_of(**{suffix: ""})
    assert error.annotation == VAULT + suffix
    assert fragment in error.message


@pytest.mark.parametrize("suffix", sorted(KNOWN_KEYS))
def test_every_annotation_left_empty_is_accepted_unless_upstream_rejects_it(suffix: str) -> None:
    rejected = {key for key, _ in EMPTY_IS_AN_ERROR}
    if suffix in rejected:
        assert error_of(**{suffix: ""}).annotation == VAULT + suffix
    else:
        spec_of(**{suffix: ""})


# Paths: one cleaner, Go's filepath.Clean, the way runc and containerd clean mount destinations.


@pytest.mark.parametrize(
    ("raw", "cleaned"),
    [("//home/vault", "/home/vault"), ("///a//b/", "/a/b"), ("/a/./b/../c", "/a/c"), ("/..", "/"),
     ("", "."), ("a/../..", ".."), ("../a/..", ".."), ("./", "."), ("a//b/.", "a/b"), ("/../a", "/a")],
)  # fmt: skip
def test_clean_is_gos_filepath_clean(raw: str, cleaned: str) -> None:
    assert paths.clean(raw) == cleaned


@pytest.mark.parametrize(
    "raw",
    ["//home/vault", "//home/vault/", "/home//vault", "/home/./vault", "/vault/x/../../home/vault/state"],
)
def test_a_path_the_runtime_mounts_on_the_agents_state_is_rejected(raw: str) -> None:
    error = error_of(**{"secret-volume-path": raw})
    assert "overlaps the agent's own /home/vault" in error.message
    per_secret = error_of(**{"agent-inject-secret-db": "s", "secret-volume-path-db": raw})
    assert per_secret.annotation == VAULT + "secret-volume-path-db"


def test_an_accepted_mount_path_is_stored_as_the_runtime_mounts_it() -> None:
    spec = spec_of(**{"secret-volume-path": "//etc/app/./secrets/", "agent-inject-secret-db": "s"})
    assert spec.secret_volume_path == "/etc/app/secrets"
    assert spec.secrets[0].destination == "/etc/app/secrets/db"


@pytest.mark.parametrize(("file", "destination"), [("a/../b", "/vault/secrets/b"), ("//x//y/", "/vault/secrets/x/y"),
                                                   ("..\\x", "/vault/secrets/..\\x")])  # fmt: skip
def test_a_file_name_is_judged_by_where_it_lands(file: str, destination: str) -> None:
    spec = spec_of(**{"agent-inject-secret-db": "s", "agent-inject-file-db": file})
    assert spec.secrets[0].destination == destination


def test_two_files_that_land_on_one_path_clash() -> None:
    error = error_of(
        **{"agent-inject-secret-a": "s", "agent-inject-file-a": "x", "agent-inject-secret-b": "s",
           "agent-inject-file-b": "./y/../x"}
    )  # fmt: skip
    assert "writes /vault/secrets/x" in error.message


def test_the_token_file_clashes_with_a_secret_written_at_its_cleaned_path() -> None:
    error = error_of(
        **{"agent-inject-token": "true", "agent-inject-secret-db": "s", "agent-inject-file-db": "//token"}
    )
    assert "'agent-inject-token' writes too" in error.message


# Properties: a verdict depends only on the path as the runtime cleans it.


def go_clean_oracle(path: str) -> str:
    """Go's documented `Clean` rules applied as rewrites until none applies (independent of `paths.clean`).

    1. multiple slashes become one; 2. `.` elements go; 3. an inner `..` goes with the non-`..` element
    before it; 4. `..` elements that begin a rooted path go. Only the root ends in a slash; empty is `.`.
    """
    if path == "":
        return "."
    rooted = path.startswith("/")
    elements = [e for e in path.split("/") if e not in ("", ".")]
    changed = True
    while changed:
        changed = False
        for i in range(1, len(elements)):
            if elements[i] == ".." and elements[i - 1] != "..":
                del elements[i - 1 : i + 1]
                changed = True
                break
    while rooted and elements[:1] == [".."]:
        elements.pop(0)
    body = "/".join(elements)
    return ("/" + body) if rooted else (body or ".")


names = st.sampled_from(
    ["", ".", "..", "home", "vault", "secrets", "podinfo", "custom", "tls", "etc", "x", "a.b"]
)
raw_paths = st.lists(names, max_size=7).map("/".join) | st.lists(names, max_size=7).map(
    lambda parts: "/" + "/".join(parts)
)
absolute_paths = st.lists(names, min_size=1, max_size=7).map(lambda parts: "//" + "/".join(parts))


def verdict(read: Callable[[], object]) -> tuple[str, object]:
    try:
        return ("ok", read())
    except (SpecError, ValueError) as exc:
        return ("error", str(exc).split(": ", 1)[0])


@settings(max_examples=examples(300), deadline=None)
@given(raw_paths | absolute_paths)
def test_paths_clean_agrees_with_gos_documented_rules(raw: str) -> None:
    assert paths.clean(raw) == go_clean_oracle(raw)


@settings(max_examples=examples(300), deadline=None)
@given(raw_paths | absolute_paths)
def test_the_mount_path_verdict_is_the_verdict_on_the_cleaned_path(raw: str) -> None:
    cleaned = go_clean_oracle(raw)
    got = verdict(lambda: spec_of(**{"secret-volume-path": raw}).secret_volume_path)
    assert got == verdict(lambda: spec_of(**{"secret-volume-path": cleaned}).secret_volume_path)
    if got[0] == "ok":
        assert got[1] == cleaned
        assert not any(paths.overlaps(cleaned, reserved) for reserved in RESERVED_AGENT_PATHS)
    else:
        unusable = not cleaned.startswith("/") or cleaned == "/"
        assert unusable or any(paths.overlaps(cleaned, reserved) for reserved in RESERVED_AGENT_PATHS)


@settings(max_examples=examples(300), deadline=None)
@given(raw_paths | absolute_paths)
def test_the_file_name_verdict_is_the_verdict_on_the_cleaned_name(file: str) -> None:
    def destination(name: str) -> object:
        return spec_of(**{"agent-inject-secret-db": "s", "agent-inject-file-db": name}).secrets[0].destination

    got = verdict(lambda: destination(file))
    if file and not file.startswith("/"):  # empty means the secret's own name; see below for rooted names
        assert got == verdict(lambda: destination(go_clean_oracle(file)))
    # Where the file lands is filepath.Join(mount, file), as upstream: a rooted name's leading `..` climbs
    # out of the mount (`/../home` lands on /vault/home), although Clean alone would drop it.
    landing = go_clean_oracle("/vault/secrets/" + (file or "db"))
    inside = landing.startswith("/vault/secrets/")
    assert got == (("ok", landing) if inside else ("error", VAULT + "agent-inject-file-db"))


# The oracle and the product against Go itself, when a Go toolchain is installed.


@pytest.fixture(scope="module")
def go_clean(tmp_path_factory: pytest.TempPathFactory) -> Iterator[subprocess.Popen[str]]:
    go = shutil.which("go")
    if go is None:
        pytest.skip("Go toolchain not found: install golang-go to judge paths.clean against Go")
    workdir = tmp_path_factory.mktemp("goclean")
    env = {**os.environ, "GOCACHE": str(workdir / "cache"), "GOPATH": str(workdir / "gopath")}
    env.update(GOPROXY="off", GOFLAGS="-mod=mod", GO111MODULE="on", CGO_ENABLED="0")
    binary = workdir / "goclean"
    subprocess.run([go, "build", "-o", str(binary), "."], cwd=GOCLEAN_DIR, env=env, check=True, timeout=300)
    process = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    yield process
    assert process.stdin is not None
    process.stdin.close()
    process.wait(timeout=10)


@settings(max_examples=examples(300), deadline=None)
@given(raw_paths | absolute_paths | st.text(alphabet="/.ab", max_size=12))
def test_paths_clean_is_gos_filepath_clean(go_clean: subprocess.Popen[str], raw: str) -> None:
    assert go_clean.stdin is not None
    assert go_clean.stdout is not None
    go_clean.stdin.write(json.dumps(raw) + "\n")
    go_clean.stdin.flush()
    expected = json.loads(go_clean.stdout.readline())
    assert paths.clean(raw) == expected
    assert go_clean_oracle(raw) == expected
