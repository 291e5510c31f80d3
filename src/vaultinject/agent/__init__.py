"""The in-pod agent: log in, fetch, render atomically, renew, re-render. Standard library only.

Entry point: `python -m vaultinject.agent --mode init|sidecar|native` (or `vaultinject agent ...`).
"""
