"""The layering contract of the vsrife package, checked from the source (no imports executed).

Layers, lowest first.  A module may import modules of its own package and of lower layers only;
packages on the same layer do not import each other.  The module graph has no import cycles
(imports inside functions count too: they only hide a cycle).  Modules stay under
``MAX_MODULE_LINES`` lines and functions under ``MAX_FUNCTION_LINES``.

Run ``python tools/check_layers.py`` (``make lint`` does); ``tests/test_architecture.py`` runs the
same checks.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "vsrife"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 55

# first component below vsrife/ -> layer rank
LAYERS: dict[str, int] = {
    "errors": 0, "settings": 0, "scenes": 0, "heap": 0, "install": 0,  # foundation: no vsrife imports but each other
    "nn": 1,  # architecture table, IFNet, CPU fast path and its kernels
    "weights": 2,  # catalog, cache, safe loading, detection
    "engine": 3,  # devices, padding, caching, streams (no VapourSynth)
    "vs": 4,  # the VapourSynth filter
    "plugin": 5, "media": 5,  # the native shim's Python side; encoding and muxing
    "jobs": 6, "train": 6, "dev": 6,  # chunked renders; training; developer tools
    "cli": 7,  # the command line
}
FACADE = {"__init__", "__main__", "_bind", "registry"}  # the package facade (and a deprecated alias) sit on top


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(mod: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = mod.split(".") if is_pkg else mod.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, *([node.module] if node.module else [])])


def imports(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the vsrife modules it imports (``from pkg import sub`` counts as importing ``pkg.sub``)."""
    graph: dict[str, set[str]] = {}
    for mod, path in known.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        is_pkg = path.name == "__init__.py"
        out: set[str] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out.update(a.name for a in node.names if a.name.split(".")[0] == "vsrife")
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(mod, is_pkg, node)
                if target.split(".")[0] != "vsrife":
                    continue
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in known]
                out.update(subs or [target])
        graph[mod] = {m for m in out if m in known and m != mod}
    return graph


def layer_of(mod: str) -> tuple[str, int]:
    parts = mod.split(".")
    if len(parts) == 1 or parts[1] in FACADE:
        return "vsrife", 99
    top = parts[1]
    if top not in LAYERS:
        raise SystemExit(f"{mod}: package vsrife.{top} has no layer; add it to LAYERS in tools/check_layers.py")
    return top, LAYERS[top]


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for mod, deps in sorted(graph.items()):
        top, rank = layer_of(mod)
        for dep in sorted(deps):
            dtop, drank = layer_of(dep)
            if dtop == top or top == "vsrife":
                continue
            if drank > rank or (drank == rank and rank > 0):
                bad.append(f"{mod} (layer {top}={rank}) imports {dep} (layer {dtop}={drank})")
    return bad


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected set of two or more modules (Tarjan), as a sorted list."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
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
                found.append(sorted(comp))

    sys.setrecursionlimit(10_000)
    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def size_violations(known: dict[str, Path]) -> list[str]:
    bad = []
    for mod, path in known.items():
        text = path.read_text(encoding="utf-8")
        if (n := len(text.splitlines())) > MAX_MODULE_LINES:
            bad.append(f"{mod}: {n} lines (at most {MAX_MODULE_LINES})")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = (node.end_lineno or node.lineno) - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    bad.append(f"{mod}.{node.name} (line {node.lineno}): {length} lines (at most {MAX_FUNCTION_LINES})")
    return bad


def problems() -> list[str]:
    known = modules()
    graph = imports(known)
    out = layer_violations(graph)
    out += [f"import cycle: {' -> '.join(c)}" for c in cycles(graph)]
    out += size_violations(known)
    return out


def main() -> int:
    found = problems()
    for p in found:
        print(p)
    print(f"check_layers: {len(modules())} modules, {len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
