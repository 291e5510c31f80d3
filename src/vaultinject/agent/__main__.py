"""`python -m vaultinject.agent --mode init|sidecar|native`."""

import sys

from vaultinject.agent.config import HELP, HELP_FLAGS, ConfigError, load_spec, parse_arguments
from vaultinject.agent.logs import Logger
from vaultinject.agent.renderer import compile_templates
from vaultinject.agent.runner import Agent


def main(argv: list[str] | None = None) -> int:
    """Run the agent; exit 2 on configuration it cannot run with (retrying would not help)."""
    arguments = sys.argv[1:] if argv is None else argv
    if any(flag in HELP_FLAGS for flag in arguments):
        print(HELP)
        return 0
    try:
        options = parse_arguments(arguments)
        spec = load_spec(options.annotations_file)
    except ConfigError as error:
        Logger().error("cannot start", error=str(error), cause="configuration")
        return 2
    logger = Logger(spec.log_level, spec.log_format)
    try:
        compiled = compile_templates(spec)
    except ConfigError as error:
        logger.error("invalid template", error=str(error), cause="configuration")
        return 2
    return Agent(options, spec, compiled, logger).run()


if __name__ == "__main__":
    sys.exit(main())
