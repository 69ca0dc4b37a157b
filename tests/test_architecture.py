"""The house rules of docs/architecture.md, checked on the source: who may import whom, and file size.

Every import counts, including those inside functions (lazy imports are still dependencies).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "heedful"
DOMAIN = ("value", "listen", "surveys", "retain", "advocacy", "journey", "cases")
MAX_LINES = 600

# package -> heedful packages it must never import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "store": (*DOMAIN, "services", "ingest", "report", "web", "cli"),
    **{d: ("store", "services", "ingest", "report", "web", "cli") for d in DOMAIN},
    "services": ("web", "cli"),
    "report": ("web", "cli"),
    "web": ("cli",),
    "cli": ("web",),
}


def _package(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0] if len(rel.parts) > 1 else rel.stem


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported heedful package) for every import of a heedful module in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names if node.module == "heedful"]
        for name in names:
            parts = name.split(".")
            if parts[0] == "heedful" and len(parts) > 1:
                found.append((node.lineno, parts[1]))
    return found


SOURCES = sorted(SRC.rglob("*.py"))


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_packages_import_only_what_the_architecture_allows(package: str) -> None:
    breaches = [
        f"{path.relative_to(SRC.parent)}:{line} imports heedful.{target}"
        for path in SOURCES
        if _package(path) == package
        for line, target in _imports(path)
        if target in FORBIDDEN[package]
    ]
    assert not breaches, "\n".join(breaches)


def test_the_rule_checker_sees_lazy_imports(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from heedful.cli.common import emit_json\n    import heedful.web.app\n")
    assert _imports(module) == [(2, "cli"), (3, "web")]


def test_no_source_file_is_over_the_size_limit() -> None:
    long = [
        f"{p.relative_to(SRC.parent)}: {n} lines"
        for p in SOURCES
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    ]
    assert not long, "\n".join(long)


TOOLS = sorted((SRC.parents[1] / "scripts").glob("*.py")) + sorted((SRC.parents[1] / "bench").glob("*.py"))


def _missing_names(path: Path) -> list[str]:
    """The names a script imports from heedful that heedful does not have (peers such as lifetimes are not
    imported: a bench runs them in their own environment)."""
    import importlib

    missing = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 and node.module.startswith("heedful"):
            module = importlib.import_module(node.module)
            for alias in node.names:
                if hasattr(module, alias.name):
                    continue
                try:
                    importlib.import_module(f"{node.module}.{alias.name}")
                except ImportError:
                    missing.append(f"{path.name}, line {node.lineno}: {node.module}.{alias.name}")
    return missing


def test_the_scripts_and_benchmarks_import_names_heedful_has() -> None:
    # they are run by hand, so nothing else notices when a name they use moves
    assert len(TOOLS) > 20
    missing = [m for path in TOOLS for m in _missing_names(path)]
    assert not missing, "\n".join(missing)


def test_the_import_check_sees_a_moved_name(tmp_path: Path) -> None:
    script = tmp_path / "s.py"
    script.write_text("from heedful.cli.common import to_jsonable\nfrom heedful.jsonable import to_jsonable\n")
    assert _missing_names(script) == ["s.py, line 1: heedful.cli.common.to_jsonable"]
