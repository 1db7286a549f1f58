"""End to end: the real pipeline on a tiny configuration, in a temporary git + DVC copy of the project."""

import hashlib
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from .conftest import BIN, dvc, make_project, run, stage_env, stages_run, tiny_fashion_params
from .test_datasets import DEBIAN, make_image_folder

pytestmark = pytest.mark.skipif(not DEBIAN.is_dir(), reason=f"Fashion-MNIST files not in {DEBIAN}")


def output_hashes(project: Path) -> dict[str, str]:
    return {
        str(p.relative_to(project)): hashlib.md5(p.read_bytes()).hexdigest()
        for top in ("data", "metrics", "plots")
        for p in sorted((project / top).rglob("*"))
        if p.is_file() and p.name != ".gitignore"  # DVC's own bookkeeping, not an output
    }


@pytest.fixture(scope="module")
def fashion(tmp_path_factory):
    params = tiny_fashion_params(yaml.safe_load((Path(__file__).parent.parent / "params.yaml").read_text()))
    project = make_project(tmp_path_factory.mktemp("fashion"), params)
    ran = stages_run(dvc(project, "repro").stdout)
    hashes = output_hashes(project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "results"], project)
    return project, params, ran, hashes


def test_every_stage_ran_once_and_outputs_are_sane(fashion):
    project, params, ran, _ = fashion
    assert len(ran) == len(set(ran)) == 1 + 2 * 3 + 2 * 2 * 2 + 2 + 1
    metrics = project / "metrics" / "fashion_mnist"
    for level in (0.0, 0.2):
        for cell in ("baseline", "prune_0.0", "prune_1.0"):
            accuracy = json.loads((metrics / f"accuracy/noise_{level}_{cell}.json").read_text())["test_accuracy"]
            assert 0.4 < accuracy <= 1  # 1 epoch on 2,000 samples: well above chance (0.1)
    detection = json.loads((metrics / "detection/noise_0.2.json").read_text())
    assert detection["injected"] == 400
    assert 0 < detection["flagged"] < 2000 and 0 < detection["recall"] <= 1 and 0.5 < detection["auroc"] <= 1
    table = (project / "data/fashion_mnist/issues/noise_0.2/label_issues.csv").read_text().splitlines()
    assert table[0] == "sample_id,original_label,given_label,label_quality,flagged,suggested_label"
    assert len(table) == 2001
    assert sum(row.split(",")[4] == "1" for row in table[1:]) == detection["flagged"]
    for figure in ("accuracy_vs_noise", "flagged_vs_injected", "accuracy_by_threshold", "gallery"):
        assert (project / "plots/fashion_mnist" / f"{figure}.png").read_bytes()[:4] == b"\x89PNG"
    rows = (project / "plots/fashion_mnist/accuracy_by_threshold.csv").read_text().splitlines()
    assert rows[0] == "noise_level,baseline,prune_0.0,prune_1.0" and len(rows) == 3


def test_a_second_repro_runs_nothing(fashion):
    project = fashion[0]
    result = dvc(project, "repro")
    assert stages_run(result.stdout) == []
    assert "up to date" in dvc(project, "status").stdout


def test_dag_and_plots_show_work(fashion):
    project = fashion[0]
    assert "train_eval@fashion_mnist-0.2-1.0" in dvc(project, "dag").stdout
    dvc(project, "plots", "show", "-o", "plots_html")
    assert (project / "plots_html" / "index.html").is_file()


def test_exp_run_with_one_more_level_runs_only_that_level_and_metrics_diff_lists_it(fashion):
    project = fashion[0]
    result = dvc(project, "exp", "run", "-S", "noise=[0.0, 0.2, 0.1]")
    expected = {"inject_noise@fashion_mnist-0.1", "crossval_probs@fashion_mnist-0.1", "find_issues@fashion_mnist-0.1",
                "apply_prune_relabel@fashion_mnist-0.1-0.0", "apply_prune_relabel@fashion_mnist-0.1-1.0",
                "train_eval@fashion_mnist-0.1-0.0", "train_eval@fashion_mnist-0.1-1.0",
                "train_eval_baseline@fashion_mnist-0.1", "plot@fashion_mnist"}
    assert set(stages_run(result.stdout)) == expected
    assert "noise" in dvc(project, "exp", "show", "--no-pager", "--csv").stdout
    run(["git", "checkout", "-qb", "more-noise"], project)
    run(["git", "add", "-A"], project)
    run(["git", "commit", "-qm", "noise 0.1 added"], project)
    diff = json.loads(dvc(project, "metrics", "diff", "main", "--json").stdout)
    changed = {path for path, keys in diff.items() if keys}
    assert "metrics/fashion_mnist/accuracy/noise_0.1_prune_1.0.json" in changed
    assert "test_accuracy" in diff["metrics/fashion_mnist/accuracy/noise_0.1_prune_1.0.json"]
    assert not any("noise_0.2" in path for path in changed)  # untouched cells keep their numbers


