"""Your own images in minutes, measured: `python bench/own_images.py run|report`.

run     writes scikit-learn's 1,797 handwritten digits (8x8, ten classes) as a class-per-folder PNG tree, clones
        the committed repository into a scratch folder, and times the README's quick command for one's own
        images there (QUICK: `dvc exp run` with two noise levels, two thresholds, the default regime, one seed,
        no study) from an empty cache. Writes bench/out/own_images.json.
should-clean  times `python -m labelsweep.tooling.should_clean <digits>` (10 seeds) the same way, in a fresh
        clone from an empty cache; writes bench/out/should_clean.json, with the machine's load average at the start
        (other work sharing the cores makes it slower).
report  the lines, from those files, between this script's markers in BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.report import command_line  # noqa: E402
from bench.run import ENV, machine  # noqa: E402

OUT = ROOT / "bench" / "out" / "own_images.json"
SHOULD_CLEAN = ROOT / "bench" / "out" / "should_clean.json"
BEGIN, END = "<!-- bench/own_images.py report: begin -->", "<!-- bench/own_images.py report: end -->"
# The README's quick first look at one's own images (`custom.data.path` added per folder).
QUICK = ["-S", "datasets=[custom]", "-S", "noise=[0.0, 0.3]", "-S", "thresholds=[0.0, 1.0]",
         "-S", "runs.regimes=[default]", "-S", "runs.seeds=[0]", "-S", "study=null"]


def write_digits(folder: Path) -> int:
    from PIL import Image
    from sklearn.datasets import load_digits

    digits = load_digits()
    for i, (image, label) in enumerate(zip(digits.images, digits.target)):
        (folder / str(label)).mkdir(parents=True, exist_ok=True)
        Image.fromarray((image * 255 / 16).astype("uint8")).save(folder / str(label) / f"{i:04d}.png")
    return len(digits.target)


def timed(command: list[str], shown: str, out: Path) -> None:
    """Run `command` ("{images}" in an item: the digits' folder) in a fresh clone with the digits written out."""
    with tempfile.TemporaryDirectory(prefix="labelsweep-own-") as tmp:
        images, clone = Path(tmp) / "digits", Path(tmp) / "repo"
        count = write_digits(images)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        load = os.getloadavg()[0]
        start = time.time()
        status = subprocess.run([arg.format(images=images) for arg in command], cwd=clone, env=ENV).returncode
        wall = time.time() - start
    record = {"machine": machine(), "images": count, "command": shown, "wall_s": wall, "returncode": status,
              "load_at_start": round(load, 1)}
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(record)


def run() -> None:
    command = ["dvc", "exp", "run", "-n", "quick", *QUICK, "-S"]
    timed([*command, "custom.data.path={images}"], " ".join([*command, "custom.data.path=…"]), OUT)


def should_clean() -> None:
    command = [sys.executable, "-m", "labelsweep.tooling.should_clean", "{images}", "--seeds", "10"]
    timed(command, "python -m labelsweep.tooling.should_clean <folder> --seeds 10", SHOULD_CLEAN)


def render() -> str:
    r = json.loads(OUT.read_text())
    m = r["machine"]
    return (f"scikit-learn's {r['images']:,} digits as an image folder, the README's quick command (`{r['command']}`) "
            f"in a fresh clone, empty cache: **{r['wall_s'] / 60:.1f} min** (exit status "
            f"{r['returncode']}); {m['cores']} cores, {m['cpu']}, measured {m['date']}.\n" + should_clean_row())


def should_clean_row() -> str:
    if not SHOULD_CLEAN.is_file():
        return ""
    r = json.loads(SHOULD_CLEAN.read_text())
    m = r["machine"]
    return (f"\nShould I clean: the same {r['images']:,} digits, `{r['command']}` in a fresh clone, empty cache: "
            f"**{r['wall_s'] / 60:.1f} min** (exit status {r['returncode']}; target ≤ 10 min); {m['cores']} cores, "
            f"{m['cpu']}, load average {r['load_at_start']} at the start, measured {m['date']}.\n")


if __name__ == "__main__":
    if sys.argv[1:] == ["should-clean"]:
        should_clean()
    else:
        command_line(__doc__, run, render, BEGIN, END)
