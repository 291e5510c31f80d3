"""`vaultinject-agent --wait-for-start SECONDS FILE`: the native agent's postStart hook.

The kubelet starts a pod's next container only once a native sidecar's postStart hook has returned, so a
hook that returns the moment the first render is complete (FILE, the started marker, exists) starts the
app then, not up to a startup-probe period (1 s) later. It always exits 0: past its deadline it returns
and leaves the gating to the startup probe, since a failing hook would make the kubelet kill the agent.
Like the probe, it is given the marker's path, so it imports nothing of the agent's (it runs per pod).
"""

from __future__ import annotations

import math
import os
import sys
import time

POLL_SECONDS = 0.01
MAX_SECONDS = 3600.0
USAGE = "usage: vaultinject-agent --wait-for-start SECONDS FILE"


def main(arguments: list[str]) -> int:
    """The hook's command line; exit 2 with a message naming the flag on bad arguments."""
    if len(arguments) != 2:
        print(f"{USAGE} (the seconds to wait and the started marker)", file=sys.stderr)
        return 2
    seconds, marker = arguments
    try:
        limit = float(seconds)
    except ValueError:
        limit = math.nan
    if not 0 <= limit <= MAX_SECONDS:
        print(
            f"--wait-for-start must be seconds from 0 to {MAX_SECONDS:g} (got {seconds!r})", file=sys.stderr
        )
        return 2
    return wait_for_start(marker, limit)


def wait_for_start(marker: str, seconds: float) -> int:
    """Return 0 once `marker` exists or `seconds` have passed, whichever is first."""
    deadline = time.monotonic() + seconds
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
    return 0
