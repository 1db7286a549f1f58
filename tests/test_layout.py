"""The package's layout: every module imports, no import circle among the project's modules, and the analysis and
the tooling stay out of the pipeline (the pipeline imports neither; the analysis does not import the tooling)."""

from __future__ import annotations

import ast
import importlib

import pytest

from .conftest import ROOT
from .test_deps import imported_names

MODULES = sorted(".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
                 for path in (ROOT / "labelsweep").rglob("*.py"))


def graph() -> dict[str, set[str]]:
    """module -> the project modules it imports (also inside functions)."""
    edges = {}
    for module in MODULES:
        file = ROOT / (module.replace(".", "/") + ".py")
        path = file if file.exists() else ROOT / module.replace(".", "/") / "__init__.py"
        targets = set()
        for name in imported_names(path):
            for candidate in (name, name.rpartition(".")[0]):
                if candidate in MODULES and candidate != module:
                    targets.add(candidate)
                    break
        edges[module] = targets
    return edges


@pytest.mark.parametrize("module", MODULES)
def test_every_module_imports(module):
    importlib.import_module(module)


def find_circle(edges: dict[str, set[str]]) -> list[str] | None:
    """An import circle of `edges` (as the modules around it, the first repeated at the end), or None."""
    done: set[str] = set()
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        if module in path:
            return path[path.index(module):] + [module]
        if module in done:
            return None
        path.append(module)
        for target in sorted(edges.get(module, ())):
            circle = visit(target)
            if circle:
                return circle
        path.pop()
        done.add(module)
        return None

    return next((circle for module in sorted(edges) if (circle := visit(module))), None)


def test_no_import_circle():
    circle = find_circle(graph())
    assert circle is None, f"import circle: {' -> '.join(circle)}"


def test_a_circle_is_found():
    """The walk can fail: a made-up graph with a circle gives it, one without gives none."""
    assert find_circle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_pipeline_imports_neither_the_analysis_nor_the_tooling():
    edges = graph()
    for module, targets in edges.items():
        if module.startswith(("labelsweep.analysis", "labelsweep.tooling")):
            if module.startswith("labelsweep.analysis"):
                assert not any(t.startswith("labelsweep.tooling") for t in targets), module
            continue
        assert not any(t.startswith(("labelsweep.analysis", "labelsweep.tooling")) for t in targets), module


SOURCES = sorted(path for folder in ("labelsweep", "stages", "bench") for path in (ROOT / folder).rglob("*.py"))
MAX_FILE_LINES, MAX_FUNCTION_LINES = 300, 60


def long_functions(source: str) -> list[tuple[str, int]]:
    """(name, lines) of every function (methods and nested ones too) of `source` longer than MAX_FUNCTION_LINES,
    decorators and docstring included."""
    return [(node.name, node.end_lineno - node.lineno + 1) for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_source_file_or_function_is_too_long(path):
    """A file over ~300 lines or a function over ~60 holds more than one idea: split it."""
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_FILE_LINES, f"{path.relative_to(ROOT)}: split it"
    assert long_functions(source) == [], f"{path.relative_to(ROOT)}: split these functions"


def test_a_long_function_is_found():
    body = "".join(f"    x{i} = {i}\n" for i in range(MAX_FUNCTION_LINES))
    assert long_functions(f"def short():\n    pass\n\n\ndef long():\n{body}") == [("long", MAX_FUNCTION_LINES + 1)]
