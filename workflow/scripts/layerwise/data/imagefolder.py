"""ImageFolder trees (``root/<split>/<class>/<image>``): scanning, checks and decoding.

Classes are the sorted folder names and files are visited in sorted order, as
``torchvision.datasets.ImageFolder`` does, so a manifest row and an ImageFolder
index name the same image. Unlike ImageFolder, every problem is an error that
names the folder or file: an empty class folder, class folders that differ
between splits, a file that is not an image, a corrupt or truncated image, a
symlink loop.
"""

import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from layerwise.errors import InputError

WIDE_GREY = ("I;16", "I;16L", "I;16B", "I;16N", "I")


def to_rgb(img, path):
    """8-bit RGB of a decoded image, keeping the full range of 16-bit grey.

    ``convert("RGB")`` clips 16-bit grey (``I;16``, and ``I`` as PNG/TIFF decoders
    give it) at 255, so a mid-grey 32896 became white: those are scaled by 255/65535
    (rounded) instead. Grey, palette, CMYK and YCbCr convert as PIL does; an alpha
    channel is dropped without compositing and the EXIF orientation tag is ignored,
    both as torchvision's ImageFolder loader does (docs/data.md). Float images (mode
    ``F``) have no defined range and are refused.
    """
    if img.mode == "RGB":
        return img  # no copy: its pixels stay valid once the file closes
    if img.mode in WIDE_GREY:
        wide = np.asarray(img)
        if img.mode == "I":  # int32: clip to the 16-bit range its decoders fill
            wide = np.clip(wide, 0, 65535)
        grey = ((wide.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # round(v / 257)
        return Image.fromarray(grey, "L").convert("RGB")
    if img.mode == "F":
        raise InputError(
            f"{path}: a 32-bit float image has no defined pixel range; convert it to 8- or "
            "16-bit (e.g. PNG), then rerun the workflow."
        )
    return img.convert("RGB")


def load_rgb(path):
    """Decode an image fully and return it as 8-bit RGB (see :func:`to_rgb`).

    The format is detected from the content, so a PNG named ``.JPEG`` loads too.
    """
    try:
        with Image.open(path) as img:
            img.load()  # raises on truncated data instead of returning a grey tail
            return to_rgb(img, path)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(
            f"{path}: cannot decode this image ({err}). Replace or remove the file, "
            "then rerun the workflow (a changed dataset root rebuilds data.h5)."
        ) from None


def check_header(path):
    try:
        with Image.open(path) as img:
            img.verify()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(
            f"{path}: not a readable image ({err}). Replace or remove the file, "
            "then rerun the workflow."
        ) from None


def find_split_dir(root, names, key):
    """The first existing ``root/<name>`` of ``names``; an error naming the layout otherwise."""
    for name in names:
        if (Path(root) / name).is_dir():
            return Path(root) / name
    wanted = " or ".join(f"{root}/{n}/<class>/<image>" for n in names)
    raise InputError(f"{key}: expected an ImageFolder tree {wanted}; no {'/'.join(names)} folder in {root}")


def walk_files(top):
    """Every file under ``top`` except dot-files, sorted by path, following directory symlinks.

    A symlink to a folder that contains it (directly or through other links)
    would make the walk endless (os.walk stops only when paths grow too long, after
    printing the same folders dozens of times): it is an InputError naming the link.
    """
    top = Path(top)
    chain = {str(top): (os.path.realpath(top),)}  # real paths of each folder and its ancestors
    for dirpath, dirnames, filenames in os.walk(top, followlinks=True):
        dirnames.sort()
        ancestors = chain.pop(dirpath)
        for name in dirnames:
            sub = os.path.join(dirpath, name)
            real = os.path.realpath(sub)
            if os.path.islink(sub) and any(a == real or a.startswith(real.rstrip(os.sep) + os.sep) for a in ancestors):
                raise InputError(
                    f"{sub}: symlink loop: it points to {os.readlink(sub)} ({real}), a folder that contains "
                    "the link itself. Remove the link or point it outside the dataset root."
                )
            chain[sub] = (*ancestors, real)
        for fname in sorted(filenames):
            if not fname.startswith("."):  # editor and OS metadata (.DS_Store), never images
                yield Path(dirpath) / fname


def scan_split(split_dir):
    """``(classes, [(relative path, label)])`` of one split folder, sorted like ImageFolder."""
    classes = sorted(e.name for e in os.scandir(split_dir) if e.is_dir())
    if not classes:
        raise InputError(f"{split_dir}: no class folders; expected {split_dir}/<class>/<image>")
    # imported where used: `import torchvision` pulls in torch._dynamo (~1 CPU-s per job), and the
    # demo's ~100 jobs on in-memory arrays never need it
    from torchvision.datasets.folder import IMG_EXTENSIONS

    items = []
    for label, name in enumerate(classes):
        files, foreign = [], []
        for full in walk_files(split_dir / name):
            (files if full.name.lower().endswith(IMG_EXTENSIONS) else foreign).append(full)
        if foreign:
            raise InputError(
                f"{foreign[0]}: not an image file name ({len(foreign)} such file(s) under "
                f"{split_dir / name}); move them out of the tree (accepted: {', '.join(IMG_EXTENSIONS)})"
            )
        if not files:
            raise InputError(f"{split_dir / name}: empty class folder; remove it or add its images")
        items.extend((str(f.relative_to(split_dir.parent)), label) for f in files)
    return classes, items


def check_same_classes(train_classes, eval_classes, train_dir, eval_dir):
    if train_classes != eval_classes:
        only_train = sorted(set(train_classes) - set(eval_classes))
        only_eval = sorted(set(eval_classes) - set(train_classes))
        raise InputError(
            f"class folders differ between {train_dir} and {eval_dir}: only in train: "
            f"{only_train[:5]}{'...' if len(only_train) > 5 else ''}; only in eval: "
            f"{only_eval[:5]}{'...' if len(only_eval) > 5 else ''}. Both splits need the same class folders."
        )


def verify_images(root, rel_paths, mode, threads):
    """Open every image (``header``) or decode it fully (``decode``); errors name the file."""
    check = check_header if mode == "header" else load_rgb
    # PIL releases the GIL while decoding, so threads scale on real cores.
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        jobs = pool.map(check, (Path(root) / p for p in rel_paths))
        for _ in tqdm(jobs, total=len(rel_paths), desc=f"verify images ({mode})", mininterval=5):
            pass


def scan_tree(root, eval_names, key):
    """Scan ``root/train`` and the first of ``eval_names``: classes, rows and split row indices."""
    train_dir = find_split_dir(root, ["train"], key)
    eval_dir = find_split_dir(root, eval_names, key)
    classes, train_items = scan_split(train_dir)
    eval_classes, eval_items = scan_split(eval_dir)
    check_same_classes(classes, eval_classes, train_dir, eval_dir)
    items = train_items + eval_items
    splits = {
        "train": list(range(len(train_items))),
        "test": list(range(len(train_items), len(items))),
    }
    return classes, items, splits
