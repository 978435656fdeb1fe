"""The hierarchical generative model of paper 001, section 3.1, generalised to C labels.

A label y is drawn uniformly (balanced up to one per split); a semantic image
X(0) in C_0^{m0 x m0} is drawn from D_y; then for every level i = 0..d-1 each
pixel of class c in X(i) is replaced by an s x s patch drawn uniformly from the
set S_c^{(i)} of k distinct patches, the sets of different classes being
disjoint. Patches of levels i < d-1 are over the classes C_{i+1}; those of the
last level are real valued (the pixels, grey or RGB). X(d) plus optional
Gaussian noise, rounded to uint8, is the image.

Everything is drawn from one ``numpy.random.Generator`` seeded by
``params["seed"]`` in a fixed order, so the same parameters give the same
pixels bit for bit. The latent images X(0), ..., X(d-1) and the patch sets are
returned as ground truth for the clustering stage.
"""

import numpy as np

from layerwise.data.digits import GLYPH_SYMBOLS, GLYPHS, digit_classes
from layerwise.errors import InputError


def _key(name):
    return f"datasets.<name>.synthetic.{name}"


def _check(params):
    levels = list(params["classes_per_level"])
    s, k = params["patch_size"], params["patches_per_class"]
    if max(levels) > 255:
        raise InputError(f"{_key('classes_per_level')}: at most 255 classes per level (latents are uint8)")
    for i in range(len(levels) - 1):
        space = levels[i + 1] ** (s * s)
        if space < k * levels[i]:
            raise InputError(
                f"{_key('patches_per_class')}: level {i} needs {k} x {levels[i]} distinct "
                f"{s}x{s} patches over {levels[i + 1]} classes but only {space} exist; "
                "lower patches_per_class or raise classes_per_level / patch_size"
            )
    if params["semantic"] == "digits":
        if params["semantic_size"] != 3 or levels[0] != len(GLYPH_SYMBOLS):
            raise InputError(
                f"{_key('semantic')}: digits needs semantic_size 3 and "
                f"classes_per_level[0] {len(GLYPH_SYMBOLS)} (the glyph symbols)"
            )
        digit_classes(params["num_classes"])  # validates num_classes


def _distinct_patches(rng, count, num_values, s):
    """``count`` distinct s x s patches over ``num_values`` classes (rejection sampling)."""
    seen, out = set(), []
    while len(out) < count:
        for patch in rng.integers(0, num_values, size=(count, s, s), dtype=np.uint8):
            key = patch.tobytes()
            if key not in seen and len(out) < count:
                seen.add(key)
                out.append(patch)
    return np.stack(out)


def patch_sets(rng, params):
    """S_c^{(i)} for every level: uint8 (|C_i|, k, s, s) over C_{i+1}, then float (|C_{d-1}|, k, s, s, ch).

    Disjointness across classes follows from drawing all |C_i| * k patches of a
    level as one distinct set and dealing them out.
    """
    levels = list(params["classes_per_level"])
    s, k, ch = params["patch_size"], params["patches_per_class"], params["channels"]
    sets = []
    for i in range(len(levels) - 1):
        flat = _distinct_patches(rng, levels[i] * k, levels[i + 1], s)
        sets.append(flat.reshape(levels[i], k, s, s))
    # Real patches take integer grey levels so that, without noise, every pixel
    # block equals its patch exactly after rounding to uint8.
    real = rng.integers(0, 256, size=(levels[-1] * k, s, s, ch)).astype(np.float32)
    sets.append(real.reshape(levels[-1], k, s, s, ch))
    return sets


def _balanced_labels(rng, n, num_classes):
    return rng.permutation(np.arange(n) % num_classes).astype(np.int64)


def _semantic_images(rng, params, labels, prototypes):
    """X(0) for every label: a uniformly chosen prototype of D_y, pixels redrawn with resample_prob."""
    n, m0 = len(labels), params["semantic_size"]
    choice = rng.integers(0, prototypes.shape[1], size=n)
    x0 = prototypes[labels, choice].copy()
    if params["semantic"] == "random" and params["resample_prob"] > 0:
        redraw = rng.random((n, m0, m0)) < params["resample_prob"]
        fresh = rng.integers(0, params["classes_per_level"][0], size=(n, m0, m0), dtype=np.uint8)
        x0[redraw] = fresh[redraw]
    return x0


def _prototypes(rng, params):
    """(C, P, m0, m0) semantic images that D_y is uniform over."""
    if params["semantic"] == "digits":
        members = digit_classes(params["num_classes"])
        width = max(len(d) for d in members)
        # D_y is uniform over the label's digits; all parities have 5, digits 1.
        return np.stack([GLYPHS[np.resize(np.asarray(d), width)] for d in members]).astype(np.uint8)
    m0, c0 = params["semantic_size"], params["classes_per_level"][0]
    shape = (params["num_classes"], params["prototypes_per_class"], m0, m0)
    return rng.integers(0, c0, size=shape, dtype=np.uint8)


def _expand(rng, latent, patches):
    """Replace every pixel of class c by a uniformly chosen patch of S_c: (n, m, m) -> (n, ms, ms, ...)."""
    n, m, _ = latent.shape
    k, s = patches.shape[1], patches.shape[2]
    pick = rng.integers(0, k, size=latent.shape)
    blocks = patches[latent, pick]  # (n, m, m, s, s, ...)
    blocks = np.swapaxes(blocks, 2, 3)  # (n, m, s, m, s, ...)
    return blocks.reshape((n, m * s, m * s) + patches.shape[4:])


def class_names(params):
    if params["semantic"] == "digits":
        return ["even", "odd"] if params["num_classes"] == 2 else [str(d) for d in range(10)]
    return [f"class{c}" for c in range(params["num_classes"])]


def generate(params):
    """Draw a dataset; returns images uint8 (N, H, W, C), labels, splits and ground truth.

    Rows are the training split followed by the test split.
    """
    _check(params)
    rng = np.random.default_rng(params["seed"])
    sets = patch_sets(rng, params)
    prototypes = _prototypes(rng, params)
    n_train, n_test = params["n_train"], params["n_test"]
    labels = np.concatenate(
        [
            _balanced_labels(rng, n_train, params["num_classes"]),
            _balanced_labels(rng, n_test, params["num_classes"]),
        ]
    )
    latents = [_semantic_images(rng, params, labels, prototypes)]
    for patches in sets[:-1]:
        latents.append(_expand(rng, latents[-1], patches))
    pixels = _expand(rng, latents[-1], sets[-1])
    if params["noise_std"] > 0:
        pixels = pixels + rng.normal(0.0, params["noise_std"], size=pixels.shape)
    images = np.clip(np.rint(pixels), 0, 255).astype(np.uint8)
    return {
        "images": images,
        "labels": labels,
        "class_names": class_names(params),
        "splits": {"train": np.arange(n_train), "test": np.arange(n_train, n_train + n_test)},
        "latents": latents,
        "patch_sets": sets,
        "prototypes": prototypes,
    }


def ground_truth(sample):
    """The ``extra`` datasets of data.h5 that hold the model's ground truth."""
    extra = {f"latents/level{i}": lat for i, lat in enumerate(sample["latents"])}
    extra.update({f"patch_sets/level{i}": p for i, p in enumerate(sample["patch_sets"])})
    extra["prototypes"] = sample["prototypes"]
    return extra
