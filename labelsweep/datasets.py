"""Loading the data sets into uint8 arrays of shape (N, C, H, W), checked, through torchvision.

Fashion-MNIST comes from, in order: the folder in ``<dataset>.data.path``; Debian's
``dataset-fashion-mnist`` package; a torchvision download. Every file is checked against the official
MD5 of its *decompressed* bytes, which is the same whichever way the file was compressed (Debian
re-compressed them, so their .gz checksums differ from torchvision's).

An image-folder data set is read with torchvision's ``ImageFolder`` (one sub-folder per class), every
image resized to a square of ``image_size`` pixels; it keeps one channel when every image is grey.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from labelsweep.config import ConfigError
from labelsweep.stage import DataError

FASHION_MNIST_MD5 = {  # of the decompressed files, as published by Zalando Research
    "train-images-idx3-ubyte": "f4a8712d7a061bf5bd6d2ca38dc4d50a",
    "train-labels-idx1-ubyte": "9018921c3c673c538a1fc5bad174d6f9",
    "t10k-images-idx3-ubyte": "8181f5470baa50b63fa0f6fddb340f0a",
    "t10k-labels-idx1-ubyte": "15d484375f8d13e6eb1aabb0c3f46965",
}
DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")
HOW_TO_GET_FASHION_MNIST = (
    "provide Fashion-MNIST in one of three ways: (1) set fashion_mnist.data.path to a folder with the four "
    "official files (train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
    "t10k-labels-idx1-ubyte[.gz]); (2) on Debian/Ubuntu: apt-get install dataset-fashion-mnist (files in "
    f"{DEBIAN_DIR}); (3) let torchvision download them (needs network access)"
)


@dataclass
class Split:
    images: np.ndarray  # uint8, (N, C, H, W)
    labels: np.ndarray  # int64, (N,)
    ids: list[str]  # a person-readable id per sample


@dataclass
class Dataset:
    train: Split
    test: Split
    classes: list[str]


def _read_checked(folder: Path, name: str) -> bytes | None:
    """The decompressed bytes of `name` (or `name`.gz) in `folder`; None if neither exists."""
    for path in (folder / name, folder / f"{name}.gz"):
        if not path.is_file():
            continue
        try:
            data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        except (OSError, EOFError) as err:
            raise DataError(f"{path} is corrupt or truncated ({err}); replace it with a good copy: "
                            f"{HOW_TO_GET_FASHION_MNIST}") from None
        if hashlib.md5(data).hexdigest() != FASHION_MNIST_MD5[name]:
            raise DataError(f"{path} fails its checksum (MD5 of the decompressed file should be "
                            f"{FASHION_MNIST_MD5[name]}): it is corrupt or truncated; replace it with a good "
                            f"copy: {HOW_TO_GET_FASHION_MNIST}")
        return data
    return None


def _stage_local_files(folder: Path, root: Path) -> bool:
    """Copy the four checked files from `folder` to where torchvision looks; False if any is missing."""
    contents = {name: _read_checked(folder, name) for name in FASHION_MNIST_MD5}
    if any(data is None for data in contents.values()):
        return False
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    for name, data in contents.items():
        (raw / name).write_bytes(data)
    return True


def load_fashion_mnist(path: str | None) -> Dataset:
    from torchvision.datasets import FashionMNIST

    tried = []
    with tempfile.TemporaryDirectory(prefix="fashion-mnist-") as tmp:
        root = Path(tmp)
        found = False
        for folder in ([Path(path)] if path else []) + [DEBIAN_DIR]:
            if _stage_local_files(folder, root):
                found = True
                break
            tried.append(f"{folder}: the four files are not all there")
        if not found:
            try:
                FashionMNIST(root, train=True, download=True)
                FashionMNIST(root, train=False, download=True)
            except Exception as err:  # torchvision raises several kinds of network error
                tried.append(f"torchvision download: {type(err).__name__}: {err}")
                raise DataError("Fashion-MNIST not found (" + "; ".join(tried) + "). "
                                + HOW_TO_GET_FASHION_MNIST) from None
            for name in FASHION_MNIST_MD5:  # the download is checked like a local copy
                _read_checked(root / "FashionMNIST" / "raw", name)
        splits = []
        for train in (True, False):
            ds = FashionMNIST(root, train=train, download=False)
            images = ds.data.numpy()[:, None, :, :].copy()
            splits.append(Split(images, ds.targets.numpy().astype(np.int64), [str(i) for i in range(len(images))]))
        return Dataset(splits[0], splits[1], list(ds.classes))


def _load_folder(folder: Path, root: Path, image_size: int) -> tuple[Split, list[str]]:
    from PIL import Image, UnidentifiedImageError
    from torchvision import transforms
    from torchvision.datasets import ImageFolder

    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist")
    try:
        ds = ImageFolder(folder, allow_empty=True)
    except FileNotFoundError as err:
        raise DataError(f"image folder {folder}: {err} (expected one sub-folder per class)") from None
    counts = np.bincount([label for _, label in ds.samples], minlength=len(ds.classes))
    for name, count in zip(ds.classes, counts):
        if count == 0:
            raise DataError(f"class folder {folder / name} holds no readable image files")
    resize = transforms.Compose([transforms.Resize((image_size, image_size)), transforms.PILToTensor()])
    images = np.empty((len(ds.samples), 3, image_size, image_size), dtype=np.uint8)
    for i, (file, _) in enumerate(ds.samples):
        try:
            with Image.open(file) as img:
                images[i] = resize(img.convert("RGB")).numpy()
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise DataError(f"cannot read image {file}: {err}") from None
    labels = np.array([label for _, label in ds.samples], dtype=np.int64)
    ids = [Path(file).relative_to(root).as_posix() for file, _ in ds.samples]
    return Split(images, labels, ids), list(ds.classes)


def _concat(splits: list[Split]) -> Split:
    return Split(np.concatenate([s.images for s in splits]), np.concatenate([s.labels for s in splits]),
                 [i for s in splits for i in s.ids])


def _take(split: Split, idx: np.ndarray) -> Split:
    return Split(split.images[idx], split.labels[idx], [split.ids[i] for i in idx])


def stratified_indices(labels: np.ndarray, size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Split indices into a stratified `size`-sample part and the rest (both sorted)."""
    from sklearn.model_selection import train_test_split

    chosen, rest = train_test_split(np.arange(len(labels)), train_size=size, stratify=labels, random_state=seed)
    return np.sort(chosen), np.sort(rest)


