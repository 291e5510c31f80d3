"""The agent's cold start and steady-state memory, against the lab over TLS.

Run: .venv/bin/python bench/agent.py [--runs 20] [--cycles 1000]

1. Init mode, 5 secrets: wall time from process start to exit (Kubernetes login with a real TokenReview,
   five reads, five renders, five atomic writes, state saved), with `python -c pass` measured in the
   same run as the yardstick.
2. Native mode: resident memory after --cycles fetch/re-render cycles (a KV secret changed in a loop,
   re-read every 10 ms) and token renewals (token TTL 2 s).

Bytecode is compiled first, as the agent image ships it.
"""

from __future__ import annotations

import argparse
import compileall
import os
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.agent.lab import AGENT_COMMAND, AgentRun, Lab, lab_environment

SOURCE = Path(__file__).resolve().parents[1] / "src"
SECRETS = 5
CHURN_TEMPLATE = '{{ with secret "secret/data/app/churn" }}{{ .Data.data.password }}{{ end }}'


def timed(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def init_annotations() -> dict[str, str]:
    annotations = {}
    for index in range(SECRETS):
        annotations[f"agent_inject_secret_s{index}"] = f"secret/data/app/s{index}"
        annotations[f"agent_inject_template_s{index}"] = (
            f'{{{{ with secret "secret/data/app/s{index}" }}}}USER={{{{ .Data.data.user }}}}\n'
            f"PASSWORD={{{{ .Data.data.password }}}}\n{{{{ end }}}}"
        )
    return annotations


def bench_init(lab: Lab, root: Path, runs: int) -> None:
    for index in range(SECRETS):
        lab.put(f"s{index}", user=f"user-{index}", password=f"password-{index}-xyz")
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    baseline, agent = [], []
    for attempt in range(runs):
        run = lab.agent(root / f"init-{attempt}", **init_annotations())
        command = [*AGENT_COMMAND, "--mode", "init", "--annotations",
                   str(run.root / "annotations"), "--state-dir", str(run.state_dir)]  # fmt: skip
        baseline.append(timed([sys.executable, "-c", "pass"], env))
        agent.append(timed(command, run.env(**{k: v for k, v in env.items() if k.startswith("VAULTINJECT")})))
        assert sorted(os.listdir(run.secrets_dir)) == [f"s{i}" for i in range(SECRETS)]
    base, wall = statistics.median(baseline), statistics.median(agent)
    print(f"init mode, {SECRETS} secrets over TLS, {runs} runs (median / p90):")
    print(f"  python -c pass:     {base * 1000:6.1f} ms / {p90(baseline) * 1000:6.1f} ms")
    print(f"  agent, start->exit: {wall * 1000:6.1f} ms / {p90(agent) * 1000:6.1f} ms")
    print(f"  ratio agent / python -c pass: {wall / base:.1f}x   (target: under 80 ms)")


def file_is(run: AgentRun, name: str, content: str) -> bool:
    return run.file(name) == content


def p90(samples: list[float]) -> float:
    return sorted(samples)[max(0, int(len(samples) * 0.9) - 1)]


def rss_kib(pid: int) -> tuple[int, int]:
    fields = dict(
        line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line
    )
    return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])


def bench_sidecar(lab: Lab, root: Path, cycles: int) -> None:
    lab.client.write(
        "auth/kubernetes/role/bench",
        bound_service_account_names="app",
        bound_service_account_namespaces="demo",
        token_policies="app",
        token_ttl="2s",
        token_max_ttl="1h",
    )
    lab.put("churn", user="u", password="churn-0-password")
    run: AgentRun = lab.agent(
        root / "sidecar",
        role="bench",
        template_static_secret_render_interval="10ms",
        agent_inject_secret_churn="secret/data/app/churn",
        agent_inject_template_churn=CHURN_TEMPLATE,
    )
    process = run.start("native", VAULTINJECT_LOG_LEVEL="debug")
    run.wait_for((run.state_dir / ".vaultinject-started").exists, what="the first render")
    early = rss_kib(process.pid)
    started = time.monotonic()
    for index in range(1, cycles + 1):
        expected = f"churn-{index}-password"
        lab.client.secrets.kv.v2.create_or_update_secret(
            "app/churn", secret={"user": "u", "password": expected}
        )
        run.wait_for(partial(file_is, run, "churn", expected), timeout=10, what=f"cycle {index}")
    elapsed = time.monotonic() - started
    rss, peak = rss_kib(process.pid)
    renewals = run.log().count("token renewed")
    run.stop()
    print(f"native mode, {cycles} fetch/re-render cycles in {elapsed:.1f} s, {renewals} token renewals:")
    print(f"  RSS after the first render: {early[0] / 1024:5.1f} MiB")
    print(f"  RSS after {cycles} cycles:     {rss / 1024:5.1f} MiB   (peak {peak / 1024:.1f} MiB)")
    print("  target: at most 20 MiB")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=1000)
    arguments = parser.parse_args()
    compileall.compile_dir(str(SOURCE / "vaultinject"), quiet=1)
    with (
        tempfile.TemporaryDirectory(prefix="bench-agent-") as directory,
        lab_environment(Path(directory) / "lab") as lab,
    ):
        bench_init(lab, Path(directory), arguments.runs)
        bench_sidecar(lab, Path(directory), arguments.cycles)


if __name__ == "__main__":
    main()
