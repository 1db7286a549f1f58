"""Where a dataset's folder is, and whether its tree can be trusted.

Three things a stage must agree on with DVC:

- A relative ``<dataset>.data.path`` means a folder relative to the repository, wherever DVC runs the stage: in the
  workspace, or in the temporary copy of a ``dvc exp run --temp`` or a queued experiment (DVC makes those under
  ``<repository>/.dvc/tmp/exps/``, and the data, ignored by git, is not copied there). :func:`data_path` resolves
  it against the real repository (:func:`repo_root`).
- DVC's templating cannot look up ``<dataset>.data.path`` per dataset of a matrix stage, so the ``check_inputs``
  stage links each image folder at ``data/<dataset>/source`` (:func:`link_source`), a path dvc.yaml can name;
  ``download`` depends on it, and DVC hashes the folder through the link: an edited, added, removed or moved
  image reruns ``download`` and whatever its arrays change.
- An image folder's tree is what both torchvision (which follows links) and DVC (which does not enter linked
  folders) read the same way only without links that leave the folder or loop: :func:`check_links` refuses them.
"""

from __future__ import annotations

import os
from pathlib import Path

from labelsweep.errors import DataError

EXPERIMENTS_DIR = (".dvc", "tmp", "exps")  # DVC's temporary copies of the repository, for --temp and the queue
SOURCE = "data/{name}/source"  # the link to a dataset's folder, as dvc.yaml's download stage names it


def repo_root(cwd: Path | None = None) -> Path:
    """The repository a stage runs for: `cwd` (default: the working directory), or, inside one of DVC's
    temporary experiment copies (``<root>/.dvc/tmp/exps/...``), the repository that copy was made from."""
    cwd = (cwd or Path.cwd()).absolute()
    parts = cwd.parts
    for i in range(len(parts) - len(EXPERIMENTS_DIR)):
        if parts[i:i + len(EXPERIMENTS_DIR)] == EXPERIMENTS_DIR:
            return Path(*parts[:i])
    return cwd


def data_path(path: str | Path, cwd: Path | None = None) -> Path:
    """A data path from params.yaml: absolute as given; relative, the same path under the repository
    (:func:`repo_root`): as given in the repository itself, prefixed with it in an experiment's copy."""
    path = Path(path).expanduser()
    root = repo_root(cwd)
    return path if path.is_absolute() or root == (cwd or Path.cwd()).absolute() else root / path


def check_links(folder: Path) -> None:
    """Raise DataError, naming the link, if a symbolic link under `folder` points outside it or to a folder that
    holds the link (a loop: torchvision would read the same images again under another class)."""
    root = folder.resolve()
    for parent, dirs, files in os.walk(folder):
        for name in dirs + files:
            link = Path(parent) / name
            if not link.is_symlink():
                continue
            target = link.resolve()
            if root != target and root not in target.parents:
                raise DataError(f"{link} links outside the image folder {folder} (to {target}): copy the file in or "
                                "remove the link")
            if target.is_dir() and (target == link.parent.resolve() or target in link.parent.resolve().parents):
                raise DataError(f"{link} links to {target}, a folder that holds it (a loop): remove the link")


def link_source(name: str, folder: Path | None, cwd: Path | None = None) -> Path:
    """Point ``data/<name>/source`` (under `cwd`) at `folder`; with None make it an empty folder (a dataset read
    from no image folder, or one whose folder is missing: the download stage then says what is wrong)."""
    link = (cwd or Path.cwd()) / SOURCE.format(name=name)
    link.parent.mkdir(parents=True, exist_ok=True)
    if link.is_symlink():
        link.unlink()
    elif link.is_dir():
        link.rmdir()  # only ever an empty placeholder: a folder with files in it is refused, never deleted
    if folder is None:
        link.mkdir()
    else:
        link.symlink_to(folder.resolve(), target_is_directory=True)
    return link
