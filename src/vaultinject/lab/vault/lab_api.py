"""Lab-only endpoints under `sys/lab/`. They exist in no real Vault; tests and drills use them.

- `GET  sys/lab/database/credentials`: every database credential whose lease is alive.
- `GET  sys/lab/clock`, `PUT sys/lab/clock {"advance": "1h"}`: read or move the server clock forward;
  expiry runs at once, so tokens and leases past their TTL are revoked before the call returns.
- `GET  sys/lab/ha`, `PUT sys/lab/ha {"mode": "active|standby|perfstandby|drsecondary"}`: what
  `sys/health` and `sys/leader` report, so every health code can be exercised.

All of them need a root token or a policy with `sudo` on `sys/lab/*`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from vaultinject.lab.vault import fields, responses
from vaultinject.lab.vault.durations import rfc3339
from vaultinject.lab.vault.envelope import Response, bad_request
from vaultinject.lab.vault.request import Request
from vaultinject.lab.vault.router import Router

if TYPE_CHECKING:
    from vaultinject.lab.vault.core import Core


def register(router: Router, core: Core) -> None:
    """Add the lab-only routes to the `sys/` router."""

    def credentials(_request: Request, _match: re.Match[str]) -> Response:
        return responses.data({"credentials": core.database_credentials()})

    def read_clock(_request: Request, _match: re.Match[str]) -> Response:
        return responses.data({"now": rfc3339(core.clock.now()), "offset": core.clock.offset})

    def advance_clock(request: Request, match: re.Match[str]) -> Response:
        seconds = fields.duration(request.data, "advance")
        if seconds < 0:
            raise bad_request("advance must not be negative")
        core.clock.advance(seconds)
        core.expire_due()
        return read_clock(request, match)

    def read_ha(_request: Request, _match: re.Match[str]) -> Response:
        return responses.data({"mode": core.ha_mode, "ha_enabled": core.ha_enabled})

    def set_ha(request: Request, _match: re.Match[str]) -> Response:
        from vaultinject.lab.vault.core import HA_MODES

        if core.ha is not None:
            raise bad_request("this server runs with --ha: its HA mode follows the HA lock, not sys/lab/ha")
        mode = fields.string(request.data, "mode")
        if mode not in HA_MODES:
            raise bad_request(f"mode must be one of {', '.join(HA_MODES)}")
        core.ha_mode = mode
        core.ha_enabled = True
        return responses.no_content()

    router.add(r"lab/database/credentials/?", read=credentials)
    router.add(r"lab/clock/?", read=read_clock, update=advance_clock)
    router.add(r"lab/ha/?", read=read_ha, update=set_ha)
