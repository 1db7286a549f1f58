"""Stage download: get one dataset, verify it, and write it as arrays for the later stages.

Fashion-MNIST is read from the folder in params, Debian's package or a torchvision download, each file
checked against the official checksums; an image folder is read with torchvision's ImageFolder and
resized, deduplicated by decoded pixels, and its test images equal to a training image dropped. The
optional stratified subsamples are taken here, so every later stage sees the same data.
Writes a folder: train/test images (uint8, N x C x H x W) and labels, sample ids, class names; and a
small JSON summary of the data (sizes, classes and, for an image folder, what deduplication removed,
counted before subsampling) that is committed with the results.
"""

import json

from labelsweep import artifacts, stage


def main() -> None:
    args, params = stage.arguments(__doc__, "dataset", "out", "summary",
                                   help={"summary": "output JSON: sizes, classes, deduplication counts"})

    from labelsweep import datasets  # imports torchvision: after the settings are known to be good

    with stage.work():
        data = datasets.load(args.dataset, params.dataset(args.dataset).data, params.seed)
    print(f"{args.dataset}: {len(data.train.labels)} train / {len(data.test.labels)} test samples, "
          f"{len(data.classes)} classes, images {data.train.images.shape[1:]}")
    extra = {
        "train_ids.txt": "\n".join(data.train.ids) + "\n",
        "classes.json": json.dumps(data.classes) + "\n",
    }
    if data.dedup is not None:
        print(f"{args.dataset}: deduplicated by decoded pixels: "
              + ", ".join(f"{key} {value}" for key, value in data.dedup.items()))
    artifacts.save_arrays(
        args.out,
        {
            "train_images": data.train.images,
            "train_labels": data.train.labels,
            "test_images": data.test.images,
            "test_labels": data.test.labels,
        },
        extra=extra,
    )
    artifacts.save_json(args.summary, {
        "train_samples": len(data.train.labels),
        "test_samples": len(data.test.labels),
        "classes": data.classes,
        "image_shape": list(data.train.images.shape[1:]),
        "dedup": data.dedup,
    })


if __name__ == "__main__":
    stage.run(main)
