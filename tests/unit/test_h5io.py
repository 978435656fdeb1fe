"""HDF5 conventions: atomic writes and readers that reject stale or truncated files."""

import h5py
import numpy as np
import pytest
from conftest import synthetic_params

from layerwise.data import synthetic
from layerwise.data.datasets import H5ImageDataset
from layerwise.data.prepare import prepare
from layerwise.data.store import load_split
from layerwise.errors import InputError
from layerwise.h5io import atomic_h5, open_checked


def _prepare(path, **overrides):
    params = synthetic_params(**overrides)
    prepare("synthetic", {"kind": "synthetic", "synthetic": params}, path)
    return params


def test_attributes_and_round_trip(tmp_path):
    out = tmp_path / "data.h5"
    params = _prepare(out)
    with h5py.File(out) as f:
        assert f.attrs["format_version"] == 1 and f.attrs["stage"] == "prepare_data"
        assert f.attrs["seed"] == params["seed"] and "synthetic" in f.attrs["params"]
        assert "version" in f.attrs and "latents/level1" in f and "patch_sets/level0" in f
    images, labels = load_split(out, "test")
    ref = synthetic.generate(params)
    test = ref["splits"]["test"]
    assert np.array_equal(images, ref["images"][test]) and np.array_equal(labels, ref["labels"][test])
    ds = H5ImageDataset(out, "test")
    img, label = ds[3]
    assert img.shape == (3, 16, 16) and np.array_equal(img.permute(1, 2, 0).numpy(), images[3]) and label == labels[3]


def test_same_seed_bit_identical_files_content(tmp_path):
    _prepare(tmp_path / "a.h5", noise_std=2.0)
    _prepare(tmp_path / "b.h5", noise_std=2.0)
    with h5py.File(tmp_path / "a.h5") as a, h5py.File(tmp_path / "b.h5") as b:
        for name in ("images", "labels", "splits/train", "latents/level0"):
            assert np.array_equal(a[name][()], b[name][()])


def test_truncated_file_names_file_and_fix(tmp_path):
    out = tmp_path / "data.h5"
    _prepare(out)
    out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    with pytest.raises(InputError, match=rf"{out}: .*truncated.*Delete it and rerun"):
        load_split(out, "train")


def test_wrong_format_version_and_stage(tmp_path):
    out = tmp_path / "data.h5"
    _prepare(out)
    with h5py.File(out, "a") as f:
        f.attrs["format_version"] = 99
    with pytest.raises(InputError, match=rf"{out}: format_version 99.*Delete it"):
        load_split(out, "train")
    with pytest.raises(InputError, match="expected 'graph'"):
        with h5py.File(out, "a") as f:
            f.attrs["format_version"] = 1
        open_checked(out, "graph")


def test_failed_write_leaves_nothing(tmp_path):
    out = tmp_path / "x.h5"
    with pytest.raises(RuntimeError):
        with atomic_h5(out, "demo", {}, 0) as f:
            f.create_dataset("a", data=np.arange(3))
            raise RuntimeError("killed")
    assert not out.exists() and not (tmp_path / "x.h5.tmp").exists()
