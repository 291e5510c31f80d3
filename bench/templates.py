"""Throughput of vaultinject.templates and its import cost.

Run: .venv/bin/python bench/templates.py
Prints parse and render throughput for a realistic KV v2 template (the secret source
answers from memory, so only the engine is measured) and the import time of the package
in fresh interpreters (bytecode cached, as in an installed agent image).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping

from vaultinject import templates
from vaultinject.templates import template as template_module

TEMPLATE = """{{- with secret "secret/data/payments/db" -}}
# rendered for {{ env "POD_NAME" }}
DB_HOST={{ .Data.data.host }}
DB_PORT={{ .Data.data.port }}
DB_USER={{ .Data.data.username }}
DB_PASSWORD={{ .Data.data.password }}
DATABASE_URL=postgresql://{{ .Data.data.username }}:{{ .Data.data.password | urlquery }}@
{{- .Data.data.host }}:{{ .Data.data.port }}/payments?sslmode={{ .Data.data.sslmode }}
{{- range $k, $v := .Data.data.extra }}
{{ $k | toUpper }}={{ $v }}
{{- end }}
{{- if .Data.data.replicas }}
REPLICAS={{ join "," (split " " .Data.data.replicas) }}
{{- end }}
VERSION={{ .Data.metadata.version }}
{{ end -}}
"""

RESPONSE = (
    '{"request_id":"5d1f","lease_id":"","renewable":false,"lease_duration":0,'
    '"data":{"data":{"host":"db.payments.svc","port":5432,"username":"payments","password":"Zx9!a@b#c",'
    '"sslmode":"verify-full","replicas":"db-1 db-2 db-3",'
    '"extra":{"pool_size":20,"statement_timeout":"30s","app_name":"payments-api"}},'
    '"metadata":{"created_time":"2024-05-01T10:00:00Z","version":7}}}'
)


class MemorySource:
    """A SecretSource answering from memory."""

    def __init__(self) -> None:
        self.secret_value = templates.Secret.from_json(RESPONSE)

    def secret(self, path: str, params: Mapping[str, str] | None) -> templates.Secret | None:  # noqa: ARG002
        return self.secret_value

    def secrets(self, path: str) -> list[str]:  # noqa: ARG002
        return []

    def pki_cert(self, path: str, params: Mapping[str, str]) -> templates.Secret | None:  # noqa: ARG002
        return None

    def env(self, name: str) -> str:  # noqa: ARG002
        return "payments-api-7d9f-x2"


def rate(action: object, seconds: float = 1.0) -> tuple[float, float]:
    """Calls per second and microseconds per call, over about ``seconds``."""
    assert callable(action)
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        for _ in range(50):
            action()
        count += 50
    return count / elapsed, elapsed / count * 1e6


def import_time_ms(runs: int = 15) -> float:
    """Median in-process time of ``import vaultinject.templates`` in fresh interpreters."""
    code = (
        "import time; t = time.perf_counter(); import vaultinject.templates; print(time.perf_counter() - t)"
    )
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "PYTHONPYCACHEPREFIX": cache}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run(
            [sys.executable, "-c", code], env=env, check=True, capture_output=True
        )  # Warm the cache.
        samples = [
            float(
                subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True).stdout
            )
            for _ in range(runs)
        ]
    return statistics.median(samples) * 1000


def main() -> None:
    source = MemorySource()
    tpl = templates.parse(TEMPLATE, name="vault.hashicorp.com/agent-inject-template-db")
    output = tpl.render(source)
    parses, parse_us = rate(lambda: template_module._parse(TEMPLATE, "t", "{{", "}}", True))
    cached, cached_us = rate(lambda: templates.parse(TEMPLATE))
    renders, render_us = rate(lambda: tpl.render(source))
    print(f"template: {len(TEMPLATE)} chars, output {len(output)} chars, {output.count(chr(10))} lines")
    print(f"parse:  {parses:9.0f} templates/s  ({parse_us:7.1f} us each)")
    print(f"parse, cached (same annotation again): {cached:9.0f}/s ({cached_us:5.1f} us each)")
    print(f"render: {renders:9.0f} renders/s    ({render_us:7.1f} us each)")
    import_ms = import_time_ms()
    print(f"import vaultinject.templates: {import_ms:.1f} ms (median, fresh interpreters, bytecode cached)")


if __name__ == "__main__":
    main()
