"""`vaultinject-agent --wait-for-start SECONDS`: the native agent's postStart hook.

The kubelet starts a pod's next container only once a native sidecar's postStart hook has returned, so a
hook that returns the moment the first render is complete starts the app then, not up to a startup-probe
period (1 s) later. It always exits 0: past its deadline it returns and leaves the gating to the startup
probe, since a failing hook would make the kubelet kill the agent.
"""

from __future__ import annotations

import os
import time

POLL_SECONDS = 0.01


def wait_for_start(marker: str, seconds: float) -> int:
    """Return 0 once `marker` exists or `seconds` have passed, whichever is first."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    return 0
