"""The tree's import graph: no cycle, contracts at the bottom, the worker on top."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("contracts", "cud_api", "streams", "web_read", "compose", "debezium", "bench")


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph(*PACKAGES)


def import_cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Every strongly connected group of two or more modules (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return cycles


def test_no_module_imports_a_module_that_imports_it_back(graph):
    assert import_cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_when_there_is_one():
    graph = grimp.build_graph(*PACKAGES)
    graph.add_import(importer="contracts.topics", imported="streams.worker")
    assert any("contracts.topics" in group for group in import_cycles(graph))


def test_contracts_depend_on_no_component(graph):
    for package in PACKAGES[1:]:
        assert not graph.chain_exists(importer="contracts", imported=package, as_packages=True), (
            f"contracts imports {package}"
        )


@pytest.mark.parametrize("component", ["streams.app", "streams.agents", "web_read"])
def test_only_the_worker_module_puts_agents_and_views_together(graph, component):
    assert not graph.chain_exists(importer=component, imported="streams.worker", as_packages=True)


def test_the_stream_app_does_not_know_the_read_api(graph):
    streams = graph.find_descendants("streams") - {"streams.worker"}
    assert streams, "no streams modules found"
    for module in sorted(streams):
        assert not graph.chain_exists(importer=module, imported="web_read", as_packages=True), (
            f"{module} reaches web_read"
        )


def test_collecting_the_integration_tests_builds_no_stream_app():
    # pytest collects tests/integration before tests/unit: a module there that builds the
    # Faust app at import fixes its table store before the unit tests' conftest can choose one.
    code = (
        "import importlib, pkgutil, sys\n"
        "for found in pkgutil.walk_packages(['tests/integration'], 'tests.integration.'):\n"
        "    importlib.import_module(found.name)\n"
        "print(sorted(m for m in sys.modules if m in ('streams.app', 'streams.worker')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert result.stdout.strip() == "[]", result.stderr[-2000:]
