"""An image-folder dataset that is not on this machine: fetched from a public archive and checked file by file,
or left out of the study with one line that says how to add it.

An image-folder dataset is read from ``<name>.data.path``. Where that folder is missing and
``<name>.data.url`` names an archive (zip or tar, any URL urllib opens: https, http, file), the archive is
downloaded once into ``data/<name>/fetched/`` (ignored by git, outside every DVC output) and every image in it
is checked against ``<name>.data.manifest``: the relative path and SHA-256 of each file, committed in the
repository (``python -m labelsweep.fetch manifest FOLDER`` writes one; ``sha256sum -c`` reads it too). The
fetched folder then holds exactly the manifest's files with exactly its bytes, so the download stage writes
the same arrays as from the original folder. Nothing unverified is ever used.

``python -m labelsweep.fetch targets`` is what ``make repro`` asks before running DVC: it makes every dataset
of params.yaml ready (fetching where it can) and prints the ``dvc repro`` targets of those that are ready --
nothing when all are, so that a plain ``dvc repro`` runs -- with one line on stderr per dataset left out.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import sys
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

from labelsweep.artifacts import atomic_path
from labelsweep.errors import ConfigError, DataError
from labelsweep.folders import check_links, data_path

if TYPE_CHECKING:
    from labelsweep.config import Data, Params

FETCHED = "data/{name}/fetched"  # where a fetched dataset lives: under the ignored data/, in no DVC output
# The image files torchvision's ImageFolder reads (torchvision.datasets.folder.IMG_EXTENSIONS).
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".pgm", ".ppm"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def image_files(folder: Path) -> list[Path]:
    """Every image file below `folder`, as paths relative to it, sorted: what ImageFolder would read (a link that
    leaves the folder or loops is refused first)."""
    check_links(folder)
    return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in
                  IMAGE_SUFFIXES)


def write_manifest(folder: Path) -> str:
    """The manifest of `folder`: one `<sha256>  <relative path>` line per image file (sha256sum's format)."""
    return "".join(f"{sha256(folder / rel)}  {rel.as_posix()}\n" for rel in image_files(folder))


def read_manifest(path: Path) -> dict[str, str]:
    """Relative path -> SHA-256, from a manifest file."""
    entries = {}
    for line in path.read_text().splitlines():
        digest, _, rel = line.partition("  ")
        if len(digest) != 64 or not rel:
            raise DataError(f"{path}: not a manifest line (expected '<sha256>  <relative path>'): {line!r}")
        entries[rel] = digest
    return entries


def verify(folder: Path, manifest: dict[str, str]) -> None:
    """Raise DataError unless the image files in `folder`'s top folders that the manifest names (train/, val/,
    ...: what the dataset reads) are exactly the manifest's, byte for byte. Files elsewhere are never read."""
    tops = {rel.split("/", 1)[0] for rel in manifest}
    found = {rel.as_posix() for rel in image_files(folder) if rel.parts[0] in tops}
    missing, extra = sorted(set(manifest) - found), sorted(found - set(manifest))
    if missing or extra:
        raise DataError(f"{folder} does not match its manifest: {len(missing)} files missing "
                        f"({', '.join(missing[:3]) or '-'}), {len(extra)} not listed ({', '.join(extra[:3]) or '-'})")
    for rel, digest in manifest.items():
        if sha256(folder / rel) != digest:
            raise DataError(f"{folder / rel} fails its checksum (SHA-256 should be {digest}): the archive is not the "
                            "data the manifest describes")


def _dataset_root(unpacked: Path, first: str) -> Path:
    """The folder of the unpacked archive that holds the manifest's paths (archives often add a top folder)."""
    for candidate in [unpacked, *sorted(p for p in unpacked.rglob("*") if p.is_dir())]:
        if (candidate / first).is_file():
            return candidate
    raise DataError(f"the archive holds no {first}, the manifest's first file")


def fetch(url: str, manifest: dict[str, str], dest: Path) -> Path:
    """Download the archive at `url`, unpack it, verify it against `manifest` and move it to `dest`."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=dest.parent) as tmp:
        archive = Path(tmp) / Path(urllib.parse.urlsplit(url).path).name
        try:
            with urllib.request.urlopen(url, timeout=60) as response, open(archive, "wb") as out:
                shutil.copyfileobj(response, out)
        except (OSError, ValueError) as err:  # URLError is an OSError; a malformed URL a ValueError
            raise DataError(f"cannot download {url}: {err}") from None
        try:
            shutil.unpack_archive(archive, Path(tmp) / "unpacked")
        except (shutil.ReadError, ValueError, OSError) as err:
            raise DataError(f"cannot unpack {url} as a zip or tar archive: {err}") from None
        root = _dataset_root(Path(tmp) / "unpacked", next(iter(manifest)))
        verify(root, manifest)
        with atomic_path(dest) as moved:  # only a verified folder ever appears at `dest`
            root.rename(moved)
    return dest


def resolve_folder(name: str, data: Data, base: Path = Path(".")) -> Path:
    """The folder to read dataset `name` from: `data.path` if it is one; else the fetched and verified copy
    (fetched now if `data.url` is set); else DataError, naming the setting and how to add the data. Relative paths
    are the repository's, also in a DVC experiment's temporary copy (labelsweep.folders.data_path)."""
    path = base / data_path(data.path)
    if path.is_dir():
        return path
    problem = f"{name}.data.path = {data.path!r} is not a folder (expected one sub-folder per class)"
    if not data.url:
        raise DataError(problem)
    if not data.manifest:
        raise ConfigError(f"params.yaml: {name}.data.url is set without {name}.data.manifest: a fetched archive is "
                          "only used once every file is checked against the manifest")
    manifest = read_manifest(base / data.manifest)
    dest = base / data_path(FETCHED.format(name=name))
    try:
        if dest.is_dir():
            verify(dest, manifest)  # fetched before: checked again, since anything may have changed it since
            return dest
        return fetch(data.url, manifest, dest)
    except DataError as err:
        raise DataError(f"{problem}, and {name}.data.url gave no verified copy: {err}") from None


def left_out_line(name: str, data: Data, err: Exception) -> str:
    """The one line `make repro` prints for a dataset it leaves out."""
    return (f"{name}: left out of this run ({err}). To add it, put its class folders at {data.path} "
            f"({name}.data.path) or set {name}.data.url to an archive of them, then run make repro again.")


def repro_targets(params: Params) -> tuple[list[str], list[str]]:
    """(dvc repro targets, left-out lines): no target when every dataset is ready, so that `dvc repro` runs all;
    else the plot stage of each dataset that is ready (DVC runs everything upstream of it)."""
    ready, lines = [], []
    for name in params.datasets:
        data = params.dataset(name).data
        if data.source != "image_folder":
            ready.append(name)  # Fashion-MNIST: the download stage finds or downloads it (datasets.py)
            continue
        try:
            resolve_folder(name, data)
            ready.append(name)
        except DataError as err:
            lines.append(left_out_line(name, data, err))
    return ([] if not lines else [f"plot@{name}" for name in ready]), lines


def main() -> None:
    from labelsweep.config import load_params

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("targets", help="make the datasets ready; print the dvc repro targets of those that are")
    manifest = sub.add_parser("manifest", help="print the manifest of a dataset folder")
    manifest.add_argument("folder", type=Path)
    args = parser.parse_args()
    try:
        if args.command == "manifest":
            print(write_manifest(args.folder), end="")
            return
        targets, lines = repro_targets(load_params())
        for line in lines:
            print(line, file=sys.stderr)
        if lines and not targets:
            raise DataError("no dataset of params.yaml is ready: nothing to run")
        print(" ".join(targets))
    except (ConfigError, DataError) as err:
        sys.exit(f"error: {err}")


if __name__ == "__main__":
    main()
