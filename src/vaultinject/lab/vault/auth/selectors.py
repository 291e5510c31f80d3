"""Kubernetes label selectors (`metav1.LabelSelector`) written as JSON or YAML, and matching them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from vaultinject.lab import httpbody

_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")


class SelectorError(ValueError):
    """The selector does not parse or is not a valid label selector."""


@dataclass(frozen=True)
class Requirement:
    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        if self.operator == "In":
            return labels.get(self.key) in self.values
        if self.operator == "NotIn":
            return self.key not in labels or labels[self.key] not in self.values
        if self.operator == "Exists":
            return self.key in labels
        return self.key not in labels


@dataclass(frozen=True)
class LabelSelector:
    match_labels: dict[str, str]
    requirements: tuple[Requirement, ...]

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(key) != value for key, value in self.match_labels.items()):
            return False
        return all(requirement.matches(labels) for requirement in self.requirements)


def parse_selector(text: str) -> LabelSelector:
    """Parse `{"matchLabels": {...}, "matchExpressions": [...]}` given as JSON or YAML."""
    try:
        document: Any = httpbody.decode_yaml(text)
    except yaml.YAMLError as error:
        raise SelectorError(str(error)) from None
    if not isinstance(document, dict):
        raise SelectorError("a label selector must be an object")
    unknown = set(document) - {"matchLabels", "matchExpressions"}
    if unknown:
        raise SelectorError(f"unknown fields {sorted(unknown)}")
    labels = document.get("matchLabels") or {}
    if not isinstance(labels, dict):
        raise SelectorError("matchLabels must be a map")
    expressions = document.get("matchExpressions") or []
    if not isinstance(expressions, list):
        raise SelectorError("matchExpressions must be a list")
    return LabelSelector(
        {str(key): str(value) for key, value in labels.items()},
        tuple(_requirement(expression) for expression in expressions),
    )


def _requirement(expression: Any) -> Requirement:
    if not isinstance(expression, dict) or "key" not in expression or "operator" not in expression:
        raise SelectorError("each match expression needs a key and an operator")
    operator = str(expression["operator"])
    values = tuple(str(value) for value in expression.get("values") or [])
    if operator not in _OPERATORS:
        raise SelectorError(f"{operator!r} is not a valid label selector operator")
    if operator in ("In", "NotIn") and not values:
        raise SelectorError("for 'in', 'notin' operators, values set can't be empty")
    if operator in ("Exists", "DoesNotExist") and values:
        raise SelectorError("values set must be empty for exists and does not exist")
    return Requirement(str(expression["key"]), operator, values)
