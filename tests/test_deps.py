"""Every project module a stage imports, directly or through another project module, is under that stage's `deps:`
in dvc.yaml, so that DVC reruns the stage when any code it runs changes. The imports are read from the source
(every `import`, also those inside functions), not from a list kept by hand."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml

from .conftest import ROOT

STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def module_files(name: str) -> list[Path]:
    """The project files importing the module `name` runs: its own, and the `__init__.py` of every package on
    its way (labelsweep's own is empty of imports and left out)."""
    parts = name.split(".")
    files = [ROOT.joinpath(*parts[:i], "__init__.py") for i in range(2, len(parts) + 1)]
    files.append(ROOT / (name.replace(".", "/") + ".py"))
    return [file for file in files if file.exists()]


def imported_names(path: Path) -> list[str]:
    """Every module name the file at `path` imports (also inside functions), `from a import b` as a and a.b."""
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names += [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def project_imports(path: Path) -> set[str]:
    """The project files (`labelsweep/**.py`) that the module at `path` imports, and those they import in turn."""
    found: set[str] = set()
    todo = [path]
    while todo:
        for name in imported_names(todo.pop()):
            if not name.startswith("labelsweep."):
                continue
            for file in module_files(name):
                relative = str(file.relative_to(ROOT))
                if relative not in found:
                    found.add(relative)
                    todo.append(file)
    return found


def test_the_import_reader_follows_imports_inside_functions_and_through_modules():
    train_eval = project_imports(ROOT / "stages" / "train_eval.py")
    assert "labelsweep/training.py" in train_eval  # imported inside main()
    assert "labelsweep/errors.py" in project_imports(ROOT / "labelsweep" / "training.py")


@pytest.mark.parametrize("name", sorted(STAGES))
def test_every_project_module_a_stage_imports_is_in_its_deps(name):
    stage = STAGES[name]
    script = stage["cmd"].split("python -m ", 1)[1].split()[0]
    path = ROOT / (script.replace(".", "/") + ".py")
    deps = set(stage["deps"])
    assert str(path.relative_to(ROOT)) in deps
    imported = project_imports(path)
    missing = sorted(imported - deps)
    assert not missing, f"{name}: add {missing} to its deps in dvc.yaml"
    code = {dep for dep in deps if dep.startswith(("labelsweep/", "stages/"))}
    extra = sorted(code - imported - {str(path.relative_to(ROOT))})
    assert not extra, f"{name}: {extra} are in its deps in dvc.yaml but it does not import them"
