"""dvc_scalar_grid: `dvc exp run -S noise=0.3` on a matrix over `${noise}` works, as the list form `noise=[0.3]`.

The end-to-end tests run the venv's real `dvc` on a toy git + DVC project (not the real pipeline), which
needs the bridge's .pth in the venv: `make setup` installs it (`python -m dvc_scalar_grid install`).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

import dvc_scalar_grid as bridge

BIN = Path(sys.executable).parent
DVC = str(BIN / "dvc")
WRITE = "python -c \"import sys; open(sys.argv[1], 'w').write(sys.argv[2])\""
TOY_DVC_YAML = f"""\
stages:
  toy:
    matrix:
      dataset: ${{datasets}}
      noise: ${{noise}}
    cmd: {WRITE} toy_${{item.dataset}}_${{item.noise}}.txt ${{item.noise}}
    outs:
      - toy_${{item.dataset}}_${{item.noise}}.txt
  gate:
    matrix:
      noise: ${{noise}}
      threshold: ${{thresholds}}
    cmd: {WRITE} gate_${{item.noise}}_${{item.threshold}}.txt ${{item.threshold}}
    outs:
      - gate_${{item.noise}}_${{item.threshold}}.txt
"""
TOY_PARAMS = "datasets: [a]\nnoise: [0.0, 0.1]\nthresholds: [0.0, 1.0]\n"


def run(cmd: list[str], cwd: Path, check: bool = True, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != bridge.DISABLE_ENV}
    # The venv's python and dvc first on PATH: the stages call `python`, DVC's queue workers call `dvc`.
    environ.update(PATH=f"{BIN}{os.pathsep}{environ['PATH']}", DVC_NO_ANALYTICS="1", **env)
    result = subprocess.run(cmd, cwd=cwd, env=environ, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"{cmd} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def stages_run(output: str) -> list[str]:
    return [line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")]


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    project = tmp_path_factory.mktemp("toy") / "template"
    project.mkdir()
    (project / "dvc.yaml").write_text(TOY_DVC_YAML)
    (project / "params.yaml").write_text(TOY_PARAMS)
    run(["git", "init", "-q", "-b", "main"], project)
    run(["git", "config", "user.email", "test@example.com"], project)
    run(["git", "config", "user.name", "test"], project)
    run([DVC, "init", "-q"], project)
    run([DVC, "config", "core.analytics", "false"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "toy"], project)
    return project


@pytest.fixture
def toy(template, tmp_path) -> Path:
    return Path(shutil.copytree(template, tmp_path / "toy", symlinks=True))


def test_pth_installed():
    pth = Path(bridge._site_packages()) / bridge.PTH_NAME
    assert pth.is_file(), f"{pth} missing: run `make setup` (or `python -m dvc_scalar_grid install`)"
    assert pth.read_text() == bridge.PTH_LINE


@pytest.mark.slow
def test_scalar_override_runs_like_list_form(toy, tmp_path):
    listed = Path(shutil.copytree(toy, tmp_path / "listed", symlinks=True))
    as_list = run([DVC, "exp", "run", "-S", "noise=[0.3]"], listed)
    result = run(["dvc", "exp", "run", "-S", "noise=0.3"], toy)  # exactly as a user types it
    assert result.returncode == 0
    assert stages_run(result.stdout) == stages_run(as_list.stdout) == ["toy@a-0.3", "gate@0.3-0.0", "gate@0.3-1.0"]
    for out in ("toy_a_0.3.txt", "gate_0.3_0.0.txt", "gate_0.3_1.0.txt"):
        assert (toy / out).read_text() == (listed / out).read_text()
    assert (toy / "toy_a_0.3.txt").read_text() == "0.3"
    assert (toy / "dvc.lock").read_text() == (listed / "dvc.lock").read_text()
    assert "noise: 0.3\n" in (toy / "params.yaml").read_text()  # DVC wrote the scalar, the bridge read it

    # params.yaml now holds a scalar: other commands and entry points (python -m dvc) read it too...
    assert "up to date" in run([sys.executable, "-m", "dvc", "status"], toy).stdout
    # ...and without the bridge DVC 3.67.1 crashes on it. If this starts passing, DVC handles scalars itself
    # and dvc_scalar_grid.py can go.
    off = run([DVC, "status"], toy, check=False, **{bridge.DISABLE_ENV: "0"})
    assert off.returncode == 255 and "'Value' object is not iterable" in off.stderr


@pytest.mark.slow
def test_scalar_for_second_matrix_key(toy):
    result = run(["dvc", "exp", "run", "-S", "thresholds=0.5"], toy)
    assert stages_run(result.stdout) == ["toy@a-0.0", "toy@a-0.1", "gate@0.0-0.5", "gate@0.1-0.5"]
    assert (toy / "gate_0.1_0.5.txt").read_text() == "0.5"


@pytest.mark.slow
def test_hand_edited_scalar_with_repro_and_temp(toy):
    (toy / "params.yaml").write_text(TOY_PARAMS.replace("[0.0, 0.1]", "0.2"))
    assert stages_run(run([DVC, "repro"], toy).stdout) == ["toy@a-0.2", "gate@0.2-0.0", "gate@0.2-1.0"]
    temp = run([DVC, "exp", "run", "--temp", "-S", "noise=0.4"], toy)  # a copy under .dvc/tmp/exps
    assert stages_run(temp.stdout) == ["toy@a-0.4", "gate@0.4-0.0", "gate@0.4-1.0"]


@pytest.mark.slow
def test_queue_sweep_queues_one_experiment_per_level(toy):
    run(["dvc", "exp", "run", "--queue", "-S", "noise=0.1,0.2"], toy)
    try:
        status = run([DVC, "queue", "status"], toy).stdout
        assert sum(line.split()[-1] == "Queued" for line in status.splitlines() if line.strip()) == 2, status
        shown = json.loads(run([DVC, "exp", "show", "--json"], toy).stdout)
        exps = [exp for baseline in shown for exp in baseline.get("experiments") or []]
        queued = [exp["revs"][0]["data"] for exp in exps if (exp.get("executor") or {}).get("state") == "queued"]
        levels = sorted(data["params"]["params.yaml"]["data"]["noise"] for data in queued)
        assert levels == [0.1, 0.2]
    finally:
        run([DVC, "queue", "remove", "--all"], toy)
    assert "Queued" not in run([DVC, "queue", "status"], toy).stdout


@pytest.mark.slow
def test_queued_scalar_runs_in_queue_worker(toy):
    # DVC 3.67.1 runs queued experiments in `dvc exp queue-worker` + `dvc exp exec-run` processes.
    run([DVC, "exp", "run", "--queue", "-S", "noise=0.2"], toy)
    try:
        result = run([DVC, "exp", "run", "--run-all"], toy)
    finally:
        run([DVC, "queue", "stop"], toy, check=False)
    assert stages_run(result.stdout) == ["toy@a-0.2", "gate@0.2-0.0", "gate@0.2-1.0"]
    assert "Success" in run([DVC, "queue", "status"], toy).stdout


def test_other_python_processes_do_not_load_the_bridge(tmp_path):
    # No "dvc" on this command line: the .pth line stops at its string test, nothing is imported.
    code = "import sys; print(sorted(m for m in sys.modules if m.startswith(('labelsweep', 'd' + 'vc'))))"
    assert run([sys.executable, "-c", code], tmp_path).stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["/v/bin/python", "/v/bin/dvc", "exp", "run"], True),  # console script (also queue-worker, exec-run)
        (["/v/bin/python", "-m", "dvc", "exp", "run"], True),
        (["python", "-X", "utf8", "-Wignore", "-m", "dvc.__main__", "repro"], True),
        (["/v/bin/python", "/v/lib/site-packages/dvc/__main__.py", "daemon", "updater"], True),  # DVC's daemons
        (["python", "-m", "stages.inject_noise", "--raw", "data/dvc"], False),
        (["python", "-c", "import dvc"], False),
        (["python", "-m", "dvc_scalar_grid", "install"], False),
        (["python", "tests/test_dvc_bridge.py"], False),
        (["/v/bin/python", "/v/bin/pytest", "-k", "dvc"], False),
        (["python"], False),
    ],
)
def test_is_dvc_process(argv, expected):
    assert bridge.is_dvc_process(argv) is expected


DROP = object()


def _dvc_parsing_lookalike(**changes) -> types.SimpleNamespace:
    """A stand-in for dvc.parsing: copies of its MatrixDefinition and context, with `changes` (DROP: removed)."""
    from dvc.parsing import MatrixDefinition, context

    attrs = {k: v for k, v in vars(MatrixDefinition).items() if k not in ("__dict__", "__weakref__")}
    ctx = {"Value": context.Value, "CtxList": context.CtxList}
    for name, value in changes.items():
        target = ctx if name in ctx else attrs
        if value is DROP:
            del target[name]
        else:
            target[name] = value
    return types.SimpleNamespace(
        MatrixDefinition=type("MatrixDefinition", (), attrs), context=types.SimpleNamespace(**ctx)
    )


def test_patch_turns_a_scalar_into_the_list_form():
    from dvc.parsing.context import CtxList, Meta, Value

    parsing = _dvc_parsing_lookalike()
    meta = Meta(source="params.yaml", dpaths=["noise"])
    scalar, listed = Value(0.3, meta=meta), CtxList([0.1, 0.2], meta=meta)

    def original(self):
        return {"noise": scalar, "dataset": listed}

    matrix = parsing.MatrixDefinition
    matrix._resolve_matrix_data = original
    bridge.install(parsing)
    bridge.install(parsing)  # idempotent: one wrapper only
    assert matrix._resolve_matrix_data.__wrapped__ is original
    resolved = matrix._resolve_matrix_data(object())
    assert resolved["dataset"] is listed
    assert isinstance(resolved["noise"], CtxList) and resolved["noise"].value == [0.3]
    # the same node the list form `noise: [0.3]` resolves to, down to where it came from
    assert resolved["noise"][0].meta == CtxList([0.3], meta=meta)[0].meta

    unchanged = {"dataset": listed}  # no scalar: DVC's own object comes back
    parsing = _dvc_parsing_lookalike(_resolve_matrix_data=lambda self: unchanged)
    bridge.install(parsing)
    assert parsing.MatrixDefinition._resolve_matrix_data(object()) is unchanged


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        (None, "MatrixDefinition is missing"),
        ({"_resolve_matrix_data": DROP}, "_resolve_matrix_data(self) is missing"),
        ({"_resolve_matrix_data": lambda self, strict: {}}, "_resolve_matrix_data(self) is missing or has another"),
        ({"resolved_iterable": property(lambda self: {})}, "resolved_iterable is no longer a cached property"),
        ({"normalized_iterable": DROP}, "normalized_iterable is no longer a cached property"),
        ({"Value": DROP}, "context.Value is missing"),
        ({"CtxList": list}, "CtxList(values, meta) is missing"),
    ],
)
def test_fails_loudly_when_dvc_changes(changes, message, capsys):
    parsing = types.SimpleNamespace() if changes is None else _dvc_parsing_lookalike(**changes)
    with pytest.raises(bridge.BridgeError, match="checked against DVC 3.67.1") as error:
        bridge.install(parsing)
    assert message in str(error.value) and "\n" not in str(error.value)
    with pytest.raises(SystemExit) as exited:  # what a DVC process does with it: one line, exit status 2
        bridge._install_or_exit(parsing)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("ERROR: dvc_scalar_grid: ") and err.count("\n") == 1


@pytest.mark.slow
def test_real_dvc_process_fails_loudly(tmp_path):
    # A DVC whose MatrixDefinition lost the method: the `dvc` command stops with one line and status 2.
    code = (
        "import sys, dvc.parsing, dvc_scalar_grid\n"
        "del dvc.parsing.MatrixDefinition._resolve_matrix_data\n"
        "dvc_scalar_grid.activate([sys.executable, '/venv/bin/dvc', 'status'])\n"
        "from dvc.cli import main; sys.exit(main(['status']))\n"
    )
    result = run([sys.executable, "-c", code], tmp_path, check=False)
    assert result.returncode == 2
    assert result.stderr.startswith("ERROR: dvc_scalar_grid: MatrixDefinition._resolve_matrix_data(self) is missing")
    assert result.stderr.count("\n") == 1


def test_import_hook_patches_dvc_parsing_on_import(tmp_path):
    code = (
        "import sys, dvc_scalar_grid\n"
        "assert 'dvc.parsing' not in sys.modules\n"
        "assert dvc_scalar_grid.activate([sys.executable, '-m', 'dvc', 'repro'])\n"
        "from dvc.parsing import MatrixDefinition\n"
        "print(MatrixDefinition._resolve_matrix_data.__wrapped__.__module__)\n"
    )
    assert run([sys.executable, "-c", code], tmp_path).stdout.strip() == "dvc.parsing"


def test_install_pth_is_idempotent(tmp_path, monkeypatch):
    monkeypatch.setattr(bridge, "_site_packages", lambda: str(tmp_path))
    assert bridge.install_pth(check=False) == str(tmp_path / bridge.PTH_NAME)
    assert bridge.install_pth(check=False) is None
    assert (tmp_path / bridge.PTH_NAME).read_text() == bridge.PTH_LINE
    assert bridge.main(["uninstall"]) == 0 and not (tmp_path / bridge.PTH_NAME).exists()
