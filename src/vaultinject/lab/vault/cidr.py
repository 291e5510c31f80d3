"""Client address checks against CIDR lists (`token_bound_cidrs`, `secret_id_bound_cidrs`)."""

from __future__ import annotations

import ipaddress


def address_allowed(remote: str, cidrs: list[str]) -> bool:
    """Whether `remote` lies in any of `cidrs`; an unparseable address is never allowed."""
    try:
        address = ipaddress.ip_address(remote)
    except ValueError:
        return False
    for cidr in cidrs:
        try:
            if address in ipaddress.ip_network(cidr, strict=False):
                return True
        except ValueError:
            continue
    return False
