"""Loading data: checksums, clear errors for missing/corrupt/odd inputs, the Roman-numerals counts (before and
after deduplication)."""

import gzip
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelsweep import datasets
from labelsweep.config import Data
from labelsweep.errors import ConfigError, DataError

from .conftest import ROOT

DEBIAN = datasets.DEBIAN_DIR
ROMAN = ROOT.parent / "shared" / "datasets" / "dcai-roman"
needs_fashion_mnist = pytest.mark.skipif(not DEBIAN.is_dir(), reason=f"Fashion-MNIST files not in {DEBIAN}")


@needs_fashion_mnist
def test_a_truncated_file_is_named_with_how_to_get_a_good_one(tmp_path):
    for f in DEBIAN.iterdir():
        shutil.copy(f, tmp_path / f.name)
    bad = tmp_path / "train-labels-idx1-ubyte.gz"
    bad.write_bytes(bad.read_bytes()[:2000])
    with pytest.raises(DataError) as err:
        datasets.load_fashion_mnist(str(tmp_path))
    assert str(bad) in str(err.value) and "apt-get install dataset-fashion-mnist" in str(err.value)


@needs_fashion_mnist
def test_a_file_with_wrong_content_fails_its_checksum(tmp_path):
    for f in DEBIAN.iterdir():
        if "labels" in f.name:
            data = bytearray(gzip.decompress(f.read_bytes()))
            data[100] ^= 1
            (tmp_path / f.name.removesuffix(".gz")).write_bytes(bytes(data))
        else:
            shutil.copy(f, tmp_path / f.name)
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte fails its checksum|train-labels-idx1-ubyte fails"):
        datasets.load_fashion_mnist(str(tmp_path))


@needs_fashion_mnist
def test_the_real_files_load_and_match_the_official_counts():
    ds = datasets.load_fashion_mnist(None)
    assert ds.train.images.shape == (60000, 1, 28, 28) and ds.test.images.shape == (10000, 1, 28, 28)
    assert np.bincount(ds.train.labels).tolist() == [6000] * 10
    assert len(ds.classes) == 10
    assert ds.dedup is None  # the official split is kept as published


@needs_fashion_mnist
def test_the_files_are_decoded_as_torchvision_reads_them(tmp_path):
    """labelsweep decodes the IDX files itself (a GPU machine may have no torchvision): the same images, labels
    and class names as torchvision's FashionMNIST reading the same files."""
    from torchvision.datasets import FashionMNIST

    raw = tmp_path / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for f in DEBIAN.iterdir():
        (raw / f.name.removesuffix(".gz")).write_bytes(gzip.decompress(f.read_bytes()))
    ours = datasets.load_fashion_mnist(None)
    for split, train in ((ours.train, True), (ours.test, False)):
        theirs = FashionMNIST(tmp_path, train=train, download=False)
        assert np.array_equal(split.images, theirs.data.numpy()[:, None]) and split.images.dtype == np.uint8
        assert np.array_equal(split.labels, theirs.targets.numpy()) and split.labels.dtype == np.int64
    assert ours.classes == theirs.classes


def test_missing_data_fails_once_listing_all_three_ways(tmp_path, monkeypatch):
    from torchvision.datasets import FashionMNIST

    def offline(self):
        raise RuntimeError("no network")

    monkeypatch.setattr(datasets, "DEBIAN_DIR", tmp_path / "no-debian")
    monkeypatch.setattr(FashionMNIST, "download", offline)
    with pytest.raises(DataError) as err:
        datasets.load_fashion_mnist(str(tmp_path / "empty"))
    message = str(err.value)
    assert "fashion_mnist.data.path" in message and "apt-get install dataset-fashion-mnist" in message
    assert "torchvision download" in message and str(tmp_path / "empty") in message


def test_a_subsample_larger_than_the_data_is_refused():
    split = datasets.Split(np.zeros((20, 1, 2, 2), np.uint8), np.arange(20) % 2, [str(i) for i in range(20)])
    with pytest.raises(ConfigError, match="x.data.train_subsample = 21 .* only 20 samples"):
        datasets.subsample(split, 21, "x.data.train_subsample", seed=0)
    small = datasets.subsample(split, 6, "x.data.train_subsample", seed=0)
    assert np.bincount(small.labels).tolist() == [3, 3]


