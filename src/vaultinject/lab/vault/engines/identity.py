"""The `identity/` mount. Entities exist (logins get an `entity_id`), but no identity API is served."""

from __future__ import annotations

from vaultinject.lab.vault.backend import Backend


class IdentityBackend(Backend):
    type_name = "identity"
