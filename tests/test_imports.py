"""A house without circles: the import graph of bench/, lwgan/ and regulators/ (module-level and
function-level imports alike) has no cycle, no import from a lower layer to a higher one, and no
private name imported across modules."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bench", "lwgan", "regulators", "registries")
# Layers, lowest first: a module may import its own layer and the ones below, never above.
LAYERS = [
    ("registries",),  # the one registry class every named component table is
    ("regulators", "lwgan"),  # the model libraries
    ("bench",),  # the harness's building blocks (data, cache, stats, claims, settings, ...)
    ("bench.pipeline",),
    ("bench.recovery", "bench.experiments"),
    ("bench.summary", "bench.compare", "bench.equivalence", "bench.commands"),
    ("bench.cli",),
]


def _modules() -> dict[str, Path]:
    out = {}
    for pkg in PACKAGES:
        for p in (ROOT / pkg).rglob("*.py"):
            parts = p.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[name] = p
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The project module an import refers to (a name imported from a package resolves to the
    package's module, or to the submodule of that name)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[tuple[str, str]]:
    """(imported module, imported name or '') for every import in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] in PACKAGES:
                    out.add((a.name, ""))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.split(".")[0] not in PACKAGES:
                continue
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add((sub, "") if sub in modules else (base, a.name))
    return out


def _graph():
    modules = _modules()
    edges: dict[str, set[str]] = {m: set() for m in modules}
    private = []
    for name, path in modules.items():
        for target, imported in _imports(name, path, modules):
            mod = _resolve(target, modules)
            if mod is None or mod == name:
                continue
            edges[name].add(mod)
            if imported.startswith("_") and not imported.startswith("__"):
                private.append(f"{name} imports {imported} from {mod}")
    return modules, edges, private


def _layer(module: str) -> int:
    best, depth = 0, -1
    for i, prefixes in enumerate(LAYERS):
        for p in prefixes:
            if (module == p or module.startswith(p + ".")) and len(p) > depth:
                best, depth = i, len(p)
    return best


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    import sys

    sys.setrecursionlimit(10_000)
    for v in edges:
        if v not in index:
            visit(v)
    return out


def test_no_import_cycle():
    _, edges, _ = _graph()
    # A package's __init__ that only re-exports its submodules is not a dependency of them.
    assert _cycles(edges) == []


def test_no_import_from_a_lower_layer_to_a_higher_one():
    _, edges, _ = _graph()
    upward = [f"{a} -> {b}" for a, targets in edges.items() for b in targets if _layer(b) > _layer(a)]
    assert upward == []


def test_no_private_name_is_imported_across_modules():
    _, _, private = _graph()
    assert private == []


def _imports_torch(*args: str, cwd=ROOT) -> bool:
    import subprocess
    import sys

    code = (
        'import sys; sys.argv = ["bench", *sys.argv[1:]]; from bench.cli import main\n'
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'LIGHT')"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    assert out.stdout.strip().endswith(("TORCH", "LIGHT")), out.stderr[-2000:]
    return out.stdout.strip().endswith("TORCH")


def test_light_commands_import_no_torch(tmp_path):
    """`bench --help`, the claims, comparing and rebuilding a toy report never pay torch's import
    (several seconds on a cold disk): the settings, the claims and the reports are light."""
    import sys

    sys_argv = [
        ["--help"],
        ["recover", "--help"],
        ["claims"],
        ["claims", "recon-slightly-worse"],
        ["report", str(ROOT / "reports" / "rank.json"), "--out", str(tmp_path / "r")],
        [
            "compare",
            str(ROOT / "reports" / "stochastic.json"),
            str(ROOT / "reports" / "stochastic.json"),
            "--out",
            str(tmp_path / "c"),
        ],
    ]
    heavy = [" ".join(a) for a in sys_argv if _imports_torch(*a)]
    assert not heavy, f"these imported torch: {heavy} (python {sys.version_info[:2]})"
