"""Paths as the container runtime will read them: the one normaliser every path check uses.

runc and containerd clean a mount destination the way Go's `filepath.Clean` does before mounting, so
`//home/vault`, `/home/./vault` and `/home/vault/` all land on `/home/vault`. Every check that compares
paths (reserved agent paths, secret destinations, mount clashes) compares cleaned paths.
"""

from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1024)  # one pod checks the same few paths dozens of times; a rollout's pods share them
def clean(path: str) -> str:
    """Go's `filepath.Clean` on Linux: one `/` between names, no `.`, no `..` after a name or at the root."""
    rooted = path.startswith("/")
    names: list[str] = []
    for name in path.split("/"):
        if name in ("", "."):
            continue
        if name != "..":
            names.append(name)
        elif names and names[-1] != "..":
            names.pop()
        elif not rooted:
            names.append("..")
    cleaned = "/".join(names)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def join(directory: str, name: str) -> str:
    """Go's `filepath.Join` of two parts: `name` stays under `directory` even when it starts with `/`."""
    return clean(directory + "/" + name)


def is_inside(path: str, directory: str) -> bool:
    """Whether the cleaned `path` lies strictly below the cleaned `directory`."""
    path, directory = clean(path), clean(directory)
    return path != directory and path.startswith(directory.rstrip("/") + "/")


def overlaps(first: str, second: str) -> bool:
    """Whether one cleaned path is the other or lies below it (a mount at one hides or nests the other)."""
    first, second = clean(first), clean(second)
    return first == second or is_inside(first, second) or is_inside(second, first)
