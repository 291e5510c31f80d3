"""A Kubernetes-compatible API server for the lab.

Real clients (the official Python client, kubectl, lightkube) talk to it unchanged over HTTPS. The
modules each have one job: `resources` (the kind registry), `store` (SQLite-backed storage, resource
versions and watch fan-out), `cluster` (object semantics), `handlers` (the REST surface), `server`
(HTTP, TLS and routing), `auth` and `rbac`, `tokens`, `admission`, `gc`, `patching`, `selectors`,
`discovery`, `logs`, `cli` and `harness` (for tests).
"""
