"""The packages import one way: contracts, stages, orchestration, process (no cycle)."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections import Counter

from tests import import_graph as graph
from tests.conftest import ROOT


def test_no_cycle_between_packages_or_rooms() -> None:
    packages, rooms = graph.edges()
    assert graph.cycles(packages) == []
    assert graph.cycles(rooms) == []


def test_every_room_imports_only_what_its_layer_allows() -> None:
    _packages, rooms = graph.edges()
    assert graph.violations(rooms) == []


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    planted = Counter({("core", "fixes.persistence"): 1, ("fixes.persistence", "core"): 1})
    assert graph.cycles(planted) == [["core", "fixes.persistence", "core"]]
    assert graph.violations(planted) == ["core -> fixes.persistence"]


def test_every_module_belongs_to_a_known_room() -> None:
    rooms = {graph.room_of(graph.module_name(path)) for path in graph.source_files()}
    assert rooms - {None} <= set(graph.ALLOWED)


def test_every_package_says_what_it_holds() -> None:
    for init in sorted(ROOT.glob("*/**/__init__.py")):
        if init.parts[len(ROOT.parts)] in ("core", "monitoring", "fixes", "bot"):
            text = init.read_text(encoding="utf-8").strip()
            assert text.startswith('"""'), f"{init.relative_to(ROOT)} has no docstring"


def test_every_package_map_names_each_of_its_modules_and_subpackages() -> None:
    """The module map in each ``__init__`` docstring keeps up with the files beside it."""
    missing = []
    for init in sorted(ROOT.glob("*/**/__init__.py")):
        if init.parts[len(ROOT.parts)] not in ("core", "monitoring", "fixes", "bot"):
            continue
        doc = ast.get_docstring(ast.parse(init.read_text(encoding="utf-8"))) or ""
        members = [p.stem for p in init.parent.glob("*.py") if p.name != "__init__.py"]
        members += [p.parent.name for p in init.parent.glob("*/__init__.py")]
        named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", doc))
        missing += [f"{init.parent.relative_to(ROOT)}/{m}" for m in members if m not in named]
    assert missing == [], f"not in their package's module map: {sorted(missing)}"


def test_the_script_prints_the_graph() -> None:
    result = subprocess.run(
        [sys.executable, "tests/import_graph.py"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout
    assert "monitoring -> fixes" in result.stdout and "cycles: none" in result.stdout
