"""The hierarchical generative model of paper 001, section 3.1, generalised to C labels.

A label y is drawn uniformly (balanced up to one per split); a semantic image
X(0) in C_0^{m0 x m0} is drawn from D_y; then for every level i = 0..d-1 each
pixel of class c in X(i) is replaced by an s x s patch drawn uniformly from the
set S_c^{(i)} of k distinct patches, the sets of different classes being
disjoint. Patches of levels i < d-1 are over the classes C_{i+1}; those of the
last level are real valued (the pixels, grey or RGB). X(d) plus optional
Gaussian noise, rounded to uint8, is the image.

The last level's patch sets decide what a shallow model can read
(``last_level``):

* ``uniform``: independent uniform grey levels. Every label has its own mean
  image, so logistic regression on raw pixels solves the task.
* ``antipodal``: each set is k/2 random patches q and their negatives 255 - q,
  so E[X | y] is the same for every label (first moments matched) while the
  sets stay disjoint and uniform, as the model requires.
* ``matched``: antipodal, and every set has the same second moment too: the
  k |C_{d-1}| patches sit equally spaced on one circle in a random plane of
  patch space, class c owning every |C_{d-1}|-th point (k equally spaced
  angles), so sum_q (q - 127.5)(q - 127.5)^T is the same for every class. Any
  polynomial of degree <= 2 in the pixels then has the same mean for every
  label (products across patches have zero mean by the sign symmetry).

``grid_offset`` > 0 shifts every image circularly by its own offset, uniform
in 0..grid_offset per axis, so the patch grid's phase is not given away; the
offsets are stored with the ground truth, latents stay unshifted.

Everything is drawn from one ``numpy.random.Generator`` seeded by
``params["seed"]`` in a fixed order, so the same parameters give the same
pixels bit for bit. The latent images X(0), ..., X(d-1) and the patch sets are
returned as ground truth for the clustering stage.
"""

import numpy as np

from layerwise.data.digits import GLYPH_SYMBOLS, GLYPHS, STROKE_SYMBOLS, digit_classes, digit_patch_sets
from layerwise.errors import InputError

LAST_LEVELS = ("uniform", "antipodal", "matched")


def _key(name):
    return f"datasets.<name>.synthetic.{name}"


