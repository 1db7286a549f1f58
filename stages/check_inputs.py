"""Stage check_inputs: the whole of params.yaml checked, and each dataset's image folder linked where DVC hashes it.

DVC runs this stage on every `dvc repro` and `dvc exp run` (`always_changed` in dvc.yaml), so a setting no other
stage reads is still checked: every key at any depth against the keys that exist (labelsweep.params_check), then
every section by the settings models, whichever stages would rerun, even none. Then each image folder of
`datasets` is checked for links that leave it or loop, and linked at data/<dataset>/source (labelsweep.folders),
the path the download stage depends on. Its output, `--out`, is the same small file every time: it orders the
stages after this one without making any of them rerun.
"""

from pathlib import Path

import yaml

from labelsweep import folders, stage
from labelsweep.config import Data
from labelsweep.errors import DataError
from labelsweep.fetch import FETCHED
from labelsweep.params_check import refuse_unknown_keys

CHECKED = "params.yaml and the image folders checked\n"


def _image_folder(name: str, data: Data) -> Path | None:
    """The folder an image-folder dataset is read from, checked; None where there is none (yet): the download
    stage reads Fashion-MNIST's checked files, fetches a missing folder or says, in one line, what is wrong."""
    if data.source != "image_folder":
        return None
    path = folders.data_path(data.path)
    if not path.is_dir():
        path = folders.data_path(FETCHED.format(name=name))
    if not path.is_dir():
        return None
    folders.check_links(path)
    return path


def main() -> None:
    try:
        written = yaml.safe_load(Path("params.yaml").read_text())
    except (OSError, yaml.YAMLError):
        written = None  # load_params says what is wrong with the file
    if isinstance(written, dict):
        refuse_unknown_keys(written)  # first: it names the closest key, the settings models only the key
    args, params = stage.arguments(__doc__, "out", help={"out": "output file (always the same text)"})
    for name in params.datasets:
        try:
            folder = _image_folder(name, params.dataset(name).data)
        except DataError as err:
            raise DataError(f"{name}.data.path: {err}") from None
        folders.link_source(name, folder)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(CHECKED)


if __name__ == "__main__":
    stage.run(main)
