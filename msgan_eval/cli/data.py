"""``msgan-eval prepare``: export offline data as image folders (sub-folder per class)."""
import click

from msgan_eval.datasets import FASHION_MNIST_CLASSES, balanced_subset, load_fashion_mnist
from msgan_eval.errors import UserError
from msgan_eval.fileio import check_writable, owned_dir, require_new_or_empty
from msgan_eval.images import write_image_folder

from .options import emit, json_option, quiet_option, seed_option


@click.command()
@click.argument("dataset", type=click.Choice(["fashion-mnist"]))
@click.option("--out", "-o", required=True, type=click.Path(file_okay=False), help="Folder to write.")
@click.option("--split", type=click.Choice(["train", "test"]), default="test", show_default=True)
@click.option("--per-class", type=click.IntRange(min=1), default=50, show_default=True)
@click.option("--classes", default=None, help="Comma-separated class indices (default: all 10).")
@click.option("--data-root", type=click.Path(), default=None, help="Folder with the idx files.")
@seed_option
@json_option
@quiet_option
def prepare(dataset, out, split, per_class, classes, data_root, seed, as_json, quiet):
    """Write DATASET images as OUT/<class>/<index>.png (28x28 grayscale PNGs)."""
    import numpy as np

    require_new_or_empty(out)
    check_writable(out, "--out", folder=True)
    images, labels = load_fashion_mnist(split, data_root)
    wanted = None
    if classes:
        try:
            wanted = np.array(sorted({int(c) for c in classes.split(",")}))
        except ValueError:
            raise click.BadParameter("use comma-separated integers, e.g. 0,1,7", param_hint="--classes")
        if wanted.min() < 0 or wanted.max() > 9:
            raise click.BadParameter("class indices run from 0 to 9", param_hint="--classes")
    try:
        idx = balanced_subset(labels, per_class, seed, wanted)
    except UserError as exc:
        raise UserError(f"--per-class {per_class}: {exc} in the {split} split; ask for fewer") from None
    with owned_dir(out, "--out") as build:      # an interrupted export leaves no partial folder
        write_image_folder(build, images[idx], labels[idx], FASHION_MNIST_CLASSES,
                           progress_quiet=quiet)
    emit({"dataset": dataset, "split": split, "out": out, "n": int(len(idx)), "seed": seed},
         as_json, f"wrote {len(idx)} {dataset} {split} images to {out}")
