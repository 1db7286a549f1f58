"""Loading the data sets into uint8 arrays of shape (N, C, H, W), checked.

Fashion-MNIST comes from, in order: the folder in ``<dataset>.data.path``; Debian's
``dataset-fashion-mnist`` package; a torchvision download. Every file is checked against the official
MD5 of its *decompressed* bytes, which is the same whichever way the file was compressed (Debian
re-compressed them, so their .gz checksums differ from torchvision's).

An image-folder data set is read with torchvision's ``ImageFolder`` (one sub-folder per class), every
image resized to a square of ``image_size`` pixels; it keeps one channel when every image is grey.
Its images are deduplicated by decoded pixels, and test images equal to a training image are dropped
(:func:`load_image_folder`); Fashion-MNIST keeps its official split as published.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from labelsweep.errors import DataError, not_allowed
from labelsweep.folders import check_links
from labelsweep.sampling import stratified_indices
from labelsweep.splits import check_class_sizes, check_split

if TYPE_CHECKING:
    from labelsweep.config import Data

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
    # Image folders only (None for Fashion-MNIST, whose official split is kept as published): what
    # deduplication found and removed, as load_image_folder describes.
    dedup: dict[str, int] | None = None


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


# torchvision's FashionMNIST.classes, in label order.
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                         "Ankle boot"]


def _local_files(folder: Path) -> dict[str, bytes] | None:
    """The four checked files' decompressed bytes from `folder`; None if any is missing."""
    contents = {name: _read_checked(folder, name) for name in FASHION_MNIST_MD5}
    return None if any(data is None for data in contents.values()) else contents


def _downloaded_files(tried: list[str]) -> dict[str, bytes]:
    """The four files fetched by torchvision and checked like a local copy (the only use of torchvision here)."""
    from torchvision.datasets import FashionMNIST

    with tempfile.TemporaryDirectory(prefix="fashion-mnist-") as tmp:
        try:
            FashionMNIST(tmp, train=True, download=True)
            FashionMNIST(tmp, train=False, download=True)
        except Exception as err:  # torchvision raises several kinds of network error
            tried.append(f"torchvision download: {type(err).__name__}: {err}")
            raise DataError("Fashion-MNIST not found (" + "; ".join(tried) + "). " + HOW_TO_GET_FASHION_MNIST) from None
        return _local_files(Path(tmp) / "FashionMNIST" / "raw")


def _idx_array(data: bytes) -> np.ndarray:
    """An IDX file's uint8 array: its header gives the number of dimensions (4th byte), then each size (big-endian)."""
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def load_fashion_mnist(path: str | None) -> Dataset:
    """The official split, read from the first folder that has the four files, else downloaded by torchvision.
    The files are decoded here (IDX: a header, then raw uint8), so local copies need no torchvision."""
    tried, contents = [], None
    for folder in ([Path(path)] if path else []) + [DEBIAN_DIR]:
        contents = _local_files(folder)
        if contents is not None:
            break
        tried.append(f"{folder}: the four files are not all there")
    contents = contents or _downloaded_files(tried)
    splits = []
    for prefix in ("train", "t10k"):
        images = _idx_array(contents[f"{prefix}-images-idx3-ubyte"])[:, None, :, :].copy()
        labels = _idx_array(contents[f"{prefix}-labels-idx1-ubyte"]).astype(np.int64)
        splits.append(Split(images, labels, [str(i) for i in range(len(images))]))
    return Dataset(splits[0], splits[1], list(FASHION_MNIST_CLASSES))


def _scan_folder(folder: Path) -> tuple[list[tuple[str, int]], list[str]]:
    """The (file, label) pairs and class names of a folder with one sub-folder per class; nothing decoded yet,
    so that a wrong layout is reported before minutes are spent decoding images."""
    from torchvision.datasets import ImageFolder

    if not folder.is_dir():
        raise DataError(f"image folder {folder} does not exist")
    check_links(folder)  # before ImageFolder, which follows every link
    try:
        ds = ImageFolder(folder, allow_empty=True)
    except FileNotFoundError as err:
        raise DataError(f"image folder {folder}: {err} (expected one sub-folder per class)") from None
    counts = np.bincount([label for _, label in ds.samples], minlength=len(ds.classes))
    for name, count in zip(ds.classes, counts):
        if count == 0:
            raise DataError(f"class folder {folder / name} holds no readable image files")
    return ds.samples, list(ds.classes)


