"""The generative model of paper 001 section 3 against its own definition."""

import numpy as np
import pytest
from conftest import synthetic_params
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from layerwise.data import synthetic
from layerwise.data.digits import GLYPHS, digit_classes
from layerwise.errors import InputError


def test_same_seed_same_pixels_different_seed_different():
    a = synthetic.generate(synthetic_params(noise_std=3.0))
    b = synthetic.generate(synthetic_params(noise_std=3.0))
    c = synthetic.generate(synthetic_params(noise_std=3.0, seed=1))
    assert np.array_equal(a["images"], b["images"]) and np.array_equal(a["labels"], b["labels"])
    assert not np.array_equal(a["images"], c["images"])


def test_shapes_and_balance():
    p = synthetic_params(n_train=203, n_test=41)
    s = synthetic.generate(p)
    side = p["semantic_size"] * p["patch_size"] ** len(p["classes_per_level"])
    assert s["images"].shape == (244, side, side, 3) and s["images"].dtype == np.uint8
    for split, n in (("train", 203), ("test", 41)):
        counts = np.bincount(s["labels"][s["splits"][split]], minlength=p["num_classes"])
        assert counts.max() - counts.min() <= 1 and counts.sum() == n


def _blocks(x, s):
    """(n, m*s, m*s, ...) -> (n, m, m, s, s, ...): the s x s block under every parent pixel."""
    n, side = x.shape[:2]
    m = side // s
    return np.swapaxes(x.reshape((n, m, s, m, s) + x.shape[3:]), 2, 3)


@pytest.mark.parametrize("channels", [1, 3])
def test_every_patch_lies_in_its_parents_set(channels):
    p = synthetic_params(channels=channels, classes_per_level=[4, 5, 6], semantic_size=2)
    s = synthetic.generate(p)
    levels = s["latents"] + [s["images"].astype(np.float32)]
    for i, sets in enumerate(s["patch_sets"]):
        parent, child = levels[i], _blocks(levels[i + 1], p["patch_size"])
        for c in range(sets.shape[0]):
            allowed = {patch.tobytes() for patch in sets[c].astype(child.dtype)}
            observed = {blk.tobytes() for blk in child[parent == c]}
            assert observed <= allowed, f"level {i}, class {c}"
    # The sets of different classes are disjoint and each holds k distinct patches.
    for sets in s["patch_sets"]:
        flat = {patch.tobytes() for per_class in sets for patch in per_class}
        assert len(flat) == sets.shape[0] * sets.shape[1]


def _one_hot(x0, num_values):
    return np.eye(num_values, dtype=np.float32)[x0].reshape(len(x0), -1)


def test_semantic_images_are_linearly_separable_but_pixels_are_harder():
    """The model's premise (001 section 3): G0 is linearly separable in one-hot form."""
    p = synthetic_params(num_classes=10, semantic_size=8, classes_per_level=[8, 8],
                         prototypes_per_class=4, resample_prob=0.05, n_train=2000, n_test=500,
                         noise_std=4.0)
    s = synthetic.generate(p)
    tr, te = s["splits"]["train"], s["splits"]["test"]
    x0 = _one_hot(s["latents"][0], 8)
    svm = LinearSVC(C=10.0, max_iter=20000).fit(x0[tr], s["labels"][tr])
    assert svm.score(x0[tr], s["labels"][tr]) == 1.0
    assert svm.score(x0[te], s["labels"][te]) >= 0.99
    pixels = s["images"].reshape(len(s["images"]), -1).astype(np.float32) / 255.0
    raw = LogisticRegression(max_iter=300).fit(pixels[tr], s["labels"][tr]).score(pixels[te], s["labels"][te])
    print(f"linear on one-hot X(0): test {svm.score(x0[te], s['labels'][te]):.3f}; on raw pixels: test {raw:.3f}")


def test_digits_preset_is_section_3_2():
    p = synthetic_params(semantic="digits", num_classes=2, semantic_size=3, patch_size=3,
                         classes_per_level=[9, 6], patches_per_class=4, channels=1)
    s = synthetic.generate(p)
    assert s["images"].shape[1:] == (27, 27, 1) and s["class_names"] == ["even", "odd"]
    glyph_digit = {GLYPHS[d].tobytes(): d for d in range(10)}
    digits = np.array([glyph_digit[x.tobytes()] for x in s["latents"][0]])
    assert np.array_equal(digits % 2, s["labels"])
    assert set(digits) == set(range(10))  # D_even, D_odd cover all five digits each
    assert len({g.tobytes() for g in GLYPHS}) == 10
    x0 = _one_hot(s["latents"][0], 9)
    assert LinearSVC(C=10.0).fit(x0, s["labels"]).score(x0, s["labels"]) == 1.0


def test_bad_parameters_name_the_key():
    with pytest.raises(InputError, match="patches_per_class"):
        synthetic.generate(synthetic_params(classes_per_level=[5, 2], patch_size=1, patches_per_class=1))
    with pytest.raises(InputError, match="semantic"):
        synthetic.generate(synthetic_params(semantic="digits"))
    with pytest.raises(InputError, match="num_classes"):
        digit_classes(3)
