import sys

from vaultinject.cli import main

sys.exit(main())
