"""Deduplication of image folders by decoded pixels: which copy is kept, conflicting labels, test leakage,
and what the download stage writes about it; its refusal of a one-class folder."""

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, PngImagePlugin

from labelsweep import datasets
from labelsweep.config import Data
from labelsweep.errors import DataError

from .conftest import ROOT
from .test_datasets import image_data

_spec = importlib.util.spec_from_file_location("download_stage", ROOT / "stages" / "download.py")
download = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(download)

RNG = np.random.default_rng(7)


def noise() -> np.ndarray:
    """A random 10 x 7 RGB picture: no two are equal, and none resizes like another."""
    return RNG.integers(0, 256, size=(7, 10, 3), dtype=np.uint8)


def save(path: Path, pixels: np.ndarray, mode: str = "RGB", **options) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path, **options)


def metadata() -> PngImagePlugin.PngInfo:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", "re-saved copy")  # changes the file's bytes, not its pixels
    return info


SAME, MAJORITY, TIE, TWIN = noise(), noise(), noise(), noise()
GREY = np.repeat(RNG.integers(0, 256, size=(7, 10, 1), dtype=np.uint8), 3, axis=2)
FLAT = np.full((8, 8, 3), 100, np.uint8)
CHECKER = np.where((np.indices((8, 8)).sum(0) % 2 == 0)[..., None], 101, 99).astype(np.uint8).repeat(3, axis=2)
UNIQUE_TRAIN = [f"{split}/{c}/u{i}.png" for split in ("train", "val") for c in "abc" for i in range(3)]
UNIQUE_TEST = [f"test/{c}/u{i}.png" for c in "abc" for i in range(2)]
# What survives: every unique image, one copy of SAME and of MAJORITY (the first by path, of the majority
# label), the grey and flat images; not the TIE pair, whose two labels tie.
KEPT_TRAIN = sorted(UNIQUE_TRAIN + ["train/a/same.png", "train/b/maj1.png", "train/b/grey.png", "train/a/flat.png"])
# Leaks (a training image's pixels re-saved in other bytes, or under another label) go; TIE stays (no
# training image holds it), both TWINs stay (a copy within the test set leaks nothing), and CHECKER stays:
# it resizes to FLAT's thumbnail, but its full-resolution pixels differ.
KEPT_TEST = sorted(UNIQUE_TEST + ["test/a/tie.png", "test/b/twin1.png", "test/b/twin2.png", "test/a/checker.png"])
COUNTS = {"train_loaded": 27, "train_duplicates_removed": 3, "train_label_conflicts": 2,
          "train_conflict_images_dropped": 2, "test_loaded": 14, "test_overlap_removed": 4,
          "test_internal_duplicates": 1, "train_kept": 22, "test_kept": 10}


@pytest.fixture
def folder(tmp_path) -> Path:
    root = tmp_path / "imgs"
    for rel in UNIQUE_TRAIN + UNIQUE_TEST:
        save(root / rel, noise())
    save(root / "train/a/same.png", SAME)
    save(root / "val/a/same.png", SAME, compress_level=0)
    save(root / "train/b/maj1.png", MAJORITY)
    save(root / "train/b/maj2.png", MAJORITY)
    save(root / "val/c/maj.png", MAJORITY)  # outvoted: the copies in b agree
    save(root / "train/a/tie.png", TIE)
    save(root / "train/c/tie.png", TIE)
    save(root / "train/b/grey.png", GREY, mode="L")
    save(root / "train/a/flat.png", FLAT)
    save(root / "test/a/leak.png", np.asarray(Image.open(root / "train/a/u0.png")), compress_level=9,
         pnginfo=metadata())
    save(root / "test/c/same.png", SAME, pnginfo=metadata())  # another label: still the same picture
    save(root / "test/b/maj.png", MAJORITY, compress_level=1)
    save(root / "test/b/grey.png", GREY, mode="RGB")  # stored as RGB, the training copy as grey (L)
    save(root / "test/a/tie.png", TIE)
    save(root / "test/b/twin1.png", TWIN)
    save(root / "test/b/twin2.png", TWIN, compress_level=0)
    save(root / "test/a/checker.png", CHECKER)
    for copy, original in [("val/a/same.png", "train/a/same.png"), ("test/a/leak.png", "train/a/u0.png"),
                           ("test/c/same.png", "train/a/same.png"), ("test/b/grey.png", "train/b/grey.png")]:
        assert (root / copy).read_bytes() != (root / original).read_bytes()  # the files differ, the pixels not
    return root


