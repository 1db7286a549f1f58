"""Past one machine (issue 11), with DVC's own mechanisms only: a sweep shared through a DVC remote, a sweep
split over machines and collected from the run-cache, and queued experiments whose workers take a thread cap
from the environment of `dvc queue start`. docs/scaling.md shows the same commands and their output.

DVC 3 leaves a stage out of its run-cache when one of its `outs:` has `cache: false` (`Stage.run`, dvc/stage/
__init__.py; `metrics:` and `plots:` entries are exempt, but `dvc push` never uploads an uncached file, so another
machine could not restore them either). Only the plot stage, which fits no model, may have such outputs: the
collecting machine reruns it and commits them.

The sweeps here run every stage up to train_eval (`dvc repro train_eval`); the tests that run the plot stage and
check its outputs are kept apart at the end, under "The plot stage".
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from pathlib import Path

import pytest
import yaml

from labelsweep.datasets import DEBIAN_DIR as DEBIAN

from .conftest import (
    CHECK_STAGE,
    ROOT,
    UPTO,
    copy_project,
    dvc,
    is_plot,
    make_project,
    run,
    stages_run,
    tiny_fashion_params,
)

# Every test but the dvc.yaml check runs DVC on fresh repositories (module fixtures run `dvc repro`).
pytestmark = pytest.mark.slow

LEVELS = (0.0, 0.2)  # tiny_fashion_params' noise levels: one slice (one "machine") each
LEVEL_STAGES = ("inject_noise", "crossval_probs", "find_issues", "apply_prune_relabel", "train_eval")


def uncached_outs(pipeline: dict) -> list[tuple[str, str]]:
    """(stage, path) of every `outs:` entry with `cache: false`: such a stage never enters the run-cache."""
    found = []
    for name, stage in pipeline["stages"].items():
        for out in stage.get("outs", []):
            if isinstance(out, dict):
                ((path, options),) = out.items()
                if (options or {}).get("cache") is False:
                    found.append((name, path))
    return found


def new_project(dest: Path, remote: Path) -> Path:
    """The tiny Fashion-MNIST project with `remote`, a local folder, as its default DVC remote
    (`dvc remote add -d`, committed in .dvc/config like any setting the team shares)."""
    project = make_project(dest, tiny_fashion_params(yaml.safe_load((ROOT / "params.yaml").read_text())))
    dvc(project, "remote", "add", "-d", "shared", str(remote))
    commit(project, "shared remote")
    return project


def commit(project: Path, message: str) -> None:
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", message], project)


def clone(origin: Path, dest: Path) -> Path:
    """What a teammate or a CI runner starts from: the git history alone (no data/, no .dvc/cache)."""
    run(["git", "clone", "-q", str(origin), str(dest)], origin.parent)
    return dest


def output_hashes(project: Path) -> dict[str, str]:
    return {str(p.relative_to(project)): hashlib.md5(p.read_bytes()).hexdigest()
            for top in ("data", "metrics", "plots") for p in sorted((project / top).rglob("*")) if p.is_file()}


def timings(path: Path) -> list[dict]:
    """The LABELSWEEP_TIMINGS records: one per stage process that ran (none if no stage ran), but check_inputs',
    which runs on every repro (always_changed) and fits no model (asserted here)."""
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    assert all(r["fit_s"] == 0 for r in records if r.get("stage") == CHECK_STAGE)
    return [r for r in records if r.get("stage") != CHECK_STAGE]


def level_stages(level: float) -> set[str]:
    return {f"{stage}@fashion_mnist-{level}" for stage in LEVEL_STAGES}


def all_stages() -> set[str]:
    """Every stage up to train_eval (all but plot)."""
    return {"download@fashion_mnist"}.union(*(level_stages(level) for level in LEVELS))


def status(project: Path, plot: bool = False) -> set[str]:
    """The stages `dvc status` lists; the plot stage only with `plot` (never run here, it is always listed); never
    check_inputs, which is always_changed (it checks params.yaml on every repro, its output never changes)."""
    return {stage for stage in json.loads(dvc(project, "status", "--json").stdout)
            if stage != CHECK_STAGE and (plot or not is_plot(stage))}


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> dict:
    """The whole tiny sweep on one machine, its results committed: the reference, and the origin teammates clone."""
    if not DEBIAN.is_dir():
        pytest.skip(f"Fashion-MNIST files not in {DEBIAN}")
    tmp = tmp_path_factory.mktemp("single")
    project = new_project(tmp / "project", tmp / "remote")
    assert set(stages_run(dvc(project, "repro", UPTO).stdout)) == all_stages()
    commit(project, "results")
    return {"project": project, "remote": tmp / "remote", "hashes": output_hashes(project),
            "lock": yaml.safe_load((project / "dvc.lock").read_text())}


def test_no_stage_but_plot_is_kept_out_of_the_run_cache():
    """A `cache: false` out on a stage that fits models would make a collecting machine fit them again (plot and
    check_inputs fit none: check_inputs runs on every repro anyway, and writes the same line each time)."""
    assert {stage for stage, _ in uncached_outs(yaml.safe_load((ROOT / "dvc.yaml").read_text()))} <= {"plot",
                                                                                                    CHECK_STAGE}


def test_a_fresh_clone_pulls_the_results_from_the_remote_and_has_nothing_to_rerun(single, tmp_path):
    origin = single["project"]
    assert "files pushed" in dvc(origin, "push").stdout

    teammate = clone(origin, tmp_path / "teammate")
    # Without the remote's data a clone would rerun every stage: all of them are out of date.
    assert status(teammate) == all_stages()
    dvc(teammate, "pull")
    # After the pull only download lacks a dependency: data/fashion_mnist/source, which check_inputs makes (it
    # links the image folder, a path of this machine; Fashion-MNIST's is an empty placeholder) on every repro.
    assert status(teammate) <= {"download@fashion_mnist"}
    record = tmp_path / "timings.jsonl"
    assert stages_run(dvc(teammate, "repro", UPTO, LABELSWEEP_TIMINGS=str(record)).stdout) == []
    assert timings(record) == []  # no stage process started but check_inputs
    assert status(teammate) == set()
    assert output_hashes(teammate) == single["hashes"]


@pytest.fixture(scope="module")
def collected(tmp_path_factory) -> dict:
    """A sweep split over two worker machines (a clone each, one noise level each, their runs pushed to the
    run-cache of a shared remote), collected by a third clone with `dvc repro --pull train_eval`."""
    if not DEBIAN.is_dir():
        pytest.skip(f"Fashion-MNIST files not in {DEBIAN}")
    tmp = tmp_path_factory.mktemp("split")
    origin = new_project(tmp / "origin", tmp / "remote")  # an empty remote of its own
    ran = {}
    for level in LEVELS:  # each worker machine: its own clone, one noise level, its runs pushed
        worker = clone(origin, tmp / f"worker-{level}")
        ran[level] = stages_run(dvc(worker, "repro", "--glob", f"train_eval@*-{level}").stdout)
        dvc(worker, "push", "--run-cache")
    collector = clone(origin, tmp / "collector")
    record = tmp / "collector.jsonl"
    out = dvc(collector, "repro", "--pull", UPTO, LABELSWEEP_TIMINGS=str(record)).stdout
    return {"collector": collector, "ran": ran, "out": out, "records": timings(record)}


def test_a_sweep_split_over_two_machines_is_collected_from_the_run_cache_without_fitting_a_model(single, collected):
    for level in LEVELS:
        assert set(collected["ran"][level]) == level_stages(level) | {"download@fashion_mnist"}
    collector, out = collected["collector"], collected["out"]
    assert stages_run(out) == []  # every stage restored, none run
    restored = {line.split("'")[1] for line in out.splitlines() if line.endswith("is cached - skipping run, "
                                                                            "checking out outputs")}
    assert restored == all_stages()
    assert collected["records"] == []  # no stage process started but check_inputs: no model fitted

    # One dvc.lock for the whole sweep, equal to the single machine's; so are the outputs; nothing left to run.
    assert yaml.safe_load((collector / "dvc.lock").read_text()) == single["lock"]
    assert output_hashes(collector) == single["hashes"]
    assert status(collector) == set()


PROBE = """\
import json, os, sys
import torch
line = {"x": sys.argv[1], "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "threads": torch.get_num_threads()}
with open(os.environ["PROBE_LOG"], "a") as f:
    f.write(json.dumps(line) + "\\n")
open("threads.json", "w").write(json.dumps(line))
"""


def test_queue_workers_take_the_thread_cap_from_the_environment_of_queue_start(tmp_path):
    """`OMP_NUM_THREADS=1 dvc queue start -j 2`: both workers' stages see the variable and torch uses one thread.

    A worker inherits the environment of the `dvc queue start` that spawned it (dvc_task's ManagedProcess, no
    env= of its own); one still alive from an earlier start keeps its own environment (docs/scaling.md).
    """
    project = tmp_path / "probe"
    project.mkdir()
    run(["git", "init", "-q", "-b", "main"], project)
    run(["git", "config", "user.email", "test@example.com"], project)
    run(["git", "config", "user.name", "test"], project)
    dvc(project, "init", "-q")
    (project / "probe.py").write_text(PROBE)
    (project / "params.yaml").write_text("x: 0\n")
    (project / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"probe": {
        "cmd": "python probe.py ${x}", "deps": ["probe.py"], "params": ["x"], "outs": ["threads.json"]}}}))
    commit(project, "probe")
    for x in (1, 2):
        dvc(project, "exp", "run", "--queue", "-S", f"x={x}")
    log = tmp_path / "probe.jsonl"
    assert "Started '2' new" in dvc(project, "queue", "start", "-j", "2", OMP_NUM_THREADS="1",
                                    PROBE_LOG=str(log)).stdout
    try:
        deadline = time.monotonic() + 180
        while re.search(r"\b(Queued|Running)\b", dvc(project, "queue", "status").stdout):
            assert time.monotonic() < deadline, "the queued experiments did not finish in 3 minutes"
            time.sleep(2)
    finally:  # idle workers leave by themselves 10 s after the queue empties; don't leave them to it
        dvc(project, "queue", "stop", check=False)
    assert sorted(timings(log), key=lambda line: line["x"]) == [
        {"x": str(x), "OMP_NUM_THREADS": "1", "threads": 1} for x in (1, 2)]


# ---------------------------------------------------------------------------------------------------------------
# The plot stage: the tests below are the only ones in this file that run it (on copies of the sweeps above) and
# check its outputs and how they travel.
# ---------------------------------------------------------------------------------------------------------------


def test_plot_outputs_travel_in_git_never_to_the_remote(single, tmp_path):
    """The plot stage's `cache: false` outputs (figures and tables) are committed in git and never pushed (but a copy
    of a cached file, plots/<dataset>/data.json of data/<dataset>/summary.json, is there as that file); a clone that
    pulls has everything, plots included, and nothing to rerun."""
    project = copy_project(single["project"], tmp_path / "project")
    dvc(project, "remote", "modify", "shared", "url", str(tmp_path / "remote"))
    assert stages_run(dvc(project, "repro").stdout) == ["plot@fashion_mnist"]
    commit(project, "plots")
    dvc(project, "push")
    hashes = output_hashes(project)
    teammate = clone(project, tmp_path / "teammate")
    dvc(teammate, "pull")
    assert status(teammate, plot=True) <= {"download@fashion_mnist"}  # its source link: check_inputs makes it
    assert stages_run(dvc(teammate, "repro").stdout) == []
    assert status(teammate, plot=True) == set()
    assert output_hashes(teammate) == hashes
    pushed = {p.parent.name + p.name for p in (tmp_path / "remote" / "files" / "md5").rglob("*") if p.is_file()}
    cached = {digest for path, digest in hashes.items() if path.startswith("data/")}
    outs = yaml.safe_load((project / "dvc.lock").read_text())["stages"]["plot@fashion_mnist"]["outs"]
    own = [out for out in outs if out["md5"] not in cached]
    assert own and not any(out["md5"] in pushed for out in own)
    assert {out["path"] for out in outs} <= set(run(["git", "ls-files", "plots", "metrics"], teammate).stdout.split())


def test_plot_is_the_only_stage_a_collecting_machine_runs(collected, tmp_path):
    """After collecting the split sweep from the run-cache, a full `dvc repro --pull` runs only the plot stage (the
    one with `cache: false` outputs), which fits no model."""
    collector = copy_project(collected["collector"], tmp_path / "collector")
    record = tmp_path / "plot.jsonl"
    out = dvc(collector, "repro", "--pull", LABELSWEEP_TIMINGS=str(record)).stdout
    assert stages_run(out) == ["plot@fashion_mnist"]
    records = timings(record)
    assert [r["stage"] for r in records] == ["plot"] and all(r["fit_s"] == 0 for r in records)
    assert status(collector, plot=True) == set()
