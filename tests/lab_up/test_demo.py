"""`make demo` (demo/run.py): the whole story on a lab cluster, judged by what it shows and leaves."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DEMO = Path(__file__).resolve().parents[2] / "demo" / "run.py"


def test_the_demo_tells_the_whole_story_and_leaves_nothing_running(tmp_path: Path) -> None:
    data_dir = tmp_path / "lab"
    result = subprocess.run(
        [sys.executable, str(DEMO), "--data-dir", str(data_dir)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    out = result.stdout
    assert result.returncode == 0, out + result.stderr
    assert "vault: 2 replica(s) Ready, initialized and unsealed" in out
    assert "kubernetes_host https://kubernetes.default.svc only (no stored reviewer token" in out
    assert "done: 11 steps applied" in out  # 4 for the app, 7 for the healer's and the canary's access
    assert "write policy vaultinject-healer: read and rewrite auth/kubernetes/config" in out
    states = re.findall(r"shop-app-\S+\s+(\d/2)\s+(\S+)", out)
    assert ("0/2", "Init:0/1") in states
    assert states[-1] == ("2/2", "Running")
    assert "app: /vault/secrets/config.txt says greeting=hello from Vault" in out
    assert re.search(r"the app started \d+ ms after its last secret file was written", out)
    assert "app: /vault/secrets/config.txt says greeting=hello again, rotated" in out
    assert "restarts: 0" in out
    assert "done: nothing is left running" in out
    assert not (data_dir / "lab.json").exists()
    assert (data_dir / "vault" / "root-token").stat().st_mode & 0o777 == 0o600
    root_token = (data_dir / "vault" / "root-token").read_text().strip()
    assert root_token not in out + result.stderr
