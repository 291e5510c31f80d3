"""`python -m vaultinject.lab.vault`: the same as `vaultinject lab vault`."""

import sys

from vaultinject.lab.vault.cli import main

sys.exit(main(sys.argv[1:]))
