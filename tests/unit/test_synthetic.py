"""The generative model of paper 001 section 3 against its own definition."""

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from conftest import synthetic_params
from layerwise.data import synthetic
from layerwise.data.digits import GLYPH_SYMBOLS, GLYPHS, STROKE_SYMBOLS, digit_classes
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


@pytest.mark.parametrize("channels,last_level", [(1, "uniform"), (3, "uniform"), (3, "antipodal"), (3, "matched")])
def test_every_patch_lies_in_its_parents_set(channels, last_level):
    p = synthetic_params(channels=channels, classes_per_level=[4, 5, 6], semantic_size=2, patches_per_class=4,
                         last_level=last_level, grid_offset=3)
    s = synthetic.generate(p)
    # Undo each image's grid offset; the latents are stored unshifted.
    images = np.stack(
        [np.roll(im, (-dy, -dx), axis=(0, 1)) for im, (dy, dx) in zip(s["images"], s["offsets"], strict=True)]
    )
    levels = s["latents"] + [images.astype(np.float32)]
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


def test_semantic_images_are_linearly_separable():
    """The model's premise (001 section 3): G0 is linearly separable in one-hot form."""
    p = synthetic_params(num_classes=10, semantic_size=8, classes_per_level=[8, 8],
                         prototypes_per_class=4, resample_prob=0.05, n_train=2000, n_test=500,
                         noise_std=4.0, last_level="matched", patches_per_class=4, grid_offset=1)
    s = synthetic.generate(p)
    tr, te = s["splits"]["train"], s["splits"]["test"]
    x0 = _one_hot(s["latents"][0], 8)
    svm = LinearSVC(C=10.0, max_iter=20000).fit(x0[tr], s["labels"][tr])
    assert svm.score(x0[tr], s["labels"][tr]) == 1.0
    assert svm.score(x0[te], s["labels"][te]) >= 0.99


def _raw_pixel_accuracy(sample):
    """Test accuracy of logistic regression on standardised raw pixels (the shallow baseline)."""
    tr, te = sample["splits"]["train"], sample["splits"]["test"]
    x = sample["images"].reshape(len(sample["images"]), -1).astype(np.float64)
    x = (x - x[tr].mean(0)) / (x[tr].std(0) + 1e-6)
    y = sample["labels"]
    return LogisticRegression(C=0.1, max_iter=300).fit(x[tr], y[tr]).score(x[te], y[te])


@pytest.mark.parametrize("last_level", ["antipodal", "matched"])
def test_last_level_sets_match_moments_and_stay_disjoint(last_level):
    p = synthetic_params(last_level=last_level, patches_per_class=4, classes_per_level=[5, 6])
    sets = synthetic.generate(p)["patch_sets"][-1]  # (|C_1|, k, s, s, ch)
    flat = sets.reshape(sets.shape[0], sets.shape[1], -1).astype(np.float64)
    assert len({q.tobytes() for q in flat.reshape(-1, flat.shape[-1])}) == flat.shape[0] * flat.shape[1]
    assert flat.min() >= 0 and flat.max() <= 255
    # First moment: every class's patches average to mid-grey (pairs q, 255 - q).
    np.testing.assert_allclose(flat.mean(1), 127.5, atol=1e-9)
    second = np.einsum("ckd,cke->cde", flat - 127.5, flat - 127.5) / flat.shape[1]
    spread = np.abs(second - second.mean(0)).max() / np.abs(second).max()
    if last_level == "matched":  # equal up to rounding the radius to integer grey levels
        assert spread < 0.02
    else:  # random antipodal pairs: second moments tell the classes apart
        assert spread > 0.3


def _quadratic_patch_features(sample, s):
    """Products of the pixels inside every s x s patch of the true (un-shifted) grid: a degree-2 model."""
    imgs = np.stack(
        [np.roll(im, (-dy, -dx), axis=(0, 1)) for im, (dy, dx) in zip(sample["images"], sample["offsets"], strict=True)]
    )
    z = (imgs.astype(np.float64) - 127.5) / 127.5
    n, side = len(z), z.shape[1]
    m = side // s
    patches = z.reshape(n, m, s, m, s, -1).transpose(0, 1, 3, 2, 4, 5).reshape(n, m * m, -1)
    iu = np.triu_indices(patches.shape[-1])
    return (patches[:, :, :, None] * patches[:, :, None, :])[:, :, iu[0], iu[1]].reshape(n, -1)


@pytest.mark.parametrize("last_level,hard", [("antipodal", False), ("matched", True)])
def test_degree_two_model_reads_antipodal_but_not_matched_pixels(last_level, hard):
    """Matched second moments leave a degree-2 model (knowing the grid) near chance; antipodal does not."""
    p = synthetic_params(num_classes=4, semantic_size=4, classes_per_level=[4, 4], patches_per_class=4,
                         prototypes_per_class=1, noise_std=2.0, last_level=last_level, grid_offset=1,
                         n_train=800, n_test=400, channels=1)
    s = synthetic.generate(p)
    q = _quadratic_patch_features(s, p["patch_size"])
    tr, te, y = s["splits"]["train"], s["splits"]["test"], s["labels"]
    q = (q - q[tr].mean(0)) / (q[tr].std(0) + 1e-6)
    acc = LogisticRegression(C=0.01, max_iter=500).fit(q[tr], y[tr]).score(q[te], y[te])
    print(f"{last_level}: degree-2 test accuracy {acc:.3f} (chance 0.25)")
    assert (acc <= 0.25 + 0.1) if hard else (acc >= 0.8)


