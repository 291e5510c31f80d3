"""The lab Vault server: a Vault-compatible HTTP server that `hvac` works against unchanged.

Start it with `vaultinject lab vault --listen 127.0.0.1:0 --root-token root --auto-unseal`, or from Python
with `vaultinject.lab.vault.harness` (`vault_process()` for a subprocess, `vault_thread()` in-process).

Modules, one job each:

- `cli`: the command line; `server`: the HTTP(S) listener and expiry sweeper; `api`: HTTP to `Request`
  and `Response` back to HTTP; `envelope`: responses, errors and the JSON envelope; `request`, `fields`:
  a request and its parameter coercion; `router`: paths to handlers inside a mount;
- `core`: the request pipeline (seal, routing, token check, ACL, tokens from logins, leases, wrapping,
  audit); `store`: memory or SQLite persistence; `seal`: init and unseal keys; `mounts`: the mount tables;
- `hcl`, `policy`, `acl`: policies and their evaluation; `tokens`, `leases`, `ttl`, `expiry`, `identity`,
  `wrapping`, `audit`: the rest of Vault's core state;
- `system`, `system_status`: the `sys/` endpoints; `lab_api`: lab-only `sys/lab/*` endpoints;
- `auth/`: token, Kubernetes (with `tokenreview`, `local_files`, `selectors`, `tokenfields`), JWT, AppRole;
- `engines/`: KV v1/v2, database-style dynamic credentials, PKI, cubbyhole, identity;
- `jose`: JWT parsing and signature checks; `harness`: start a server for tests.
"""
