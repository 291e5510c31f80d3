"""How many generated cases property tests run.

CI runs each property test with its own modest count; a longer local run scales every count at once:
``VAULTINJECT_HYPOTHESIS_SCALE=20 .venv/bin/pytest tests/...``.
"""

from __future__ import annotations

import os


def examples(ci_count: int) -> int:
    """The number of examples for a property test whose CI budget is ``ci_count``."""
    scale = float(os.environ.get("VAULTINJECT_HYPOTHESIS_SCALE", "1") or "1")
    return max(1, int(ci_count * scale))
