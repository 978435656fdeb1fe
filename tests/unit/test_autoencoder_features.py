"""Residual autoencoder training and features.h5: alignment, determinism, resume, reconstruction."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from layerwise.autoencoder import inputs
from layerwise.autoencoder.checkpoint import build_model, load_model_file
from layerwise.autoencoder.features import extract, load_features
from layerwise.autoencoder.residual import mean_mse, train_residual
from layerwise.data import synthetic
from layerwise.data.store import write_arrays
from layerwise.errors import InputError
from layerwise.models.residual_ae import ResidualAutoencoder
from layerwise.training.checkpoint import Scratch

ROOT = Path(__file__).resolve().parents[2]
CFG = {
    "width": 0.125,
    "epochs": 2,
    "batch_size": 16,
    "optimizer": "adam",
    "lr": 0.003,
    "weight_decay": 0.0,
    "seed": 3,
}


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


def tiny_images(n=48, side=32, seed=0):
    rng = np.random.default_rng(seed)
    return torch.from_numpy(rng.integers(0, 256, (n, 3, side, side), dtype=np.uint8))


def test_features_are_aligned_with_rows_whatever_the_visiting_order():
    torch.manual_seed(0)
    model = ResidualAutoencoder(width=0.125).eval()
    images = tiny_images(37)
    plain = extract(model, images, batch_size=8)
    order = torch.randperm(len(images), generator=torch.Generator().manual_seed(1))
    shuffled = extract(model, images, batch_size=5, order=order)
    np.testing.assert_allclose(shuffled, plain, rtol=0, atol=1e-5)
    # each row is the code of its own image, encoded alone
    for i in (0, 13, 36):
        alone = model.features(inputs.to_float(images[i : i + 1]))[0].detach().numpy()
        np.testing.assert_allclose(plain[i], alone, rtol=0, atol=1e-5)


def test_same_seed_same_model_and_features_bit_for_bit(tmp_path):
    images = tiny_images()
    a, ha = train_residual(images, CFG, Scratch(tmp_path / "a"), "cpu")
    b, hb = train_residual(images, CFG, Scratch(tmp_path / "b"), "cpu")
    assert ha == hb
    assert np.array_equal(extract(a, images), extract(b, images))
    c, _ = train_residual(images, {**CFG, "seed": 4}, Scratch(tmp_path / "c"), "cpu")
    assert not np.array_equal(extract(a, images), extract(c, images))


def test_an_interrupted_run_resumes_to_the_same_model(tmp_path):
    images = tiny_images()
    full, hist = train_residual(images, CFG, Scratch(tmp_path / "full"), "cpu")
    # "killed" after one epoch: the scratch checkpoint of epoch 1 is all that is left
    train_residual(images, {**CFG, "epochs": 1}, Scratch(tmp_path / "cut"), "cpu")
    resumed, hist2 = train_residual(images, CFG, Scratch(tmp_path / "cut"), "cpu")
    assert hist == hist2
    for key, value in full.state_dict().items():
        assert torch.equal(value, resumed.state_dict()[key]), key


def test_a_few_hundred_steps_on_synthetic_data_beat_the_mean_image():
    params = {
        "semantic": "random",
        "num_classes": 4,
        "semantic_size": 4,
        "patch_size": 2,
        "classes_per_level": [4, 4],
        "patches_per_class": 1,
        "prototypes_per_class": 2,
        "resample_prob": 0.0,
        "channels": 3,
        "noise_std": 2.0,
        "n_train": 320,
        "n_test": 64,
        "seed": 0,
    }
    sample = synthetic.generate(params)
    images = torch.from_numpy(sample["images"].transpose(0, 3, 1, 2).copy())
    train, test = images[sample["splits"]["train"]], images[sample["splits"]["test"]]
    cfg = {**CFG, "width": 0.25, "epochs": 15, "batch_size": 16}  # 300 steps on 16x16 images
    model, hist = train_residual(train, cfg, None, "cpu")
    mean_image = inputs.to_float(train).mean(0)
    baseline = ((inputs.to_float(test) - mean_image) ** 2).mean().item()
    assert hist["recon_loss"][-1] < hist["recon_loss"][0]
    assert mean_mse(model, test) < 0.6 * baseline


def run(script, *args):
    return subprocess.run(
        [sys.executable, f"workflow/scripts/{script}", *args], cwd=ROOT, capture_output=True, text=True
    )


def write_data(path, n_train=24, side=32):
    images = np.random.default_rng(0).integers(0, 256, (n_train + 8, side, side, 3), dtype=np.uint8)
    labels = np.arange(n_train + 8) % 3
    # the training split is a permutation of rows, so "training index i" != row i
    train = np.random.default_rng(1).permutation(n_train + 8)[:n_train]
    test = np.setdiff1d(np.arange(n_train + 8), train)
    write_arrays(path, images, labels, ["a", "b", "c"], {"train": train, "test": test}, params={}, seed=0)
    return images, train


def test_cli_features_h5_rows_follow_the_training_split(tmp_path):
    data = tmp_path / "data.h5"
    images, train = write_data(data)
    out = tmp_path / "ae" / "model.pt"
    cfg = (
        '{"width": 0.125, "epochs": 1, "batch_size": 8, "optimizer": "adam", "lr": 0.001, '
        '"weight_decay": 0.0, "seed": 0}'
    )
    r = run("train_autoencoder.py", "--data", str(data), "--output", str(out), "--params", cfg)
    assert r.returncode == 0, r.stderr
    assert not (out.parent / "model.pt.scratch").exists()  # the library removed its scratch folder
    feats_path = tmp_path / "ae" / "features.h5"
    r = run("extract_features.py", "--data", str(data), "--model", str(out), "--output", str(feats_path))
    assert r.returncode == 0, r.stderr
    feats = load_features(feats_path, n_train=len(train))
    model = build_model(load_model_file(out))
    x = inputs.to_float(torch.from_numpy(images[train].transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(feats, model.features(x).detach().numpy(), rtol=0, atol=1e-5)
    with pytest.raises(InputError, match="feature rows"):
        load_features(feats_path, n_train=len(train) + 1)


def test_cli_odd_sides_train_padded_and_another_size_is_one_clear_error(tmp_path):
    """27x27 images (not a multiple of 16) train and encode, padded to 32 (codes 8 x 2 x 2);
    encoding 32x32 images with that model is one error that names the data file."""
    odd, even = tmp_path / "odd.h5", tmp_path / "even.h5"
    write_data(odd, side=27)
    write_data(even, side=32)
    cfg = (
        '{"width": 0.125, "epochs": 1, "batch_size": 8, "optimizer": "adam", "lr": 0.001, '
        '"weight_decay": 0.0, "seed": 0}'
    )
    model = tmp_path / "m.pt"
    r = run("train_autoencoder.py", "--data", str(odd), "--output", str(model), "--params", cfg)
    assert r.returncode == 0, r.stderr
    r = run("extract_features.py", "--data", str(odd), "--model", str(model), "--output", str(tmp_path / "f.h5"))
    assert r.returncode == 0, r.stderr
    assert load_features(tmp_path / "f.h5").shape == (24, 32)
    r = run("extract_features.py", "--data", str(even), "--model", str(model), "--output", str(tmp_path / "g.h5"))
    assert r.returncode == 2
    assert str(even) in r.stderr and "built for (3, 27, 27)" in r.stderr and "Traceback" not in r.stderr


def test_neighbour_agreement_matches_scikit_learn_cosine_neighbours():
    from sklearn.neighbors import NearestNeighbors

    from layerwise.autoencoder.features import neighbour_agreement

    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(300, 5)), rng.integers(0, 3, 300)
    x[:, 0] += 2 * y
    centred = x - x.mean(0)
    _, idx = NearestNeighbors(n_neighbors=11, metric="cosine").fit(centred).kneighbors(centred)
    peer = np.mean([np.mean(y[row[row != i][:10]] == y[i]) for i, row in enumerate(idx)])
    assert neighbour_agreement(x, y) == pytest.approx(peer, abs=1e-9)


def test_no_model_baselines_by_brute_force_and_the_table_flags_a_useless_autoencoder():
    from layerwise.autoencoder.report import mse_table
    from layerwise.autoencoder.residual import baseline_mses

    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 256, (50, 3, 4, 4), dtype=torch.uint8, generator=g)
    test = torch.randint(0, 256, (7, 3, 4, 4), dtype=torch.uint8, generator=g)
    tr, te = train.numpy() / 255.0, test.numpy() / 255.0
    base = baseline_mses(train, test)
    assert base["mean_image"] == pytest.approx(((te - tr.mean(0)) ** 2).mean())
    assert base["image_mean"] == pytest.approx(((te - te.mean(axis=(2, 3), keepdims=True)) ** 2).mean())
    attrs = {
        "test_mse": base["mean_image"] * 1.01,
        "test_mse_mean_image": base["mean_image"],
        "test_mse_image_mean": base["image_mean"],
    }
    row = mse_table({"resae": attrs}, "d").iloc[0]
    assert row["gain_vs_mean_image"] < 0 and "mean image" in row["note"]
    good = mse_table({"resae": {**attrs, "test_mse": base["mean_image"] / 2}}, "d").iloc[0]
    assert good["gain_vs_mean_image"] == pytest.approx(0.5) and good["note"] == ""


def test_pca_baseline_is_the_truncated_svd_reconstruction_and_the_table_reads_the_model_against_it():
    from layerwise.autoencoder.report import mse_table
    from layerwise.autoencoder.residual import pca_mse

    g = torch.Generator().manual_seed(3)
    train = torch.randint(0, 256, (60, 1, 4, 4), dtype=torch.uint8, generator=g)
    test = torch.randint(0, 256, (9, 1, 4, 4), dtype=torch.uint8, generator=g)
    tr, te = train.flatten(1).double().numpy() / 255, test.flatten(1).double().numpy() / 255
    mean = tr.mean(0)
    v = np.linalg.svd(tr - mean, full_matrices=False)[2][:3]  # top-3 principal directions
    recon = (te - mean) @ v.T @ v + mean
    assert pca_mse(train, test, 3) == pytest.approx(((recon - te) ** 2).mean(), rel=1e-9)
    assert pca_mse(train, test, 16) == pytest.approx(0.0, abs=1e-12)  # full rank: exact
    attrs = {"test_mse_mean_image": 0.2, "test_mse_image_mean": 0.25, "test_mse_pca": 0.1}
    between = mse_table({"resae": {**attrs, "test_mse": 0.15}}, "d").iloc[0]
    assert between["pca_mse"] == 0.1 and "PCA" in between["note"]
    assert mse_table({"resae": {**attrs, "test_mse": 0.09}}, "d").iloc[0]["note"] == ""