def _options(params):
    """The keys added after the plain model of §3.1; absent keys mean that model."""
    return params.get("last_level", "uniform"), int(params.get("grid_offset", 0))


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
    last, offset = _options(params)
    if last not in LAST_LEVELS:
        raise InputError(f"{_key('last_level')}: one of {LAST_LEVELS}, not {last!r}")
    if last != "uniform" and k % 2:
        raise InputError(
            f"{_key('patches_per_class')}: last_level {last} pairs q with 255 - q, so k must be even, not {k}"
        )
    if last == "matched" and k < 4:
        raise InputError(
            f"{_key('patches_per_class')}: last_level matched needs k >= 4 (equal second moments), not {k}"
        )
    if not 0 <= offset < params["semantic_size"] * s ** len(levels):
        raise InputError(f"{_key('grid_offset')}: between 0 and the image side - 1, not {offset}")
    if params["semantic"] == "digits":
        want = (3, 3, [len(GLYPH_SYMBOLS), len(STROKE_SYMBOLS)], 4)
        got = (params["semantic_size"], s, levels, k)
        if got != want or last == "matched":
            raise InputError(
                f"{_key('semantic')}: digits needs semantic_size 3, patch_size 3, classes_per_level "
                f"{want[2]}, patches_per_class 4 and last_level uniform or antipodal (the strokes of §3.2)"
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


def _antipodal_patches(rng, classes, k, shape):
    """(classes, k, *shape): per class k/2 distinct integer patches q and their negatives 255 - q."""
    seen, half = set(), []
    while len(half) < classes * k // 2:
        q = rng.integers(0, 256, size=shape, dtype=np.uint8)
        keys = {q.tobytes(), (255 - q).tobytes()}
        if len(keys) == 2 and not keys & seen:
            seen |= keys
            half.append(q)
    half = np.stack(half).reshape((classes, k // 2) + shape)
    return np.concatenate([half, 255 - half], axis=1).astype(np.float32)


def _matched_patches(rng, classes, k, shape):
    """(classes, k, *shape): k |C| points equally spaced on a circle around 127.5 in a random plane.

    Point t has angle 2 pi t / (k |C|); class perm[t mod |C|] owns it, so each
    class holds k equally spaced angles (a rotated copy of the same frame) and
    sum over its patches of (q - 127.5)(q - 127.5)^T = k r^2 / 2 (u u^T + v v^T)
    for every class. The radius fills 0..255; the second half of the circle is
    written as 255 - q of the first so every pair is exactly antipodal.
    """
    dim, total = int(np.prod(shape)), classes * k
    u, v = np.linalg.qr(rng.normal(size=(dim, 2)))[0].T
    angles = 2 * np.pi * np.arange(total // 2) / total
    directions = np.cos(angles)[:, None] * u + np.sin(angles)[:, None] * v
    radius = 127.0 / np.abs(directions).max()
    first = np.rint(127.5 + radius * directions)
    points = np.concatenate([first, 255 - first])  # point t + total/2 is the negative of point t
    owner = rng.permutation(classes)[np.arange(total) % classes]
    out = np.empty((classes, k, dim), dtype=np.float32)
    for c in range(classes):
        out[c] = points[owner == c]
    return out.reshape((classes, k) + shape)


def patch_sets(rng, params):
    """S_c^{(i)} for every level: uint8 (|C_i|, k, s, s) over C_{i+1}, then float (|C_{d-1}|, k, s, s, ch).

    Disjointness across classes follows from drawing all |C_i| * k patches of a
    level as one distinct set and dealing them out. The digits model has fixed
    stroke sets (see :mod:`layerwise.data.digits`).
    """
    levels = list(params["classes_per_level"])
    s, k, ch = params["patch_size"], params["patches_per_class"], params["channels"]
    last, _ = _options(params)
    if params["semantic"] == "digits":
        return digit_patch_sets(polarity=last == "antipodal", channels=ch)
    sets = []
    for i in range(len(levels) - 1):
        flat = _distinct_patches(rng, levels[i] * k, levels[i + 1], s)
        sets.append(flat.reshape(levels[i], k, s, s))
    # Real patches take integer grey levels so that, without noise, every pixel
    # block equals its patch exactly after rounding to uint8.
    if last == "antipodal":
        sets.append(_antipodal_patches(rng, levels[-1], k, (s, s, ch)))
    elif last == "matched":
        sets.append(_matched_patches(rng, levels[-1], k, (s, s, ch)))
    else:
        real = rng.integers(0, 256, size=(levels[-1] * k, s, s, ch)).astype(np.float32)
        sets.append(real.reshape(levels[-1], k, s, s, ch))
    return sets


def _shift(rng, images, max_offset):
    """Every image rolled by its own (dy, dx), uniform in 0..max_offset: (images, offsets (n, 2))."""
    offsets = rng.integers(0, max_offset + 1, size=(len(images), 2))
    if max_offset == 0:
        return images, offsets
    out = np.empty_like(images)
    for i, (dy, dx) in enumerate(offsets):
        out[i] = np.roll(images[i], (dy, dx), axis=(0, 1))
    return out, offsets


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
    images, offsets = _shift(rng, images, _options(params)[1])
    return {
        "images": images,
        "labels": labels,
        "class_names": class_names(params),
        "splits": {"train": np.arange(n_train), "test": np.arange(n_train, n_train + n_test)},
        "latents": latents,
        "patch_sets": sets,
        "prototypes": prototypes,
        "offsets": offsets,
    }


def ground_truth(sample):
    """The ``extra`` datasets of data.h5 that hold the model's ground truth."""
    extra = {f"latents/level{i}": lat for i, lat in enumerate(sample["latents"])}
    extra.update({f"patch_sets/level{i}": p for i, p in enumerate(sample["patch_sets"])})
    extra["prototypes"] = sample["prototypes"]
    extra["offsets"] = sample["offsets"]
    return extra