def load_image_folder(data: dict, seed: int) -> Dataset:
    root = Path(data["path"])
    if not root.is_dir():
        raise DataError(f"data.path = {str(root)!r} is not a folder (expected one sub-folder per class)")
    parts = [_load_folder(root / d, root, data["image_size"]) for d in data["train_dirs"]]
    classes = parts[0][1]
    for (_, other), d in zip(parts, data["train_dirs"]):
        if other != classes:
            raise DataError(f"class folders of {root / d} {other} differ from those of "
                            f"{root / data['train_dirs'][0]} {classes}")
    train = _concat([split for split, _ in parts])
    if data.get("test_dir"):
        test, test_classes = _load_folder(root / data["test_dir"], root, data["image_size"])
        if test_classes != classes:
            raise DataError(f"class folders of {root / data['test_dir']} {test_classes} differ from the "
                            f"training classes {classes}")
    else:
        n_test = max(len(classes), int(round(data["test_share"] * len(train.labels))))
        test_idx, train_idx = stratified_indices(train.labels, n_test, seed)
        train, test = _take(train, train_idx), _take(train, test_idx)
    if all((s.images[:, 0] == s.images[:, 1]).all() and (s.images[:, 0] == s.images[:, 2]).all()
           for s in (train, test)):
        train.images, test.images = train.images[:, :1].copy(), test.images[:, :1].copy()
    return Dataset(train, test, classes)


def subsample(split: Split, size: int | None, key: str, seed: int) -> Split:
    """A stratified subsample of `size` samples (`key` names the setting in error messages)."""
    if size is None or size == len(split.labels):
        return split
    if size > len(split.labels):
        raise ConfigError(f"params.yaml: {key} = {size} is not allowed: the data has only "
                          f"{len(split.labels)} samples (use at most that, or null for all)")
    n_classes = len(np.unique(split.labels))
    if size < n_classes:
        raise ConfigError(f"params.yaml: {key} = {size} is not allowed: at least one sample per class "
                          f"({n_classes}) is needed")
    return _take(split, stratified_indices(split.labels, size, seed)[0])


def load(name: str, data: dict, seed: int) -> Dataset:
    """Load dataset `name` as its `data` settings say, subsampled as asked."""
    if data["source"] == "fashion_mnist":
        ds = load_fashion_mnist(data.get("path"))
    else:
        ds = load_image_folder(data, seed)
    ds.train = subsample(ds.train, data.get("train_subsample"), f"{name}.data.train_subsample", seed)
    ds.test = subsample(ds.test, data.get("test_subsample"), f"{name}.data.test_subsample", seed)
    return ds

