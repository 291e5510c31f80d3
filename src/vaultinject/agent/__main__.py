"""`python -m vaultinject.agent --mode init|sidecar|native`, or `--wait-for-start SECONDS` (postStart)."""

import sys

WAIT_FLAG = "--wait-for-start"


def main(argv: list[str] | None = None) -> int:
    """Run the agent; exit 2 on configuration it cannot run with (retrying would not help)."""
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == [WAIT_FLAG]:
        return _wait_for_start(arguments[1:])
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


def _wait_for_start(arguments: list[str]) -> int:
    """`--wait-for-start SECONDS [--state-dir DIR]`: return once the agent's first render is complete."""
    from vaultinject.agent.started import wait_for_start
    from vaultinject.spec.model import AGENT_STATE_PATH, STARTED_FILE

    seconds, state_dir = [*arguments, ""][0], AGENT_STATE_PATH
    if arguments[1:2] == ["--state-dir"] and len(arguments) == 3:
        state_dir = arguments[2]
    elif len(arguments) != 1:
        print(f"usage: vaultinject-agent {WAIT_FLAG} SECONDS [--state-dir DIR]", file=sys.stderr)
        return 2
    try:
        limit = float(seconds)
    except ValueError:
        limit = -1.0
    if not 0 <= limit <= 3600:
        print(f"{WAIT_FLAG} must be a number of seconds from 0 to 3600 (got {seconds!r})", file=sys.stderr)
        return 2
    marker = f"{state_dir.rstrip('/')}/{STARTED_FILE.rsplit('/', 1)[1]}"
    return wait_for_start(marker, limit)
