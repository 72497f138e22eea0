"""The layering the style guide asks for, checked on the source: the core never imports a
framework, and the adapters reach the core only through its public modules."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "shared" / "holysheep"
ADAPTERS = [ROOT / "langchain_holysheep", ROOT / "llamaindex_holysheep"]


def _imports(path: Path) -> list[str]:
    """Every module a file imports, absolute (relative imports are its own package's)."""
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return names


def test_the_core_imports_no_framework() -> None:
    found = {
        f"{path.relative_to(ROOT)}: {name}"
        for path in CORE.rglob("*.py")
        if "_demo_" not in path.name  # the demos show the adapters, imported on demand
        for name in _imports(path)
        if name.split(".")[0] in {"langchain", "langchain_core", "llama_index"}
    }
    assert not found


@pytest.mark.parametrize("package", ADAPTERS, ids=lambda p: p.name)
def test_adapters_use_only_the_cores_public_modules(package: Path) -> None:
    private = {
        f"{path.name}: {name}"
        for path in package.rglob("*.py")
        for name in _imports(path)
        if name.startswith("holysheep.") and any(part.startswith("_") for part in name.split("."))
    }
    assert not private, "import these through holysheep.integration (or make them public)"
