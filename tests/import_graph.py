"""The import graph of mendbot's packages and rooms, and the layering it must follow.

Run ``python tests/import_graph.py`` to print the edges between top-level packages and
between rooms (a package's stage folders), with counts, then the layering violations and
cycles found (none, when the code is as it should be). ``tests/test_layering.py`` asserts
the same. Every ``import`` and ``from ... import`` counts, at module level or inside a
function: a lazy import is still a dependency.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("settings", "core", "fixes", "monitoring", "bot")

#: Each room, and the rooms it may import (besides itself). Lower layers first: the shared
#: contracts, the stages, the orchestration over them, the process on top.
ALLOWED: dict[str, set[str]] = {
    "settings": set(),
    "core": set(),
    "fixes.persistence": {"core", "settings"},
    "fixes.apply": {"core", "settings"},
    "fixes.actions": {"core", "settings", "fixes.persistence", "fixes.apply"},
    "fixes.decisions": {"core", "settings", "fixes.persistence", "fixes.apply", "fixes.actions"},
    "monitoring.parsing": {"core", "settings"},
    "monitoring.sources": {"core", "settings", "monitoring.parsing"},
    "monitoring.analysis": {"core", "settings"},
    "monitoring.diagnosis": {"core", "settings"},
    "monitoring.signals": {"core", "settings"},
    "monitoring.orchestration": {
        "core",
        "settings",
        "fixes.persistence",
        "fixes.apply",
        "fixes.decisions",
        "fixes.actions",
        "monitoring.parsing",
        "monitoring.sources",
        "monitoring.analysis",
        "monitoring.diagnosis",
        "monitoring.signals",
    },
    "monitoring.evaluation": {
        "core",
        "settings",
        "fixes.persistence",
        "fixes.apply",
        "fixes.decisions",
        "monitoring.parsing",
        "monitoring.sources",
        "monitoring.analysis",
        "monitoring.diagnosis",
        "monitoring.orchestration",
    },
    "bot.slack": {
        "core",
        "settings",
        "fixes.persistence",
        "fixes.decisions",
        "fixes.actions",
        "monitoring.orchestration",
    },
    "bot.http": {"core", "settings", "bot.slack"},
    "bot.cli": {
        "core",
        "settings",
        "fixes.persistence",
        "fixes.apply",
        "fixes.decisions",
        "fixes.actions",
        "monitoring.parsing",
        "monitoring.sources",
        "monitoring.analysis",
        "monitoring.diagnosis",
        "monitoring.signals",
        "monitoring.orchestration",
        "monitoring.evaluation",
        "bot.slack",
        "bot.http",
    },
}
#: Modules directly under a package that are not in a stage folder: which room they are.
LOOSE = {
    "fixes.decisions": "fixes.decisions",
    "fixes.pull_requests": "fixes.decisions",
    "fixes.refusals": "fixes.decisions",
    "fixes.revert": "fixes.decisions",
    "fixes.interrupted": "fixes.decisions",
    "bot.http_server": "bot.http",
}


def room_of(module: str) -> str | None:
    """The room of a dotted module name (``monitoring.analysis.rules`` ->
    ``monitoring.analysis``), or None when it is not mendbot's."""
    parts = module.split(".")
    if parts[0] not in PACKAGES:
        return None
    if parts[0] in ("settings", "core"):
        return parts[0]
    if len(parts) == 1:
        return None  # the package itself (its __init__): not a room
    two = ".".join(parts[:2])
    if two in LOOSE:
        return LOOSE[two]
    if two in ALLOWED:
        return two
    if parts[0] == "monitoring":
        return "monitoring.orchestration"  # pipeline, monitor, runtime, status, ...
    return two


def module_name(path: Path) -> str:
    """``monitoring/analysis/rules.py`` -> ``monitoring.analysis.rules``."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterable[str]:
    """Every absolute module a file imports (``from a import b`` yields ``a`` and ``a.b``)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{alias.name}" for alias in node.names)


def source_files() -> list[Path]:
    """mendbot's own modules: the top-level module and every package's files."""
    files = [ROOT / "settings.py"]
    for package in PACKAGES[1:]:
        files.extend(sorted((ROOT / package).rglob("*.py")))
    return files


def edges() -> tuple[Counter[tuple[str, str]], Counter[tuple[str, str]]]:
    """``(package edges, room edges)``: ``(importer, imported) -> import statements``."""
    packages: Counter[tuple[str, str]] = Counter()
    rooms: Counter[tuple[str, str]] = Counter()
    for path in source_files():
        here = module_name(path)
        seen_rooms: set[str] = set()
        for name in set(imports(path)):
            there_room = room_of(name)
            if there_room is None:
                continue
            top_here, top_there = here.split(".")[0], name.split(".")[0]
            here_room = room_of(here) or here
            if top_here != top_there:
                packages[(top_here, top_there)] += 1
            if here_room != there_room and there_room not in seen_rooms:
                seen_rooms.add(there_room)
                rooms[(here_room, there_room)] += 1
    return packages, rooms


def cycles(pairs: Iterable[tuple[str, str]]) -> list[list[str]]:
    """Every elementary cycle's node list, found by depth-first search (small graphs)."""
    graph: dict[str, set[str]] = {}
    for a, b in pairs:
        graph.setdefault(a, set()).add(b)
    found: list[list[str]] = []
    seen: set[frozenset[str]] = set()

    def visit(node: str, path: list[str]) -> None:
        for nxt in sorted(graph.get(node, ())):
            if nxt in path:
                cycle = path[path.index(nxt) :]
                if frozenset(cycle) not in seen:
                    seen.add(frozenset(cycle))
                    found.append([*cycle, nxt])
            else:
                visit(nxt, [*path, nxt])

    for start in sorted(graph):
        visit(start, [start])
    return found


def violations(rooms: Counter[tuple[str, str]]) -> list[str]:
    """Room edges that :data:`ALLOWED` does not allow, as ``"a -> b"``."""
    return [f"{a} -> {b}" for (a, b) in sorted(rooms) if b not in ALLOWED.get(a, set())]


def main() -> int:
    """Print the graph; exit 1 on a cycle or a violation."""
    packages, rooms = edges()
    print("packages:")
    for (a, b), n in sorted(packages.items()):
        print(f"  {a} -> {b}: {n}")
    print("rooms:")
    for (a, b), n in sorted(rooms.items()):
        print(f"  {a} -> {b}: {n}")
    bad = violations(rooms)
    loops = cycles(packages) + cycles(rooms)
    print("violations: " + (", ".join(bad) or "none"))
    print("cycles: " + ("; ".join(" -> ".join(c) for c in loops) or "none"))
    return 1 if bad or loops else 0


if __name__ == "__main__":
    sys.exit(main())