def make_image_folder(root: Path, classes=("a", "b", "c"), per_class=8, size=(12, 9), mode="L") -> Path:
    rng = np.random.default_rng(0)
    for k, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 60, size=(size[1], size[0], 3), dtype=np.uint8)
            pixels[:, k * 3 : k * 3 + 3] = 255  # a class-specific bright stripe
            Image.fromarray(pixels).convert(mode).save(root / name / f"{i}.png")
    return root


def image_data(path: Path, **over) -> Data:
    data = {"source": "image_folder", "path": str(path), "train_dirs": ["."], "test_dir": None,
            "test_share": 0.25, "image_size": 8, "train_subsample": None, "test_subsample": None}
    return Data.model_validate({**data, **over})


def test_image_folder_grey_resized_with_a_stratified_test_split(tmp_path):
    ds = datasets.load_image_folder("custom", image_data(make_image_folder(tmp_path / "imgs")), seed=0)
    assert ds.classes == ["a", "b", "c"]
    assert ds.train.images.shape == (18, 1, 8, 8) and ds.test.images.shape == (6, 1, 8, 8)
    assert np.bincount(ds.test.labels).tolist() == [2, 2, 2]
    assert ds.train.ids[0].endswith(".png") and "/" in ds.train.ids[0]


def test_image_folder_keeps_rgb(tmp_path):
    ds = datasets.load_image_folder("custom", image_data(make_image_folder(tmp_path / "imgs", mode="RGB")), seed=0)
    assert ds.train.images.shape[1] == 3


def test_an_unreadable_image_is_named(tmp_path):
    root = make_image_folder(tmp_path / "imgs")
    (root / "b" / "3.png").write_bytes(b"not a png")
    with pytest.raises(DataError, match=r"cannot read image .*b/3.png"):
        datasets.load_image_folder("custom", image_data(root), seed=0)


def test_an_empty_class_folder_is_named(tmp_path):
    root = make_image_folder(tmp_path / "imgs")
    (root / "d").mkdir()
    with pytest.raises(DataError, match=r"class folder .*imgs/d holds no readable image"):
        datasets.load_image_folder("custom", image_data(root), seed=0)


def test_a_missing_folder_is_named_with_its_dataset_setting(tmp_path):
    with pytest.raises(DataError, match=r"^roman\.data\.path = '.*/nowhere' is not a folder"):
        datasets.load("roman", image_data(tmp_path / "nowhere"), seed=0)


@pytest.mark.slow
@pytest.mark.skipif(not ROMAN.is_dir(), reason=f"the Roman-numerals images are not at {ROMAN}")
def test_roman_numerals_have_10_classes_and_the_published_counts():
    from torchvision.datasets import ImageFolder

    counts = {split: len(ImageFolder(ROMAN / split).samples) for split in ("train", "val", "test-hidden")}
    assert counts == {"train": 2067, "val": 813, "test-hidden": 2420}
    ds = datasets.load_image_folder("custom", image_data(ROMAN, train_dirs=["train", "val"], test_dir="test-hidden",
                                               image_size=32), seed=0)
    assert ds.classes == ["i", "ii", "iii", "iv", "ix", "v", "vi", "vii", "viii", "x"]
    # 49 exact copies within train/ + val/, and 199 test-hidden/ images that are training images (issue 9).
    assert ds.dedup == {"train_loaded": 2880, "train_duplicates_removed": 49, "train_label_conflicts": 0,
                        "train_conflict_images_dropped": 0, "test_loaded": 2420, "test_overlap_removed": 199,
                        "test_internal_duplicates": 0, "train_kept": 2831, "test_kept": 2221}
    assert ds.train.images.shape == (2831, 1, 32, 32) and ds.test.images.shape == (2221, 1, 32, 32)
    assert ds.train.ids[0].startswith("train/i/")
