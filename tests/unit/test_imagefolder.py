"""ImageFolder manifests against torchvision.datasets.ImageFolder, and every bad-tree error."""

import os

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.transforms.functional import pil_to_tensor

from layerwise.data.datasets import ManifestDataset
from layerwise.data.imagefolder import load_rgb
from layerwise.data.prepare import prepare, root_fingerprint
from layerwise.errors import InputError


def _save(path, rng, mode="RGB", fmt="JPEG", size=(24, 20)):
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    img = Image.fromarray(arr, "RGB")
    if mode != "RGB":
        img = img.convert(mode)
    img.save(path, fmt)
    return img


def make_tree(root, classes=("n01", "n02", "n03"), per_class=3, seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for c in classes:
            for i in range(per_class):
                _save(root / split / c / f"{c}_{i}.JPEG", rng)
    return root


def imagenet_cfg(root, verify="header"):
    return {"kind": "imagenet", "root": str(root), "verify_images": verify}


def test_manifest_matches_torchvision_imagefolder(tmp_path):
    root = make_tree(tmp_path / "tree")
    (root / "train" / "n02" / "sub").mkdir()
    _save(root / "train" / "n02" / "sub" / "deep.png", np.random.default_rng(5), fmt="PNG")
    out = tmp_path / "data.h5"
    prepare("imagenet", imagenet_cfg(root, "decode"), out)
    for split, folder in (("train", "train"), ("test", "val")):
        ours = ManifestDataset(out, split)
        ref = ImageFolder(str(root / folder))
        assert len(ours) == len(ref)
        for i in range(len(ref)):
            (img_a, label_a), (img_b, label_b) = ours[i], ref[i]
            assert label_a == label_b
            assert torch.equal(pil_to_tensor(img_a), pil_to_tensor(img_b))


@pytest.mark.parametrize("mode", ["L", "CMYK", "P", "RGBA"])
def test_odd_modes_load_as_rgb_like_pil_convert(tmp_path, mode):
    rng = np.random.default_rng(1)
    fmt = "PNG" if mode in ("P", "RGBA") else "JPEG"
    path = tmp_path / f"img_{mode}.JPEG"  # PNGs saved under a .JPEG name on purpose
    _save(path, rng, mode=mode, fmt=fmt)
    img = load_rgb(path)
    assert img.mode == "RGB"
    with Image.open(path) as ref:
        assert ref.format == fmt
        expected = np.asarray(ref.convert("RGB"))
    assert np.array_equal(np.asarray(img), expected)


def test_truncated_and_corrupt_images_name_the_file(tmp_path):
    root = make_tree(tmp_path / "tree")
    bad = root / "train" / "n01" / "n01_1.JPEG"
    bad.write_bytes(bad.read_bytes()[:200])
    with pytest.raises(InputError, match="n01_1.JPEG"):
        load_rgb(bad)
    with pytest.raises(InputError, match="n01_1.JPEG"):
        prepare("imagenet", imagenet_cfg(root, "decode"), tmp_path / "d.h5")
    garbage = root / "val" / "n02" / "n02_0.JPEG"
    garbage.write_bytes(b"not an image at all")
    bad.unlink()
    with pytest.raises(InputError, match="n02_0.JPEG"):
        prepare("imagenet", imagenet_cfg(root, "header"), tmp_path / "d.h5")
    assert not (tmp_path / "d.h5").exists()


def test_empty_class_folder(tmp_path):
    root = make_tree(tmp_path / "tree")
    (root / "train" / "n04").mkdir()
    (root / "val" / "n04").mkdir()
    with pytest.raises(InputError, match="n04: empty class folder"):
        prepare("imagenet", imagenet_cfg(root), tmp_path / "d.h5")


def test_train_and_val_classes_differ(tmp_path):
    root = make_tree(tmp_path / "tree")
    _save(root / "val" / "n09" / "x.JPEG", np.random.default_rng(0))
    with pytest.raises(InputError, match=r"only in eval: \['n09'\]"):
        prepare("imagenet", imagenet_cfg(root), tmp_path / "d.h5")


def test_missing_root_names_key_and_layout(tmp_path):
    with pytest.raises(InputError, match=r"datasets\.imagenet\.root is not set.*train/<wnid>"):
        prepare("imagenet", {"kind": "imagenet", "root": None}, tmp_path / "d.h5")
    with pytest.raises(InputError, match=r"datasets\.imagenet\.root: .*nowhere is not a directory"):
        prepare("imagenet", imagenet_cfg(tmp_path / "nowhere"), tmp_path / "d.h5")
    (tmp_path / "flat").mkdir()
    with pytest.raises(InputError, match=r"datasets\.imagenet\.root: expected an ImageFolder tree"):
        prepare("imagenet", imagenet_cfg(tmp_path / "flat"), tmp_path / "d.h5")


def test_non_image_files_are_reported_not_skipped(tmp_path):
    root = make_tree(tmp_path / "tree")
    (root / "train" / "n01" / "notes.txt").write_text("hello")
    (root / "train" / "n01" / ".DS_Store").write_text("metadata")
    with pytest.raises(InputError, match="notes.txt: not an image file name"):
        prepare("imagenet", imagenet_cfg(root), tmp_path / "d.h5")


def test_symlink_loop_is_named_once(tmp_path):
    root = make_tree(tmp_path / "tree")
    link = root / "train" / "n01" / "again"
    link.symlink_to("..")  # points at train/, which holds the link
    with pytest.raises(InputError) as err:
        prepare("imagenet", imagenet_cfg(root), tmp_path / "d.h5")
    msg = str(err.value)
    assert msg.startswith(f"{link}: symlink loop") and msg.count(str(link)) == 1 and "\n" not in msg
    assert not (tmp_path / "d.h5").exists()


def test_loop_through_two_links_is_named(tmp_path):
    root = make_tree(tmp_path / "tree")
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    _save(tmp_path / "y" / "extra.JPEG", np.random.default_rng(3))
    (tmp_path / "x" / "to_y").symlink_to(tmp_path / "y")
    (tmp_path / "y" / "to_x").symlink_to(tmp_path / "x")
    (root / "train" / "n02" / "ext").symlink_to(tmp_path / "x")
    with pytest.raises(InputError, match=r"train/n02/ext/to_y/to_x: symlink loop: it points to .*/x \("):
        prepare("imagenet", imagenet_cfg(root), tmp_path / "d.h5")


def test_links_without_loop_are_followed_like_torchvision(tmp_path):
    root = make_tree(tmp_path / "tree")
    _save(tmp_path / "shared" / "s.JPEG", np.random.default_rng(4))
    (root / "train" / "n01" / "a").symlink_to(tmp_path / "shared")
    (root / "train" / "n03" / "b").symlink_to(tmp_path / "shared")  # the same folder twice: no loop
    out = tmp_path / "d.h5"
    prepare("imagenet", imagenet_cfg(root), out)
    ref = ImageFolder(str(root / "train"))
    ours = ManifestDataset(out, "train")
    assert len(ours) == len(ref) == 3 * 3 + 2
    assert [ours[i][1] for i in range(len(ours))] == [label for _, label in ref.samples]


def test_root_fingerprint_sees_added_replaced_and_removed_images(tmp_path):
    root = make_tree(tmp_path / "tree")
    cfg = imagenet_cfg(root)
    first = root_fingerprint("imagenet", cfg)
    assert first == root_fingerprint("imagenet", cfg) and first.startswith("18 files")
    (root / "README.txt").write_text("not read by prepare")
    (root / "val" / "n01" / ".DS_Store").write_text("metadata")
    assert root_fingerprint("imagenet", cfg) == first
    new = root / "train" / "n02" / "n02_new.JPEG"
    _save(new, np.random.default_rng(9))
    added = root_fingerprint("imagenet", cfg)
    assert added != first and added.startswith("19 files")
    # Same path and size, other pixels written later: the mtime tells.
    data = new.read_bytes()
    st = new.stat()
    new.write_bytes(data)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert root_fingerprint("imagenet", cfg) not in (first, added)
    new.unlink()
    assert root_fingerprint("imagenet", cfg) == first
    (root / "val" / "n03" / "loop").symlink_to(root / "val")
    with pytest.raises(InputError, match="val/n03/loop: symlink loop"):
        root_fingerprint("imagenet", cfg)
    (root / "val" / "n03" / "loop").unlink()
    (root / "val" / "n03" / "gone.JPEG").symlink_to(tmp_path / "nowhere.JPEG")
    with pytest.raises(InputError, match=r"val/n03/gone.JPEG: cannot stat \(No such file"):
        root_fingerprint("imagenet", cfg)
    assert root_fingerprint("synthetic", {"kind": "synthetic"}) == ""


def test_root_fingerprint_says_one_line_on_a_large_tree(tmp_path, capsys):
    """A tree past ``large`` files prints one line on stderr before the digest is done (ImageNet's
    1.35 M files took ~20 s with nothing printed); a smaller one prints nothing; same digest."""
    root = make_tree(tmp_path / "tree")
    cfg = imagenet_cfg(root)
    quiet = root_fingerprint("imagenet", cfg, large=19)
    assert capsys.readouterr().err == ""
    assert root_fingerprint("imagenet", cfg, large=10) == quiet
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"datasets.imagenet: listing {root} ") and "10 files so far" in err[0]
