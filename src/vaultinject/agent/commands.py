"""Running `agent-inject-command-*` after a render that changed its file."""

from __future__ import annotations

from vaultinject.agent.logs import Logger

COMMAND_TIMEOUT = 30.0
_OUTPUT_LIMIT = 2000


def run_command(command: str, logger: Logger, *, file: str, timeout: float = COMMAND_TIMEOUT) -> bool:
    """Run `command` with /bin/sh; log its output and outcome. A failure is logged, never fatal."""
    import subprocess  # only agents with commands pay for it

    try:
        finished = subprocess.run(
            ["/bin/sh", "-c", command],
            capture_output=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        logger.error("command timed out", file=file, command=command, timeout=f"{timeout:g}s")
        return False
    except OSError as exc:
        logger.error("command could not start", file=file, command=command, error=exc.strerror)
        return False
    output = (finished.stdout + finished.stderr).decode(errors="replace").strip()
    output = logger.scrub(output)[:_OUTPUT_LIMIT]  # before cutting, or a secret cut in two would pass
    if finished.returncode != 0:
        logger.error(
            "command failed", file=file, command=command, exit_code=finished.returncode, output=output
        )
        return False
    logger.info("command ran", file=file, command=command, output=output)
    return True
