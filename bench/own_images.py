"""Your own images in minutes, measured: `python bench/own_images.py run|report`.

run     writes scikit-learn's 1,797 handwritten digits (8x8, ten classes) as a class-per-folder PNG tree, clones
        the committed repository into a scratch folder, and times the README's quick command for one's own
        images there (QUICK: `dvc exp run` with two noise levels, two thresholds, the default regime, one seed,
        no study) from an empty cache. Writes bench/out/own_images.json.
report  the line, from that file, between this script's markers in BENCHMARKS.md.
"""

from __future__ import annotations

import json
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


def run() -> None:
    with tempfile.TemporaryDirectory(prefix="labelsweep-own-") as tmp:
        images, clone = Path(tmp) / "digits", Path(tmp) / "repo"
        count = write_digits(images)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        command = ["dvc", "exp", "run", "-n", "quick", *QUICK, "-S", f"custom.data.path={images}"]
        start = time.time()
        status = subprocess.run(command, cwd=clone, env=ENV).returncode
        wall = time.time() - start
    shown = " ".join([*command[:-1], "custom.data.path=…"])  # the scratch folder's path means nothing later
    record = {"machine": machine(), "images": count, "command": shown, "wall_s": wall,
              "returncode": status}
    OUT.write_text(json.dumps(record, indent=2) + "\n")
    print(record)


def render() -> str:
    r = json.loads(OUT.read_text())
    m = r["machine"]
    return (f"scikit-learn's {r['images']:,} digits as an image folder, the README's quick command (`{r['command']}`) "
            f"in a fresh clone, empty cache: **{r['wall_s'] / 60:.1f} min** (exit status "
            f"{r['returncode']}); {m['cores']} cores, {m['cpu']}, measured {m['date']}.\n")


if __name__ == "__main__":
    command_line(__doc__, run, render, BEGIN, END)
