"""Size discipline, kept by a test rather than stated: in bench/, lwgan/ and regulators/ no module
over 400 lines and no function over 80; an import inside a function only where it defers torch or
another heavy package (or breaks a cycle its comment names); `# fmt: skip` only on tables of data;
no two modules with the same name."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "lwgan", "regulators")
MAX_MODULE, MAX_FUNCTION = 400, 80
# Third-party packages worth deferring: each costs a noticeable share of a second (torch several).
HEAVY = {"torch", "mlflow", "ray", "submitit", "matplotlib", "pandas", "scipy", "statsmodels", "skdim", "PIL"}
# Modules whose import runs code that loads heavy built-ins (their registries' decorators call
# the family loader): the static imports do not show it.
DYNAMIC_HEAVY = {"lwgan.registry", "lwgan.families"}
# Packages that resolve their names lazily (PEP 562): `from pkg import name` imports the submodule.
LAZY = ("bench.data", "bench.recovery")
DATA_NODES = (ast.Constant, ast.Name, ast.Attribute, ast.Tuple, ast.List, ast.Dict, ast.Set, ast.Load, ast.UnaryOp,
              ast.USub, ast.UAdd)  # fmt: skip


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    return out


MODULES = _modules()
IDS = [p.relative_to(ROOT).as_posix() for p in MODULES.values()]


def _lazy_names() -> dict[str, dict[str, str]]:
    out = {}
    for pkg in LAZY:
        mod = importlib.import_module(pkg)
        out[pkg] = getattr(mod, "_MODULE", None) or getattr(mod, "_WHERE", {})
    return out


def _targets(node: ast.Import | ast.ImportFrom, pkg: str, lazy: dict) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    base = node.module or ""
    if node.level:
        anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
        base = ".".join([*anchor, base] if base else anchor)
    return [
        lazy.get(base, {}).get(a.name) or (f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base)
        for a in node.names
    ]


def _resolve(name: str) -> str | None:
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _heavy_modules() -> set[str]:
    """Project modules whose import (module level, transitively) pulls a heavy package."""
    lazy = _lazy_names()
    top: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found = set()
        for node in tree.body:
            for sub in ast.walk(node) if isinstance(node, (ast.If, ast.Try)) else [node]:
                if isinstance(sub, (ast.Import, ast.ImportFrom)):
                    found.update(_targets(sub, pkg, lazy))
        top[name] = found
    heavy = set(DYNAMIC_HEAVY)
    changed = True
    while changed:
        changed = False
        for name, found in top.items():
            if name in heavy:
                continue
            if any(t.split(".")[0] in HEAVY or _resolve(t) in heavy for t in found):
                heavy.add(name)
                changed = True
    return heavy


@pytest.mark.parametrize("path", list(MODULES.values()), ids=IDS)
def test_no_module_over_400_lines_and_no_function_over_80(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_MODULE, f"{len(lines)} lines"
    functions = [
        n for n in ast.walk(ast.parse("\n".join(lines))) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    long = [
        f"{n.name} ({n.end_lineno - n.lineno + 1} lines)"
        for n in functions
        if n.end_lineno - n.lineno + 1 > MAX_FUNCTION
    ]
    assert not long, f"functions over {MAX_FUNCTION} lines: {', '.join(long)}"


def test_imports_inside_functions_only_defer_heavy_packages():
    heavy, lazy = _heavy_modules(), _lazy_names()
    bad = []
    for name, path in MODULES.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        src = path.read_text(encoding="utf-8")
        lines = src.splitlines()
        for fn in ast.walk(ast.parse(src)):
            if not isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for node in ast.walk(fn):
                if not isinstance(node, (ast.Import, ast.ImportFrom)) or "cycle" in lines[node.lineno - 1]:
                    continue
                light = [
                    t for t in _targets(node, pkg, lazy) if t.split(".")[0] not in HEAVY and _resolve(t) not in heavy
                ]
                if light:
                    bad.append(
                        f"{path.relative_to(ROOT)}:{node.lineno} imports {light[0]} (light: import it at the top)"
                    )
    assert not bad, "\n".join(bad)


def test_fmt_skip_only_on_tables_of_data():
    bad = []
    for path in MODULES.values():
        src = path.read_text(encoding="utf-8")
        ends: dict[int, list[ast.stmt]] = {}
        for node in ast.walk(ast.parse(src)):
            if isinstance(node, ast.stmt):
                ends.setdefault(node.end_lineno, []).append(node)
        for i, line in enumerate(src.splitlines(), 1):
            if line.rstrip().endswith("# fmt: skip") and not any(_is_table(n) for n in ends.get(i, [])):
                bad.append(f"{path.relative_to(ROOT)}:{i}")
    assert not bad, "`# fmt: skip` off a table of data: " + ", ".join(bad)


def _is_table(node: ast.stmt) -> bool:
    value = getattr(node, "value", None)
    if not isinstance(node, (ast.Assign, ast.AnnAssign)) or not isinstance(
        value, (ast.Dict, ast.List, ast.Tuple, ast.Set)
    ):
        return False
    return all(isinstance(n, DATA_NODES) for n in ast.walk(value))


def test_no_two_modules_share_a_name():
    """Within each package (bench, lwgan, regulators) no two library modules share a name, so an
    import never leaves a reader guessing which `compare` or `settings` it is. The command modules
    (bench/commands/) are named after their commands (`bench compare` in commands/compare.py, over
    the library's bench/compare.py): they are left out."""
    names: dict[tuple[str, str], list[str]] = {}
    for name, path in MODULES.items():
        if path.name != "__init__.py" and not name.startswith("bench.commands."):
            names.setdefault((name.split(".")[0], path.stem), []).append(name)
    assert {k: v for k, v in names.items() if len(v) > 1} == {}
