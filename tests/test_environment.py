"""The environment is declared and pinned: every package the code imports is a dependency in pyproject.toml, every
dependency is pinned with hashes in requirements.lock (what `make setup` installs), the environment the tests run in
is the lock's, and the lock's DVC is a release the `-S noise=0.3` bridge has been checked against. The imports are
read from the source (every `import`, also those inside functions), not from a list kept by hand."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from dvc_scalar_grid import CHECKED_DVC_VERSIONS

from .conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME_CODE = ["labelsweep", "stages", "dvc_scalar_grid.py"]  # what the pipeline runs: the main dependencies only
DEV_CODE = ["bench", "tests"]  # may also use the dev extra (pytest...)
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def requirements(extra: str | None = None) -> dict[str, Requirement]:
    """pyproject.toml's dependencies (or those of an optional extra), by canonical distribution name."""
    listed = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return {canonicalize_name(req.name): req for req in map(Requirement, listed)}


def imported_modules(paths: list[Path]) -> set[str]:
    """The top-level names the Python files at `paths` (files or folders) import, the project's own and the standard
    library's left out."""
    files = [file for path in paths for file in (sorted(path.rglob("*.py")) if path.is_dir() else [path])]
    found: set[str] = set()
    for file in files:
        for node in ast.walk(ast.parse(file.read_text())):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    own = {name for name in found if (ROOT / name).is_dir() or (ROOT / f"{name}.py").exists()}
    return found - own - set(sys.stdlib_module_names)


def undeclared(modules: set[str], declared: set[str]) -> list[str]:
    """The modules that no declared distribution provides (the installed distributions say which provides which);
    a module that no installed distribution provides is undeclared too."""
    providers = importlib.metadata.packages_distributions()
    return sorted(
        module
        for module in modules
        if not {canonicalize_name(dist) for dist in providers.get(module, [])} & declared
    )


def locked() -> dict[str, tuple[str, int]]:
    """requirements.lock's pins: canonical name -> (version, number of hashes)."""
    pins: dict[str, tuple[str, int]] = {}
    name = None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if match := PIN.match(line):
            name = canonicalize_name(match[1])
            pins[name] = (match[2], 0)
        elif name and line.strip().startswith("--hash=sha256:"):
            pins[name] = (pins[name][0], pins[name][1] + 1)
    return pins


def test_the_import_reader_finds_imports_inside_functions_and_flags_an_undeclared_one(tmp_path):
    source = tmp_path / "module.py"
    source.write_text("import os\nimport yaml\n\ndef f():\n    from scipy import stats\n    import PIL.Image\n")
    modules = imported_modules([source])
    assert modules == {"yaml", "scipy", "PIL"}
    assert undeclared(modules, {"pyyaml", "pillow"}) == ["scipy"]
    assert undeclared({"no_such_module_anywhere"}, set(requirements())) == ["no_such_module_anywhere"]


def test_every_import_of_the_pipeline_is_a_dependency():
    missing = undeclared(imported_modules([ROOT / path for path in RUNTIME_CODE]), set(requirements()))
    assert not missing, f"add the distributions of {missing} to [project] dependencies in pyproject.toml"


def test_every_import_of_the_tests_and_benchmarks_is_a_dependency_or_in_the_dev_extra():
    declared = set(requirements()) | set(requirements("dev"))
    missing = undeclared(imported_modules([ROOT / path for path in DEV_CODE]), declared)
    assert not missing, f"add the distributions of {missing} to pyproject.toml (dependencies or the dev extra)"


def test_the_lock_pins_every_dependency_with_hashes_within_pyproject_ranges():
    pins = locked()
    assert len(pins) > 100  # the whole environment, torch's nvidia-* libraries included, not only the direct ones
    assert all(hashes for _, hashes in pins.values()), "every pin needs its hashes: pip install --require-hashes"
    for name, req in {**requirements(), **requirements("dev")}.items():
        assert name in pins, f"{name} is in pyproject.toml but not in requirements.lock: recompile the lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), f"{name}=={pins[name][0]} outside {req}"


def test_the_environment_is_the_locks():
    stale = {
        name: (version, importlib.metadata.version(name))
        for name, (version, _) in locked().items()
        if importlib.metadata.version(name) != version
    }
    assert not stale, f"installed versions differ from requirements.lock (locked, installed): {stale}; make setup"


@pytest.mark.parametrize("version", CHECKED_DVC_VERSIONS)
def test_pyproject_admits_every_dvc_the_bridge_was_checked_against(version):
    assert requirements()["dvc"].specifier.contains(version)


def test_pyproject_and_the_lock_admit_no_dvc_the_bridge_was_not_checked_against():
    checked = sorted(map(Version, CHECKED_DVC_VERSIONS))
    below = Version(f"{checked[0].major}.{checked[0].minor}.{checked[0].micro - 1}") if checked[0].micro else None
    above = Version(f"{checked[-1].major}.{checked[-1].minor}.{checked[-1].micro + 1}")
    specifier: SpecifierSet = requirements()["dvc"].specifier
    assert not specifier.contains(above) and (below is None or not specifier.contains(below)), specifier
    assert locked()["dvc"][0] in CHECKED_DVC_VERSIONS
