"""The semantic digits of paper 001, section 3.2: 3x3 glyphs over 9 line/corner symbols.

C_0 holds 9 symbols (blank, two lines, four corners, two tees); each digit is a
3x3 semantic image over them, as on a seven-segment display. With two labels
D_even and D_odd are uniform over the five even and the five odd digits.
"""

import numpy as np

from layerwise.errors import InputError

GLYPH_SYMBOLS = (" ", "─", "│", "┌", "┐", "└", "┘", "├", "┤")

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
