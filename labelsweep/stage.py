"""What every stage script shares around its body: clear errors and optional timing records.

A stage's ``main`` raises :class:`~labelsweep.errors.ConfigError` or :class:`~labelsweep.errors.DataError`
for anything a person must fix; :func:`run` turns those into one line on stderr and exit status 2 instead
of a traceback. When ``LABELSWEEP_TIMINGS`` names a file, one JSON line per stage process is appended to it
(wall time since the process started, time spent fitting models, peak memory): ``bench/run.py`` reads
them to split a sweep's time into model fitting, the work each stage exists for, and the fixed
cost around it (interpreter start-up, imports, loading inputs, DVC's bookkeeping).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from labelsweep.checks import check_level
from labelsweep.config import Params, load_params
from labelsweep.errors import ConfigError, DataError

# Every option of the stages, with its help: dvc.yaml's cmd lines pass them, each stage names those it takes.
OPTIONS = {
    "dataset": "a dataset name with a section in params.yaml",
    "noise-level": "the noise level (one of params.yaml `noise`) whose runs this stage handles",
    "raw": "the download stage's folder",
    "noisy": "the inject_noise stage's folder (plot: the folder of its folders, one per level)",
    "pred-probs": "the crossval_probs stage's folder",
    "issues": "the find_issues stage's folder (plot: the folder of its folders, one per level)",
    "cleaned": "the apply_prune_relabel stage's folder",
    "summary": "the download stage's summary of the data (JSON)",
    "results": "the dataset's folder with accuracy/ and detection/",
    "out": "output folder",
    "detection": "output JSON with the detection metrics",
    "predictions": "output .npy: test predictions, one row per cell",
    "accuracy": "output CSV: one row per cell",
    "metrics": "output JSON: the headline metrics",
}


def arguments(doc: str, *options: str, help: dict[str, str] | None = None) -> tuple[argparse.Namespace, Params]:
    """The stage's command line (each of `options` required, helped from OPTIONS or `help`) and params.yaml,
    checked before any data is read: the settings (for `--dataset`, that it is one of `datasets`), then a
    `--noise-level` from the command line."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for option in options:
        parser.add_argument(f"--{option}", required=True, type=float if option == "noise-level" else str,
                            help={**OPTIONS, **(help or {})}[option])
    args = parser.parse_args()
    params = load_params(getattr(args, "dataset", None))
    if "noise-level" in options:
        args.noise_level = check_level(args.noise_level, "noise-level", upper_inclusive=False)
    return args, params


fit_seconds = 0.0  # time inside model fitting (`with fitting():` around labelsweep.training.fit)
work_seconds = 0.0  # time inside the work a stage exists for (fitting included)


@contextmanager
def work() -> Iterator[None]:
    """Count the time of the enclosed block as the stage's own work (for the benchmark)."""
    global work_seconds
    start = time.perf_counter()
    try:
        yield
    finally:
        work_seconds += time.perf_counter() - start


@contextmanager
def fitting() -> Iterator[None]:
    """Count the time of the enclosed block as model fitting (part of the stage's work), for the benchmark."""
    global fit_seconds
    start = time.perf_counter()
    try:
        with work():
            yield
    finally:
        fit_seconds += time.perf_counter() - start


def _seconds_since_process_start() -> float:
    # /proc gives the true start, so interpreter start-up and imports are counted too.
    try:
        start_ticks = int(open("/proc/self/stat").read().rsplit(")", 1)[1].split()[19])
        uptime = float(open("/proc/uptime").read().split()[0])
        return uptime - start_ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return time.process_time()


def writer(path: str, dvc_yaml: Path = Path("dvc.yaml")) -> str | None:
    """The stage of dvc.yaml whose output holds `path` (a `${...}` in an output matches any one path part)."""
    import yaml

    try:
        stages = yaml.safe_load(dvc_yaml.read_text())["stages"]
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    rel = os.path.relpath(path, dvc_yaml.parent)
    for name, stage in stages.items():
        for out in stage.get("outs") or []:
            out = next(iter(out)) if isinstance(out, dict) else out
            pattern = "[^/]+".join(map(re.escape, re.split(r"\$\{[^}]*\}", out)))
            if re.fullmatch(pattern + "(/.*)?", rel):
                return name
    return None


def missing_input(err: OSError) -> str:
    """The one line for an input a stage cannot read: its path and the stage of dvc.yaml that writes it."""
    line = f"{err.filename} is missing or unreadable ({err.strerror})"
    name = writer(str(err.filename))
    return line + (f": it is written by stage {name} of dvc.yaml; run `dvc repro {name}` (`dvc status` lists what "
                   "is out of date)" if name else "")


def run(main: Callable[[], None]) -> None:
    """Run a stage's `main`, turning setting and data errors into a one-line message and exit 2, and
    Ctrl-C into one line and exit 130 (outputs are renamed into place only when complete, so an
    interrupted stage leaves nothing DVC would trust)."""
    status = 0
    try:
        main()
    except (ConfigError, DataError) as err:
        print(f"error: {err}", file=sys.stderr)
        status = 2
    except (FileNotFoundError, PermissionError, NotADirectoryError) as err:
        if err.filename is None:
            raise
        print(f"error: {missing_input(err)}", file=sys.stderr)
        status = 2
    except KeyboardInterrupt:
        print(f"interrupted: {os.path.basename(sys.argv[0]).removesuffix('.py')} stopped, nothing written",
              file=sys.stderr)
        status = 130
    finally:
        record = os.environ.get("LABELSWEEP_TIMINGS")
        if record:
            line = {
                "stage": os.path.basename(sys.argv[0]).removesuffix(".py"),
                "args": sys.argv[1:],
                "wall_s": round(_seconds_since_process_start(), 3),
                "fit_s": round(fit_seconds, 3),
                "work_s": round(work_seconds, 3),
                "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "end": time.time(),
            }
            with open(record, "a") as f:
                f.write(json.dumps(line) + "\n")
    # Every output is already renamed into place and closed. Skipping the interpreter's tear-down
    # saves ~0.7 s per process once torch is imported, and a sweep runs hundreds of them.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
