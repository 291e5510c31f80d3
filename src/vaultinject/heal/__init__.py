"""`heal`: the runbook's fix done right. `decide` (pure) says what may be repaired and which pods may be
recovered, and refuses what needs a person; `recovery` (pure) paces the pod deletions; `shell` does it."""
