"""The dependency rules of docs/architecture.md, checked on every module's imports (module level and
inside functions alike)."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parents[1] / "src"
PACKAGE = SOURCE / "vaultinject"
AGENT_PATH = ("spec", "templates", "vault", "agent")
SHARED = ("vaultinject.records", "vaultinject.urls")  # small standard-library helpers any part may use


def _module_name(path: Path) -> str:
    parts = path.relative_to(SOURCE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def _modules(*subpackages: str) -> list[Path]:
    return sorted(p for sub in subpackages for p in (PACKAGE / sub).rglob("*.py"))


def _third_party(names: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in names}
    return {top for top in tops if top not in sys.stdlib_module_names and top != "vaultinject"}


def _ours(names: set[str]) -> set[str]:
    """Our modules among `names` (a `from m import attr` counts as `m` unless `m.attr` is a module)."""
    return {name for name in names if name.split(".")[0] == "vaultinject" and _is_module(name)}


def _is_module(name: str) -> bool:
    path = SOURCE.joinpath(*name.split("."))
    return path.with_suffix(".py").exists() or (path / "__init__.py").exists()


def _within(name: str, allowed: tuple[str, ...]) -> bool:
    return name == "vaultinject" or any(name == a or name.startswith(a + ".") for a in (*allowed, *SHARED))


@pytest.mark.parametrize("path", _modules(*AGENT_PATH), ids=_module_name)
def test_the_agent_path_uses_the_standard_library_and_itself_only(path: Path) -> None:
    imports = _imports(path)
    assert not _third_party(imports)
    allowed = tuple(f"vaultinject.{sub}" for sub in AGENT_PATH)
    assert [name for name in _ours(imports) if not _within(name, allowed)] == []


@pytest.mark.parametrize("path", _modules("injector"), ids=_module_name)
def test_the_injector_is_pure_with_msgspec_as_its_only_library(path: Path) -> None:
    imports = _imports(path)
    assert _third_party(imports) <= {"msgspec"}
    allowed = ("vaultinject.spec", "vaultinject.templates", "vaultinject.injector")
    assert [name for name in _ours(imports) if not _within(name, allowed)] == []


@pytest.mark.parametrize("path", _modules("lab"), ids=_module_name)
def test_the_lab_imports_no_domain_module(path: Path) -> None:
    imports = _imports(path)
    assert [name for name in _ours(imports) if not name.startswith("vaultinject.lab")] == []


def test_nothing_but_the_lab_and_its_command_imports_the_lab() -> None:
    importers = [
        _module_name(path)
        for path in sorted(PACKAGE.rglob("*.py"))
        if "lab" not in path.relative_to(PACKAGE).parts[:1]
        and any(name.startswith("vaultinject.lab") for name in _imports(path))
    ]
    assert importers == []


def test_the_command_line_reaches_the_lab_only_by_name() -> None:
    """`cli/lab.py` names the lab's entry points as strings, imported on use."""
    assert not any(n.startswith("vaultinject.lab") for n in _imports(PACKAGE / "cli" / "lab.py"))
    assert "vaultinject.lab." in (PACKAGE / "cli" / "lab.py").read_text()


PLANNER = ("plan.py", "actions.py", "healer_access.py")


@pytest.mark.parametrize("path", [PACKAGE / "setup" / name for name in PLANNER], ids=_module_name)
def test_the_vault_setup_planner_is_pure(path: Path) -> None:
    """Evidence in, steps out: the standard library and the planner's own modules only, and no I/O."""
    imports = _imports(path)
    assert not _third_party(imports)
    assert _ours(imports) <= {f"vaultinject.setup.{name.removesuffix('.py')}" for name in PLANNER}
    assert not {"os", "socket", "subprocess", "pathlib", "asyncio"} & {name.split(".")[0] for name in imports}


DIAGNOSIS_MAY_IMPORT = ("vaultinject.diagnosis", "vaultinject.spec", "vaultinject.vault.errors")
IMPURE = {"os", "socket", "subprocess", "pathlib", "asyncio", "time", "ssl", "http", "urllib", "threading"}
CLOCK_READS = {"now", "utcnow", "today", "time", "monotonic", "perf_counter"}


def _pure_diagnosis_modules() -> list[Path]:
    """The engine, its evidence, classifier and rules; a gathering layer (`diagnosis/gather*`) does I/O."""
    return [
        path
        for path in _modules("diagnosis")
        if not path.relative_to(PACKAGE / "diagnosis").parts[0].startswith("gather")
    ]


@pytest.mark.parametrize("path", _pure_diagnosis_modules(), ids=_module_name)
def test_the_diagnosis_engine_is_pure(path: Path) -> None:
    """Evidence in, findings out: the standard library, spec and Vault's error types; no I/O, no clock."""
    imports = _imports(path)
    assert not _third_party(imports)
    assert [name for name in _ours(imports) if not _within(name, DIAGNOSIS_MAY_IMPORT)] == []
    assert not IMPURE & {name.split(".")[0] for name in imports}
    calls = {
        node.func.attr
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    assert not calls & CLOCK_READS


@pytest.mark.parametrize(
    "path", [PACKAGE / "heal" / n for n in ("decide.py", "recovery.py")], ids=_module_name
)
def test_heals_decisions_are_pure(path: Path) -> None:
    """What heal may do and which pods it recovers: the diagnosis engine's types only, no I/O."""
    imports = _imports(path)
    assert not _third_party(imports)
    assert [name for name in _ours(imports) if not _within(name, ("vaultinject.diagnosis",))] == []
    assert not IMPURE & {name.split(".")[0] for name in imports}