def find_stage_process(script: str, project: Path, timeout: float = 120) -> int:
    """The Python process running `script` in `project` (not the shell DVC may start it through:
    with SHELL unset DVC uses /bin/sh, and dash does not exec its command)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
                if (Path(argv[0]).name.startswith("python") and any(a.endswith(script) for a in argv)
                        and os.readlink(f"/proc/{pid}/cwd") == str(project)):
                    return int(pid)
            except (OSError, IndexError):
                continue
        time.sleep(0.05)
    raise AssertionError(f"{script} never started")


def kill_after(marker: str, pid: int, output: list[str], timeout: float = 300) -> None:
    """SIGKILL `pid` once `marker` is in its output, in the middle of the work the marker announces.

    The process runs in 20 ms slices between SIGSTOPs, and the marker is looked for while it is stopped, so it
    is killed at most one slice after printing the marker however fast or loaded the machine is."""
    deadline = time.time() + timeout
    try:
        while time.time() < deadline:
            os.kill(pid, signal.SIGSTOP)
            time.sleep(0.1)  # the reader thread drains what the process wrote before it stopped
            if marker in "".join(output):
                return
            os.kill(pid, signal.SIGCONT)
            time.sleep(0.02)
        raise AssertionError(f"{marker!r} never appeared in the output")
    finally:
        os.kill(pid, signal.SIGKILL)


def test_a_killed_stage_leaves_nothing_finished_and_the_rerun_matches_an_uninterrupted_run(fashion, tmp_path):
    _, params, _, uninterrupted = fashion
    project = make_project(tmp_path / "copy", params)
    repro = subprocess.Popen([str(BIN / "dvc"), "repro"], cwd=project, env=stage_env(project),
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(iter(lambda: repro.stdout.read(1), "")), daemon=True)
    reader.start()
    pid = find_stage_process("stages/crossval_probs.py", project)
    kill_after("fold 1/2", pid, output)  # the first fold's progress bar: the stage is fitting
    assert repro.wait(timeout=300) != 0
    reader.join(timeout=10)
    assert not list((project / "data/fashion_mnist").glob("pred_probs/*.npy")), "".join(output)
    dvc(project, "repro")
    assert output_hashes(project) == uninterrupted  # byte-identical, every stage
    assert not list(project.rglob("*.tmp-*"))


def test_an_image_folder_dataset_end_to_end(tmp_path, params):
    images = make_image_folder(tmp_path / "images", classes=("one", "two", "three"), per_class=16, size=(20, 14))
    params.update(datasets=["custom"], noise=[0.0, 0.2], thresholds=[0.0, 1.0])
    params["cleanlab"]["folds"] = 2
    params["custom"]["data"].update(path=str(images), image_size=12, test_share=0.25)
    params["custom"]["train"].update(epochs=3, width=4, batch_size=8)
    project = make_project(tmp_path / "project", params)
    dvc(project, "repro")
    metrics = project / "metrics" / "custom"
    accuracy = json.loads((metrics / "accuracy/noise_0.0_baseline.json").read_text())["test_accuracy"]
    assert 0 <= accuracy <= 1
    assert json.loads((metrics / "detection/noise_0.2.json").read_text())["injected"] == round(0.2 * 36)
    table = (project / "data/custom/issues/noise_0.0/label_issues.csv").read_text().splitlines()
    assert len(table) == 37 and table[1].split(",")[0] == "one/0.png"  # path relative to the dataset root
    assert (project / "plots/custom/gallery.png").is_file()