def _pixel_key(img) -> bytes:
    """A fingerprint of an image's decoded RGB pixels at full resolution (its size included, so that two
    images whose pixel bytes happen to coincide under different shapes differ). SHA-256: collisions are out
    of reach, and with the CPU's SHA instructions it hashes about twice as fast as BLAKE2 here."""
    digest = hashlib.sha256(f"{img.width}x{img.height}:".encode())
    digest.update(img.tobytes())
    return digest.digest()


def _decode(samples: list[tuple[str, int]], root: Path, image_size: int) -> tuple[Split, list[bytes]]:
    """Decode `samples`, resized to `image_size` squares; also each image's :func:`_pixel_key`."""
    from PIL import Image, UnidentifiedImageError
    from torchvision import transforms

    resize = transforms.Compose([transforms.Resize((image_size, image_size)), transforms.PILToTensor()])
    images = np.empty((len(samples), 3, image_size, image_size), dtype=np.uint8)
    keys = []
    for i, (file, _) in enumerate(samples):
        try:
            with Image.open(file) as img:
                rgb = img.convert("RGB")
        except (UnidentifiedImageError, OSError, SyntaxError) as err:
            raise DataError(f"cannot read image {file}: {err}") from None
        keys.append(_pixel_key(rgb))
        images[i] = resize(rgb).numpy()
    labels = np.array([label for _, label in samples], dtype=np.int64)
    ids = [Path(file).relative_to(root).as_posix() for file, _ in samples]
    return Split(images, labels, ids), keys


def _take(split: Split, idx: np.ndarray) -> Split:
    return Split(split.images[idx], split.labels[idx], [split.ids[i] for i in idx])


def _dedup_train(split: Split, keys: list[bytes]) -> tuple[Split, set[bytes], dict[str, int]]:
    """Keep one image of each group of training images with identical decoded pixels.

    A copy adds no information but weights its image twice, and with injected noise the copies can get
    different labels, which no cleaning method can resolve. A group whose labels agree keeps its first
    image by sample id (relative path), so the result does not depend on the order folders are read in.
    A group whose labels disagree keeps the first image of its majority label: most annotators agreed on
    it. If the top labels tie, the whole group is dropped: the study scores cleaning against the given
    labels as the truth, and an arbitrary pick would plant a label that is as likely wrong as right.
    Returns the kept split (in the original order), the pixel keys of the kept images, and the counts.
    """
    groups: dict[bytes, list[int]] = {}
    for i, key in enumerate(keys):
        groups.setdefault(key, []).append(i)
    keep, removed, conflicts, dropped = [], 0, 0, 0
    for members in groups.values():
        votes = Counter(int(split.labels[i]) for i in members).most_common()
        if len(votes) > 1:
            conflicts += 1
            if votes[0][1] == votes[1][1]:
                dropped += len(members)
                continue
        keep.append(min((i for i in members if split.labels[i] == votes[0][0]), key=split.ids.__getitem__))
        removed += len(members) - 1
    keep = np.sort(np.array(keep, dtype=np.int64))
    counts = {"train_loaded": len(keys), "train_duplicates_removed": removed, "train_label_conflicts": conflicts,
              "train_conflict_images_dropped": dropped}
    return _take(split, keep), {keys[i] for i in keep}, counts


