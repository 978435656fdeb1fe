"""The training-image store, its loader and the streamed low-res features of manifests."""

import h5py
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.io import ImageReadMode, decode_jpeg

from layerwise.data import crops
from layerwise.data.imagefolder import load_rgb
from layerwise.data.imagestore import StoreReader, build_store, check_store
from layerwise.data.lowres import LowResDataset, low_res
from layerwise.data.prepare import prepare
from layerwise.errors import InputError
from layerwise.graph.features import load_features, project_pixels
from layerwise.training import precision
from layerwise.training.inputs import step_generator
from layerwise.training.sampler import FixedBatchSampler
from layerwise.training.storesource import StoreSource, eval_resize

PARAMS = {"short_side": 32, "quality": 90}


def tree(root, per_class=6, seed=0):
    rng = np.random.default_rng(seed)
    for split in ("train", "val"):
        for c in ("n01", "n02", "n03"):
            (root / split / c).mkdir(parents=True)
            for i in range(per_class if split == "train" else 2):
                h, w = rng.integers(24, 80, 2)
                Image.fromarray(rng.integers(0, 255, (h, w, 3), dtype=np.uint8)).save(
                    root / split / c / f"{c}_{i}.JPEG", quality=95)
    odd = root / "train" / "n01"
    Image.open(odd / "n01_0.JPEG").convert("L").save(odd / "n01_0.JPEG")
    Image.open(odd / "n01_1.JPEG").convert("CMYK").save(odd / "n01_1.JPEG")
    Image.open(odd / "n01_2.JPEG").save(odd / "n01_2.JPEG", format="PNG")
    return root


@pytest.fixture
def manifest(tmp_path):
    root = tree(tmp_path / "tree")
    data = tmp_path / "data.h5"
    prepare("imagenet", {"kind": "imagenet", "root": str(root), "verify_images": "header"}, data)
    return data


def paths_of(data):
    with h5py.File(data, "r") as f:
        root = f.attrs["root"]
        return [f"{root}/{p.decode()}" for p in f["paths"][()]]


def test_store_holds_every_image_bounded_and_close_to_the_original(manifest, tmp_path):
    store = tmp_path / "store.h5"
    stats = build_store(manifest, store, PARAMS, threads=2)
    assert check_store(store, manifest, PARAMS) == len(paths_of(manifest)) == stats["images"]
    reader = StoreReader(store)
    rows = list(range(stats["images"]))
    for r, data in zip(rows, reader.read(rows), strict=True):
        img = decode_jpeg(data)  # every stored image is an RGB JPEG (grey, CMYK, PNG converted)
        assert img.shape[0] == 3 and min(img.shape[1:]) <= 32
        assert tuple(img.shape[1:]) == (reader.heights[r], reader.widths[r])
        orig = load_rgb(paths_of(manifest)[r]).resize((img.shape[2], img.shape[1]), Image.BICUBIC)
        err = np.abs(np.asarray(orig, np.float32) - img.permute(1, 2, 0).numpy()).mean()
        assert err < 40  # noise images resampled + q90 JPEG; a wrong image or channel order gives ~85


