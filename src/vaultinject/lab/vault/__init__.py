"""The lab Vault server: a Vault-compatible HTTP server that `hvac` works against unchanged.

Start it with `vaultinject lab vault --listen 127.0.0.1:0 --root-token root --auto-unseal`, or from Python
with `vaultinject.lab.vault.harness` (a subprocess or an in-process thread). `docs` for each module:

- `server`: HTTP(S) listener; `api`: HTTP to `Request` and back; `envelope`: responses and errors;
- `core`: the request pipeline (seal, routing, token checks, ACL, leases, wrapping, audit);
- `store`: memory or SQLite persistence; `policy`/`hcl`/`acl`: policies; `tokens`, `leases`, `ttl`;
- `system`: the `sys/` endpoints; `lab_api`: lab-only `sys/lab/*`; `auth/*` and `engines/*`: mounts.
"""