def load_image_folder(name: str, data: Data, seed: int) -> Dataset:
    """Load the image-folder dataset `name` from its `data` settings, without duplicates or leakage.

    Images are compared by their decoded RGB pixels at full resolution (see :func:`_pixel_key`), not by
    file bytes: the same picture saved with another PNG compression level or metadata is still the same
    sample. Full resolution rather than the resized arrays, so that two different images which shrink to
    the same thumbnail stay apart; it costs one hash of pixels that are decoded anyway. The training
    folders are deduplicated as :func:`_dedup_train` says; then every test image whose pixels equal a
    kept training image's is dropped, whatever its label, since a model tested on a picture it was trained
    on overstates its accuracy. Copies within the test set are counted but kept: they leak nothing. When
    ``test_dir`` is null the test share is held out of the deduplicated training images, so it cannot
    hold a training image either. ``Dataset.dedup`` records the counts (before any subsampling).
    """
    # Imported here, like torchvision: only an image folder needs it.
    from labelsweep.fetch import resolve_folder

    root = resolve_folder(name, data)  # data.path, else a fetched copy checked against its manifest
    first = root / data.train_dirs[0]
    scans = [(root / d, *_scan_folder(root / d)) for d in data.train_dirs]
    classes = scans[0][2]
    if len(classes) < 2:
        raise DataError(f"{name}.data: {first} has {len(classes)} class folder {classes}, but an image_folder "
                        f"dataset needs at least 2 classes (one sub-folder per class in each of "
                        f"{name}.data.train_dirs)")
    test_dir = data.test_dir
    if test_dir:
        scans.append((root / test_dir, *_scan_folder(root / test_dir)))
    for folder, _, other in scans[1:]:
        if other != classes:
            raise DataError(f"class folders of {folder} {other} differ from those of {first} {classes}")
    n_train_folders = len(data.train_dirs)
    train, train_keys = _decode([s for _, samples, _ in scans[:n_train_folders] for s in samples], root,
                                data.image_size)
    train, kept_keys, counts = _dedup_train(train, train_keys)
    if test_dir:
        test, test_keys = _decode(scans[-1][1], root, data.image_size)
        fresh = [i for i, key in enumerate(test_keys) if key not in kept_keys]
        if not fresh:
            raise DataError(f"every image in {root / test_dir} ({name}.data.test_dir) is also in the training "
                            f"folders {data.train_dirs}: nothing is left to test on")
        counts.update(test_loaded=len(test_keys), test_overlap_removed=len(test_keys) - len(fresh),
                      test_internal_duplicates=len(fresh) - len({test_keys[i] for i in fresh}))
        test = _take(test, np.array(fresh, dtype=np.int64))
    else:
        n_test = max(len(classes), int(round(data.test_share * len(train.labels))))
        check_class_sizes(train.labels, classes, name)
        test_idx, train_idx = stratified_indices(train.labels, n_test, seed)
        check_split(train.labels, test_idx, classes, name, data.test_share)
        train, test = _take(train, train_idx), _take(train, test_idx)
        counts.update(test_loaded=len(test_idx), test_overlap_removed=0, test_internal_duplicates=0)
    counts.update(train_kept=len(train.labels), test_kept=len(test.labels))
    if all((s.images[:, 0] == s.images[:, 1]).all() and (s.images[:, 0] == s.images[:, 2]).all()
           for s in (train, test)):
        train.images, test.images = train.images[:, :1].copy(), test.images[:, :1].copy()
    return Dataset(train, test, classes, counts)


def subsample(split: Split, size: int | None, key: str, seed: int) -> Split:
    """A stratified subsample of `size` samples (`key` names the setting in error messages)."""
    if size is None or size == len(split.labels):
        return split
    if size > len(split.labels):
        raise not_allowed(key, size, f"the data has only {len(split.labels)} samples (use at most that, or null "
                                     "for all)")
    n_classes = len(np.unique(split.labels))
    if size < n_classes:
        raise not_allowed(key, size, f"at least one sample per class ({n_classes}) is needed")
    return _take(split, stratified_indices(split.labels, size, seed)[0])


def load(name: str, data: Data, seed: int) -> Dataset:
    """Load dataset `name` as its `data` settings say, subsampled as asked."""
    if data.source == "fashion_mnist":
        ds = load_fashion_mnist(data.path)
    else:
        ds = load_image_folder(name, data, seed)
    ds.train = subsample(ds.train, data.train_subsample, f"{name}.data.train_subsample", seed)
    ds.test = subsample(ds.test, data.test_subsample, f"{name}.data.test_subsample", seed)
    return ds