def test_truncated_jpeg_is_caught_when_the_store_is_built(manifest, tmp_path):
    bad = paths_of(manifest)[5]
    data = open(bad, "rb").read()
    open(bad, "wb").write(data[: len(data) // 2])
    with pytest.raises(InputError, match="n01_5.JPEG: cannot decode"):
        build_store(manifest, tmp_path / "store.h5", PARAMS)
    assert not (tmp_path / "store.h5").exists()


def test_store_of_another_tree_other_params_truncated_or_corrupt_is_refused(manifest, tmp_path):
    store = tmp_path / "store.h5"
    build_store(manifest, store, PARAMS)
    with pytest.raises(InputError, match="built with .* but the config asks"):
        check_store(store, manifest, {"short_side": 64, "quality": 90})
    other = tmp_path / "other.h5"
    prepare("imagenet", {"kind": "imagenet", "root": str(tree(tmp_path / "t2", per_class=5))}, other)
    with pytest.raises(InputError, match="another image tree"):
        check_store(store, other, PARAMS)
    with h5py.File(store, "r+") as f:  # flip one byte of image 3
        f["jpeg"][int(f["offsets"][3]) + 10] ^= 0xFF
    with pytest.raises(InputError, match="row 3 fails its checksum"):
        StoreReader(store).read([3])
    with h5py.File(store, "r+") as f:
        f["jpeg"].resize((int(f["offsets"][-1]) - 7,))
    with pytest.raises(InputError, match="truncated"):
        check_store(store, manifest, PARAMS)


def source(manifest, store, threads=1):
    src = StoreSource(manifest, {"path": str(store), **PARAMS}, 16, seed=3, threads=threads)
    sampler = FixedBatchSampler(np.arange(18).reshape(3, 6), "fixed", 0)
    src.attach(sampler, 0, 1)
    return src, sampler


def test_store_batches_are_bit_for_bit_per_seed_epoch_step_with_or_without_workers(manifest, tmp_path):
    store = tmp_path / "store.h5"
    build_store(manifest, store, PARAMS)
    src, sampler = source(manifest, store)
    sampler.set_epoch(0)
    epoch0 = [src.train_batch(row, 0, i) for i, row in enumerate(sampler)]
    sampler.set_epoch(1)
    epoch1 = [src.train_batch(row, 1, i) for i, row in enumerate(sampler)]
    assert epoch0[0].shape == (6, 3, 16, 16) and epoch0[0].dtype == torch.float32
    assert not torch.equal(epoch0[1], epoch1[1])  # new crops each epoch
    again, sampler2 = source(manifest, store, threads=3)
    assert again.workers == {"train": 1, "eval": 1} and src.workers == {"train": 0, "eval": 0}
    sampler2.set_epoch(1, start=1)  # a resumed job: epoch 1 from step 1
    assert torch.equal(again.train_batch(sampler2.batches[1], 1, 1), epoch1[1])
    assert torch.equal(again.train_batch(sampler2.batches[2], 1, 2), epoch1[2])
    test = torch.cat(list(src.chunks("test", chunk=4)))
    assert test.shape == (6, 3, 16, 16) and torch.equal(test, torch.cat(list(again.chunks("test", chunk=4))))
    assert torch.equal(test, torch.cat(list(again.chunks("test"))))  # per-image crops: any chunking


def test_job_side_batched_decoding_path_decodes_the_seeded_boxes_of_the_step(manifest, tmp_path):
    # the CUDA path (one bytes tensor per batch from the workers, decoded and cropped by
    # grid_sample in the job), run on CPU, against the same steps recomputed by hand
    store = tmp_path / "store.h5"
    build_store(manifest, store, PARAMS)
    job = StoreSource(manifest, {"path": str(store), **PARAMS}, 16, seed=3, threads=2, decode_device="cpu")
    sampler = FixedBatchSampler(np.arange(18).reshape(3, 6), "fixed", 0)
    job.attach(sampler, 0, 1)
    sampler.set_epoch(2)
    got = [job.train_batch(row, 2, i) for i, row in enumerate(sampler)]
    reader = StoreReader(store)
    with h5py.File(store, "r") as f:
        train_rows = f["splits/train"][()]
    for i, row in enumerate(sampler.batches):
        rows = train_rows[row]
        boxes, flip = crops.random_resized_boxes(reader.heights[rows], reader.widths[rows],
                                                 step_generator(3, 2, i))
        images = [decode_jpeg(d, mode=ImageReadMode.RGB) for d in reader.read(rows)]
        want = crops.normalise(crops.crop_resize(images, boxes, 16, flip))
        assert torch.equal(got[i], want)
    test = torch.cat(list(job.chunks("test", chunk=3)))
    rows = [int(r) for r in np.sort(train_rows.max() + 1 + np.arange(6))]
    images = [decode_jpeg(d, mode=ImageReadMode.RGB) for d in reader.read(rows)]
    boxes = crops.center_boxes(reader.heights[rows], reader.widths[rows], 16, eval_resize(16))
    assert torch.equal(test, crops.normalise(crops.crop_resize(images, boxes, 16)))


def test_streamed_pixel_projection_equals_the_in_memory_projection(manifest):
    views = np.stack([low_res(p, 8) for p in paths_of(manifest)[:18]])  # the training split
    assert views.shape == (18, 8, 8, 3)
    streamed = load_features("pixels", manifest, None, dim=6, seed=1, side=8, workers=0)
    np.testing.assert_allclose(streamed, project_pixels(views, 6, 1), atol=1e-4)
    assert LowResDataset(manifest, "test", 8)[0][0].shape == (3, 8, 8)


def test_bf16_precision_runs_forward_in_bfloat16_and_returns_float32():
    torch.manual_seed(0)
    conv = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten())
    x = torch.randn(2, 3, 8, 8)
    ref = conv(x)
    seen = []
    conv[0].register_forward_hook(lambda m, a, out: seen.append(out.dtype))
    assert precision.apply(conv, "cpu", "bf16") == "bf16"
    out = conv(x)
    assert seen == [torch.bfloat16] and out.dtype == torch.float32
    assert (out - ref).abs().max() < 0.1 and not torch.equal(out, ref)
    assert precision.resolve("auto", "cpu") == "fp32" and precision.resolve("auto", "cuda") == "bf16"
    with pytest.raises(InputError, match="layerwise.precision"):
        precision.resolve("fp16", "cpu")


def test_streamed_autoencoder_trains_and_encodes_exactly_as_on_the_views_in_memory(manifest):
    from layerwise.autoencoder.features import extract, extract_stream
    from layerwise.autoencoder.residual import train_residual, train_residual_stream
    from layerwise.data.lowres import low_res_chunks

    torch.set_num_threads(1)
    cfg = {"width": 0.125, "epochs": 2, "batch_size": 5, "optimizer": "adam", "lr": 0.003,
           "momentum": 0.9, "weight_decay": 0.0, "seed": 0}
    views = torch.from_numpy(np.stack([low_res(p, 16) for p in paths_of(manifest)[:18]])).permute(0, 3, 1, 2)
    streamed, hist_s = train_residual_stream(manifest, 16, 0, cfg, None, torch.device("cpu"))
    in_memory, hist_m = train_residual(views.contiguous(), cfg, None, torch.device("cpu"))
    assert hist_s == hist_m
    for a, b in zip(streamed.state_dict().values(), in_memory.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    codes = extract_stream(streamed, low_res_chunks(manifest, "train", 16, 4, 0), 18)
    np.testing.assert_array_equal(codes, extract(in_memory, views.contiguous(), 4))