def folder_data(root: Path, **over) -> Data:
    return image_data(root, **{"train_dirs": ["train", "val"], "test_dir": "test", "image_size": 4, **over})


def test_copies_go_by_decoded_pixels_and_test_images_equal_to_a_training_image_are_dropped(folder):
    ds = datasets.load_image_folder("custom", folder_data(folder), seed=0)
    assert sorted(ds.train.ids) == KEPT_TRAIN
    assert sorted(ds.test.ids) == KEPT_TEST
    assert ds.dedup == COUNTS
    assert ds.train.labels[ds.train.ids.index("train/b/maj1.png")] == ds.classes.index("b")
    # The thumbnails agree, so only a full-resolution comparison keeps CHECKER apart from FLAT.
    assert np.array_equal(ds.train.images[ds.train.ids.index("train/a/flat.png")],
                          ds.test.images[ds.test.ids.index("test/a/checker.png")])


def test_the_kept_copy_is_the_first_by_path_whatever_the_order_of_the_training_folders(folder):
    ds = datasets.load_image_folder("custom", folder_data(folder, train_dirs=["val", "train"]), seed=0)
    assert sorted(ds.train.ids) == KEPT_TRAIN and sorted(ds.test.ids) == KEPT_TEST
    assert ds.dedup == COUNTS


def test_a_held_out_test_set_is_taken_after_deduplication(folder):
    ds = datasets.load_image_folder("custom", folder_data(folder, test_dir=None, test_share=0.25), seed=0)
    assert sorted(ds.train.ids + ds.test.ids) == KEPT_TRAIN
    assert ds.dedup == {**COUNTS, "test_loaded": 6, "test_overlap_removed": 0, "test_internal_duplicates": 0,
                        "train_kept": 16, "test_kept": 6}


def test_a_test_folder_made_only_of_training_images_is_refused(tmp_path):
    root = tmp_path / "imgs"
    for c in "ab":
        pixels = noise()
        save(root / f"train/{c}/x.png", pixels)
        save(root / f"train/{c}/y.png", noise())
        save(root / f"test/{c}/x.png", pixels, compress_level=0)
    with pytest.raises(DataError, match=r"every image in .*imgs/test \(custom.data.test_dir\) is also in"):
        datasets.load_image_folder("custom", folder_data(root, train_dirs=["train"]), seed=0)


def run_download(tmp_path: Path, monkeypatch, params: dict, data: dict) -> Path:
    params.update(datasets=["custom"])
    params["custom"]["data"] = data
    params["runs"]["noise_kinds"] = ["symmetric"]  # custom has no confusable map for class_conditional noise
    params["study"] = None
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["download.py", "--dataset", "custom", "--out", "raw",
                                      "--summary", "data.json"])
    download.main()
    return tmp_path / "raw"


def test_download_writes_the_counts_in_its_summary_and_prints_them(folder, tmp_path, monkeypatch, params, capsys):
    out = run_download(tmp_path, monkeypatch, params, folder_data(folder).model_dump())
    summary = json.loads((tmp_path / "data.json").read_text())
    assert summary["dedup"] == COUNTS
    assert summary["train_samples"] == COUNTS["train_kept"] and summary["test_samples"] == COUNTS["test_kept"]
    assert sorted(p.name for p in out.iterdir()) == ["classes.json", "test_images.npy",
                                                     "test_labels.npy", "train_ids.txt", "train_images.npy",
                                                     "train_labels.npy"]
    assert sorted((out / "train_ids.txt").read_text().split()) == KEPT_TRAIN
    printed = capsys.readouterr().out
    assert "custom: deduplicated by decoded pixels: train_loaded 27, train_duplicates_removed 3," in printed


def test_download_refuses_a_one_class_folder_in_one_line_before_writing(tmp_path, monkeypatch, params):
    root = tmp_path / "imgs"
    for i in range(4):
        save(root / f"only/{i}.png", noise())
    with pytest.raises(DataError) as err:
        run_download(tmp_path, monkeypatch, params, image_data(root).model_dump())
    message = str(err.value)
    assert message.startswith("custom.data: ") and f"{root} has 1 class folder ['only']" in message
    assert "at least 2 classes" in message and "\n" not in message
    assert not (tmp_path / "raw").exists() and not (tmp_path / "data.json").exists()
