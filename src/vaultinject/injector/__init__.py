"""Injection spec + pod to the mutated pod and an RFC 6902 patch. Pure: no I/O.

Modes: native sidecar (one agent; its startup probe gates the app until the first render), classic
init container + sidecar, and init only (Jobs).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from vaultinject import templates
from vaultinject.injector import jsonpatch, shapes
from vaultinject.injector.decision import Decision, decide
from vaultinject.injector.mutate import mutate
from vaultinject.injector.names import INIT_CONTAINER, SIDECAR
from vaultinject.spec import InjectionSpec, Settings, SpecError, parse
from vaultinject.spec.model import VAULT_PREFIX

__all__ = ["INIT_CONTAINER", "SIDECAR", "Decision", "Injection", "SpecError", "decide", "inject"]


class Injection(NamedTuple):
    """The outcome for one pod: the mutated pod and its patch, or why it passes untouched.

    `pod` shares the parts injection did not change with the input pod: treat both as read-only.
    """

    pod: dict[str, Any]
    patch: list[dict[str, Any]]
    spec: InjectionSpec | None
    warnings: tuple[str, ...]
    reason: str

    @property
    def injected(self) -> bool:
        return self.spec is not None


def inject(
    pod: Mapping[str, Any], settings: Settings | None = None, namespace: str | None = None
) -> Injection:
    """Inject `pod` if it opts in; raise `SpecError` if it opts in but cannot be injected.

    A malformed pod raises `SpecError` too, one per problem, each named by its path. A pod that does not
    opt in passes untouched, and only the fields that decide it are checked.

    `namespace` is the admission request's namespace; by default the pod's own, else `default`.
    """
    settings = settings or Settings()
    problems = shapes.decision_problems(pod)
    if problems:  # whether the pod opts in is unknown: report its spec's problems too
        shapes.check(problems + shapes.injection_problems(pod))
    namespace = namespace or (pod.get("metadata") or {}).get("namespace") or "default"
    decision = decide(pod, namespace)
    if not decision.inject:
        return Injection(dict(pod), [], None, (), decision.reason)
    shapes.check(shapes.injection_problems(pod))
    annotations = (pod.get("metadata") or {}).get("annotations") or {}
    try:
        spec = parse(annotations, settings)
    except SpecError as error:  # report the templates' syntax errors in the same answer
        named = {each.annotation for each in error.errors}
        extra = [each for each in _template_syntax_errors(annotations) if each.annotation not in named]
        shapes.check([*error.errors, *extra])
        raise
    check_templates(spec)
    mutated, warnings = mutate(pod, spec, settings)
    return Injection(mutated, pod_patch(pod, mutated), spec, tuple(warnings), decision.reason)


INLINE_TEMPLATE = VAULT_PREFIX + "agent-inject-template-"
TEMPLATE_FILE = VAULT_PREFIX + "agent-inject-template-file-"
CUSTOM_DELIMITERS = (
    VAULT_PREFIX + "agent-template-left-delim-",
    VAULT_PREFIX + "agent-template-right-delim-",
)


def _template_syntax_errors(annotations: Mapping[str, Any]) -> list[SpecError]:
    """Syntax errors of the inline templates, read from the annotations themselves, for a pod whose other
    annotations do not parse (so there is no spec to take them from). Templates with custom delimiters
    wait until the rest is valid."""
    errors = []
    for name, text in annotations.items():
        if not (isinstance(name, str) and isinstance(text, str)) or not name.startswith(INLINE_TEMPLATE):
            continue
        key = name[len(INLINE_TEMPLATE) :]
        if name.startswith(TEMPLATE_FILE) or any(prefix + key in annotations for prefix in CUSTOM_DELIMITERS):
            continue
        try:
            templates.parse(text, name=name)
        except templates.TemplateError as exc:
            errors.append(SpecError(name, f"line {exc.line}, column {exc.column}: {exc.message}"))
    return errors


def check_templates(spec: InjectionSpec) -> None:
    """Parse every inline template now, so a typo rejects the pod instead of crash-looping its agent.

    `templates.parse` caches what it parsed, so a rollout's pods, which share their templates, pay once.
    """
    errors: list[SpecError] = []
    for secret in spec.secrets:
        text = secret.contents()
        if text is None:
            continue  # a template file is only readable inside the agent container
        try:
            templates.parse(
                text,
                name=secret.template_annotation,
                left_delim=secret.left_delim,
                right_delim=secret.right_delim,
            )
        except templates.TemplateError as exc:
            errors.append(
                SpecError(secret.template_annotation, f"line {exc.line}, column {exc.column}: {exc.message}")
            )
    if errors:
        errors[0].errors = tuple(errors)
        raise errors[0]


# The only places injection writes; the patch is computed from their final values.
TOUCHED = {
    "metadata": ("annotations",),
    "spec": ("volumes", "initContainers", "containers", "shareProcessNamespace"),
}


def pod_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The RFC 6902 patch from `before` to `after`, which differ only where injection writes."""
    return jsonpatch.diff(_touched(before), _touched(after))


def _touched(pod: Mapping[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for section, keys in TOUCHED.items():
        if section in pod:
            part = pod[section]
            # a null section (absent, to the API server) is replaced whole, which the patch can apply
            view[section] = None if part is None else {key: part[key] for key in keys if key in part}
    return view
