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


def project_imports(path: Path) -> set[str]:
    """The project files (`labelsweep/*.py`) that the module at `path` imports, and those they import in turn."""
    found: set[str] = set()
    todo = [path]
    while todo:
        tree = ast.parse(todo.pop().read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                file = ROOT / (name.replace(".", "/") + ".py")
                relative = str(file.relative_to(ROOT))
                if name.startswith("labelsweep.") and file.exists() and relative not in found:
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
    missing = sorted(project_imports(path) - deps)
    assert not missing, f"{name}: add {missing} to its deps in dvc.yaml"
