"""`python -m vaultinject.agent --mode init|sidecar|native`, or `--wait-for-start SECONDS FILE`."""

import sys

WAIT_FLAG = "--wait-for-start"  # the native agent's postStart hook: `agent/started.py`


def main(argv: list[str] | None = None) -> int:
    """Run the agent; exit 2 on configuration it cannot run with (retrying would not help)."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [WAIT_FLAG]:
        from vaultinject.agent import started

        return started.main(arguments[1:])
    # Imported here so that the postStart hook, which runs once per pod start, imports only what it uses.
    from vaultinject.agent.config import HELP, HELP_FLAGS, ConfigError, load_spec, parse_arguments
    from vaultinject.agent.logs import Logger
    from vaultinject.agent.renderer import compile_templates
    from vaultinject.agent.runner import Agent

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
