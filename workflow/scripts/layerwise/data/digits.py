"""The semantic digits of paper 001, section 3.2, with stroke patches at every level.

Three levels, as in the paper: C_0 holds 9 line/corner symbols and every digit
is a 3x3 semantic image over them (a seven-segment display); C_1 holds 6 stroke
symbols; C_2 = pixels. With two labels D_even and D_odd are uniform over the
five even and the five odd digits.

* Level 0 -> 1: each C_0 symbol is drawn as a 3x3 patch of strokes over C_1
  (its line through the middle, a joint where lines meet). Its 4 manifestations
  choose a thick or thin stroke for each of its two arms; the blank symbol gets
  an empty patch or a dot in one corner.
* Level 1 -> 2: each C_1 stroke is a 3x3 grey mask rendered in 4 manifestations
  (two stroke/background grey pairs, and each either bright-on-dark or its
  photographic negative 255 - q). The negative makes every set closed under
  q -> 255 - q, so E[X | y] is the same for every label (the antipodal last
  level of the embedded default); ``polarity: false`` keeps only bright strokes.
"""

import numpy as np

from layerwise.errors import InputError

GLYPH_SYMBOLS = (" ", "─", "│", "┌", "┐", "└", "┘", "├", "┤")
STROKE_SYMBOLS = (" ", "━", "┃", "─", "│", "•")  # blank, thick h/v, thin h/v, joint

_ROWS = {
    0: ("┌─┐", "│ │", "└─┘"),
    1: (" │ ", " │ ", " │ "),
    2: ("──┐", "┌─┘", "└──"),
    3: ("──┐", "──┤", "──┘"),
    4: ("│ │", "└─┤", "  │"),
    5: ("┌──", "└─┐", "──┘"),
    6: ("┌──", "├─┐", "└─┘"),
    7: ("──┐", "  │", "  │"),
    8: ("┌─┐", "├─┤", "└─┘"),
    9: ("┌─┐", "└─┤", "──┘"),
}

GLYPHS = np.array(
    [[[GLYPH_SYMBOLS.index(ch) for ch in row] for row in _ROWS[d]] for d in range(10)],
    dtype=np.uint8,
)

# Cells (row, col) of each C_0 glyph's 3x3 drawing: arm A, arm B (each thick or
# thin, horizontal "h" or vertical "v"), and whether the centre is a joint.
_ARMS = {
    "─": ([(1, 0)], "h", [(1, 2)], "h", False),
    "│": ([(0, 1)], "v", [(2, 1)], "v", False),
    "┌": ([(1, 2)], "h", [(2, 1)], "v", True),
    "┐": ([(1, 0)], "h", [(2, 1)], "v", True),
    "└": ([(1, 2)], "h", [(0, 1)], "v", True),
    "┘": ([(1, 0)], "h", [(0, 1)], "v", True),
    "├": ([(0, 1), (2, 1)], "v", [(1, 2)], "h", True),
    "┤": ([(0, 1), (2, 1)], "v", [(1, 0)], "h", True),
}
_STROKE = {("h", True): "━", ("h", False): "─", ("v", True): "┃", ("v", False): "│"}


def _glyph_patches(symbol):
    """The 4 manifestations (4, 3, 3) over C_1 of one C_0 symbol."""
    out = np.zeros((4, 3, 3), dtype=np.uint8)
    if symbol == " ":  # empty, or a dot in one corner
        for j, cell in enumerate([None, (0, 0), (0, 2), (2, 2)]):
            if cell is not None:
                out[j][cell] = STROKE_SYMBOLS.index("•")
        return out
    arm_a, dir_a, arm_b, dir_b, joint = _ARMS[symbol]
    centre = "•" if joint else _STROKE[(dir_a, True)]
    for j, (thick_a, thick_b) in enumerate([(True, True), (True, False), (False, True), (False, False)]):
        out[j][1, 1] = STROKE_SYMBOLS.index(centre)
        for cell in arm_a:
            out[j][cell] = STROKE_SYMBOLS.index(_STROKE[(dir_a, thick_a)])
        for cell in arm_b:
            out[j][cell] = STROKE_SYMBOLS.index(_STROKE[(dir_b, thick_b)])
    return out


_MASKS = {  # 3x3 pixel masks of the C_1 strokes
    " ": np.zeros((3, 3)),
    "━": np.array([[0, 0, 0], [1, 1, 1], [1, 1, 1]]),
    "┃": np.array([[0, 1, 1], [0, 1, 1], [0, 1, 1]]),
    "─": np.array([[0, 0, 0], [1, 1, 1], [0, 0, 0]]),
    "│": np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]]),
    "•": np.array([[0, 1, 0], [1, 1, 1], [0, 1, 0]]),
}


def _stroke_pixels(symbol, polarity):
    """The 4 manifestations (4, 3, 3) in 0..255 of one C_1 stroke."""
    mask = _MASKS[symbol]
    if symbol == " ":  # empty masks: the background grey alone tells them apart
        greys = [0, 40, 255, 215] if polarity else [0, 20, 40, 60]
        return np.stack([np.full((3, 3), g, dtype=np.float32) for g in greys])
    pairs = [(255, 0), (190, 40)] if polarity else [(255, 0), (190, 0), (255, 40), (190, 40)]
    out = [fg * mask + bg * (1 - mask) for fg, bg in pairs]
    if polarity:
        out += [255 - p for p in out]
    return np.stack(out).astype(np.float32)


def digit_patch_sets(polarity=True, channels=1):
    """S_c^{(0)} (9, 4, 3, 3) over C_1 and S_c^{(1)} (6, 4, 3, 3, channels) in 0..255."""
    level0 = np.stack([_glyph_patches(s) for s in GLYPH_SYMBOLS])
    level1 = np.stack([_stroke_pixels(s, polarity) for s in STROKE_SYMBOLS])
    return [level0, np.repeat(level1[..., None], channels, axis=-1)]


def digit_classes(num_classes):
    """Digits that each label is uniform over: parity for 2 labels, identity for 10."""
    if num_classes == 2:
        return [list(range(0, 10, 2)), list(range(1, 10, 2))]
    if num_classes == 10:
        return [[d] for d in range(10)]
    raise InputError(
        "datasets.<name>.synthetic.num_classes: the digits model has 2 labels (even/odd) "
        f"or 10 (the digit), not {num_classes}"
    )