def test_grid_offsets_shift_each_image_and_are_recorded():
    p = synthetic_params(grid_offset=1, n_train=100, n_test=20, noise_std=0.0)
    shifted, plain = synthetic.generate(p), synthetic.generate({**p, "grid_offset": 0})
    off = shifted["offsets"]
    assert off.shape == (120, 2) and set(np.unique(off)) == {0, 1}
    undone = np.stack(
        [np.roll(im, (-dy, -dx), axis=(0, 1)) for im, (dy, dx) in zip(shifted["images"], off, strict=True)]
    )
    assert np.array_equal(undone, plain["images"])  # same draws, only the roll differs
    moved = off.any(1)
    assert moved.mean() > 0.5 and not np.array_equal(shifted["images"][moved], plain["images"][moved])


def test_pixel_means_give_labels_away_only_on_the_uniform_last_level():
    """The issue-13 failure: uniform patches have a mean image per label; antipodal ones do not."""
    base = dict(num_classes=4, semantic_size=4, classes_per_level=[4, 4], patches_per_class=4,
                prototypes_per_class=2, resample_prob=0.05, noise_std=4.0, n_train=1000, n_test=400)
    uniform = _raw_pixel_accuracy(synthetic.generate(synthetic_params(**base, last_level="uniform")))
    antipodal = _raw_pixel_accuracy(synthetic.generate(synthetic_params(**base, last_level="antipodal")))
    print(f"raw-pixel logistic regression: uniform {uniform:.3f}, antipodal {antipodal:.3f} (chance 0.25)")
    assert uniform >= 0.9 and antipodal <= 0.25 + 0.08


def _digits(**overrides):
    return synthetic_params(**{**dict(semantic="digits", num_classes=2, semantic_size=3, patch_size=3,
                                      classes_per_level=[9, 6], patches_per_class=4, channels=1), **overrides})


def test_digits_preset_is_section_3_2():
    s = synthetic.generate(_digits())
    assert s["images"].shape[1:] == (27, 27, 1) and s["class_names"] == ["even", "odd"]
    glyph_digit = {GLYPHS[d].tobytes(): d for d in range(10)}
    digits = np.array([glyph_digit[x.tobytes()] for x in s["latents"][0]])
    assert np.array_equal(digits % 2, s["labels"])
    assert set(digits) == set(range(10))  # D_even, D_odd cover all five digits each
    assert len({g.tobytes() for g in GLYPHS}) == 10
    x0 = _one_hot(s["latents"][0], 9)
    assert LinearSVC(C=10.0).fit(x0, s["labels"]).score(x0, s["labels"]) == 1.0


def test_digit_glyphs_are_drawn_with_strokes_at_every_level():
    """Level 1 draws each glyph's arms where the glyph has them; level 2 draws each stroke's mask."""
    s = synthetic.generate(_digits(last_level="antipodal"))
    level0, level1 = s["patch_sets"]
    blank = STROKE_SYMBOLS.index(" ")
    horizontal = [STROKE_SYMBOLS.index(c) for c in "━─"]
    vertical = [STROKE_SYMBOLS.index(c) for c in "┃│"]
    for g, symbol in enumerate(GLYPH_SYMBOLS):
        for patch in level0[g]:
            if symbol == " ":
                assert (patch != blank).sum() <= 1  # empty, or one dot
                continue
            left, right, up, down = patch[1, 0], patch[1, 2], patch[0, 1], patch[2, 1]
            assert (left in horizontal) == (symbol in "─┐┘┤") and (right in horizontal) == (symbol in "─┌└├")
            assert (up in vertical) == (symbol in "│└┘├┤") and (down in vertical) == (symbol in "│┌┐├┤")
            assert (patch[[0, 0, 2, 2], [0, 2, 0, 2]] == blank).all()  # corners stay empty
    # Level 2: a stroke's pixels take two grey values split by its mask; negatives pair up.
    for c in range(1, len(STROKE_SYMBOLS)):
        for q in level1[c, :, :, :, 0]:
            assert len(np.unique(q)) == 2
        np.testing.assert_array_equal(level1[c, 2:], 255 - level1[c, :2])
    assert len({q.tobytes() for per in level0 for q in per}) == 9 * 4  # disjoint sets of 4 distinct patches


def test_antipodal_digits_hide_parity_from_raw_pixels():
    uniform = _raw_pixel_accuracy(synthetic.generate(_digits(last_level="uniform", n_train=1000, n_test=400)))
    antipodal = _raw_pixel_accuracy(synthetic.generate(_digits(last_level="antipodal", n_train=1000, n_test=400)))
    print(f"digits parity from raw pixels: bright strokes {uniform:.3f}, with negatives {antipodal:.3f}")
    assert antipodal <= 0.5 + 0.08 < uniform


def test_bad_parameters_name_the_key():
    with pytest.raises(InputError, match="patches_per_class"):
        synthetic.generate(synthetic_params(classes_per_level=[5, 2], patch_size=1, patches_per_class=1))
    with pytest.raises(InputError, match="semantic"):
        synthetic.generate(synthetic_params(semantic="digits"))
    with pytest.raises(InputError, match="num_classes"):
        digit_classes(3)
    with pytest.raises(InputError, match="patches_per_class"):
        synthetic.generate(synthetic_params(last_level="antipodal", patches_per_class=3))
    with pytest.raises(InputError, match="last_level"):
        synthetic.generate(synthetic_params(last_level="gaussian"))
    with pytest.raises(InputError, match="grid_offset"):
        synthetic.generate(synthetic_params(grid_offset=64))
