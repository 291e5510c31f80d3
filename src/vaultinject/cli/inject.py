"""`vaultinject inject`: inject agents into manifests, like the webhook would at admission."""

from __future__ import annotations

import argparse
import sys

from vaultinject.cli.manifests import PodRef, dump, pod_ref
from vaultinject.cli.options import add_settings_options, add_source_options, read_inputs
from vaultinject.cli.summary import summary_lines
from vaultinject.injector import Injection, SpecError, inject


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vaultinject inject",
        description="Inject Vault agents into every pod (or pod template) that opts in, pass everything "
        "else through unchanged, and print the result.",
    )
    add_source_options(parser)
    parser.add_argument(
        "-o", "--output", choices=("yaml", "json"), default="yaml", help="output format (yaml)"
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="after the manifests, print to stderr a short summary of what was injected",
    )
    add_settings_options(parser)
    return parser


def main(argv: list[str]) -> int:
    """Print the injected manifests; on any rejected pod print only the errors and exit 1."""
    arguments = build_parser().parse_args(argv)
    settings, documents = read_inputs(arguments)
    errors: list[str] = []
    outcomes: list[tuple[PodRef, Injection]] = []
    for document in documents:
        ref = pod_ref(document, arguments.namespace)
        if ref is None:
            continue
        try:
            result = inject(ref.as_pod(), settings, ref.namespace)
        except SpecError as error:
            errors += [f"error: {ref.label}: {each}" for each in error.errors]
            continue
        outcomes.append((ref, result))
        for warning in result.warnings:
            print(f"warning: {ref.label}: {warning}", file=sys.stderr)
        if result.injected:
            ref.update(result.pod)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        return 1
    if not documents:
        print("error: the input holds no Kubernetes objects", file=sys.stderr)
        return 1
    sys.stdout.write(dump(documents, arguments.output))
    if arguments.summary:
        sys.stdout.flush()
        print("\n".join(summary_lines(outcomes)), file=sys.stderr)
    return 0
