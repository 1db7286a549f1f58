"""An image-folder dataset that is not on the machine (labelsweep/fetch.py), offline: fetched from a file URL and
from a local HTTP server, checked file by file against its manifest (a changed, missing or added image is refused
and nothing is left where the dataset is read from), read the same as the original folder; and left out of
`make repro`'s targets with one line saying how to add it when it cannot be fetched."""

from __future__ import annotations

import copy
import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from labelsweep import datasets, fetch
from labelsweep.config import Data, load_params, parse
from labelsweep.errors import ConfigError, DataError

from .conftest import ROOT
from .test_config import write

FILES = [f"{split}/{c}/{i}.png" for split in ("train", "val", "test-hidden") for c in ("i", "ii") for i in range(3)]


@pytest.fixture
def original(tmp_path) -> Path:
    """A small class-per-folder dataset laid out like the competition's (train/, val/, test-hidden/)."""
    rng = np.random.default_rng(0)
    for rel in FILES:
        (tmp_path / "original" / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 256, (9, 7), dtype=np.uint8)).save(tmp_path / "original" / rel)
    (tmp_path / "original" / "README.md").write_text("not an image: never read, never checked\n")
    return tmp_path / "original"


@pytest.fixture
def workdir(tmp_path, original, monkeypatch) -> Path:
    """A working directory (as DVC runs the stages in) with the manifest of `original` committed in it."""
    work = tmp_path / "work"
    (work / "manifests").mkdir(parents=True)
    (work / "manifests" / "fake.sha256").write_text(fetch.write_manifest(original))
    monkeypatch.chdir(work)
    return work


def archive(original: Path, dest: Path, fmt: str = "zip") -> Path:
    """`original` packed as a public snapshot would be: everything under one top folder."""
    staging = dest.parent / "staging"
    shutil.copytree(original, staging / "dcai-roman-main")
    return Path(shutil.make_archive(str(dest), fmt, staging))


def data(url: str | None, path: str = "/nowhere/dcai-roman") -> Data:
    return Data.model_validate({"source": "image_folder", "path": path, "url": url, "manifest": "manifests/fake.sha256",
            "train_dirs": ["train", "val"], "test_dir": "test-hidden", "test_share": 0.2, "image_size": 8})


@pytest.fixture
def server(tmp_path) -> Iterator[tuple[str, Path]]:
    """A local HTTP server on 127.0.0.1: (its base URL, the folder it serves)."""
    folder = tmp_path / "served"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", folder
    httpd.shutdown()
    httpd.server_close()


def test_the_manifest_lists_every_image_with_its_sha256_as_sha256sum_writes_it(original):
    lines = fetch.write_manifest(original).splitlines()
    assert [line.split("  ")[1] for line in lines] == sorted(FILES)
    assert lines[0].split("  ")[0] == fetch.sha256(original / sorted(FILES)[0])


def test_the_committed_roman_manifest_is_read_and_names_the_published_counts():
    manifest = fetch.read_manifest(ROOT / "manifests" / "dcai-roman.sha256")
    tops = [rel.split("/")[0] for rel in manifest]
    assert {top: tops.count(top) for top in set(tops)} == {"train": 2067, "val": 813, "test-hidden": 2420}


def test_a_file_url_is_fetched_verified_and_read_like_the_original(workdir, original, tmp_path):
    url = archive(original, tmp_path / "snapshot").as_uri()
    folder = fetch.resolve_folder("roman", data(url))
    assert folder == Path("data/roman/fetched") and fetch.image_files(folder) == fetch.image_files(original)
    fetched = datasets.load_image_folder("roman", data(url), seed=0)
    local = datasets.load_image_folder("roman", data(None, str(original)), seed=0)
    assert np.array_equal(fetched.train.images, local.train.images) and fetched.train.ids == local.train.ids
    assert np.array_equal(fetched.test.labels, local.test.labels) and fetched.dedup == local.dedup


def test_a_local_http_server_serves_a_tar_archive_fetched_once(workdir, original, tmp_path, server):
    base, served = server
    shutil.move(archive(original, tmp_path / "snapshot", "gztar"), served / "snapshot.tar.gz")
    assert fetch.resolve_folder("roman", data(f"{base}/snapshot.tar.gz")) == Path("data/roman/fetched")
    (served / "snapshot.tar.gz").unlink()  # a second run reads the verified copy, without the network
    assert fetch.resolve_folder("roman", data(f"{base}/snapshot.tar.gz")) == Path("data/roman/fetched")


@pytest.mark.parametrize("change, named", [
    (lambda root: (root / FILES[0]).write_bytes(b"not the image"), "fails its checksum"),
    (lambda root: (root / FILES[1]).unlink(), "1 files missing"),
    (lambda root: shutil.copy(root / FILES[2], root / "train" / "i" / "extra.png"), "1 not listed"),
], ids=["changed", "missing", "added"])
def test_an_archive_that_differs_from_the_manifest_is_refused_and_nothing_is_left(workdir, original, tmp_path,
                                                                                  change, named):
    change(original)  # the archive is made from the changed folder; the manifest from the original
    url = archive(original, tmp_path / "snapshot").as_uri()
    with pytest.raises(DataError, match=named):
        fetch.resolve_folder("roman", data(url))
    assert not Path("data/roman/fetched").exists() and list(Path("data/roman").iterdir()) == []


def test_a_fetched_copy_changed_afterwards_is_refused(workdir, original, tmp_path):
    url = archive(original, tmp_path / "snapshot").as_uri()
    folder = fetch.resolve_folder("roman", data(url))
    (folder / FILES[3]).write_bytes(b"edited by hand")
    with pytest.raises(DataError, match="fails its checksum"):
        fetch.resolve_folder("roman", data(url))


def targets_for(params: dict, roman: Data) -> tuple[list[str], list[str]]:
    params = copy.deepcopy(params)
    params["roman"]["data"].update(roman.model_dump())
    return fetch.repro_targets(parse(params))


def test_unreachable_or_unset_the_dataset_is_left_out_with_one_line_saying_how_to_add_it(workdir, params, server):
    base, _ = server  # serves an empty folder: the archive is not there
    for url in (None, f"{base}/snapshot.zip", "http://127.0.0.1:9/snapshot.zip"):
        targets, lines = targets_for(params, data(url))
        assert targets == ["plot@fashion_mnist"] and len(lines) == 1 and "\n" not in lines[0]
        assert lines[0].startswith("roman: left out of this run (roman.data.path = '/nowhere/dcai-roman' is not")
        assert "To add it, put its class folders at /nowhere/dcai-roman (roman.data.path) or set roman.data.url" \
            in lines[0]


def test_every_dataset_ready_means_a_plain_dvc_repro(workdir, params, original, tmp_path):
    assert targets_for(params, data(None, str(original))) == ([], [])
    assert targets_for(params, data(archive(original, tmp_path / "snapshot").as_uri())) == ([], [])


@pytest.mark.parametrize("roman, named", [
    ({"url": "ftp-less-path.zip"}, "roman.data.url"),
    ({"url": "https://example.org/roman.zip", "manifest": None}, "roman.data.manifest"),
    ({"manifest": ""}, "roman.data.manifest"),
])
def test_a_bad_fetch_setting_is_named(tmp_path, params, roman, named):
    params["roman"]["data"].update(roman)
    with pytest.raises(ConfigError, match=f"params.yaml: {named} = "):
        load_params(path=write(tmp_path, params))
