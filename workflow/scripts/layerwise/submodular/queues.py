"""Lazy-evaluation queues split by item group: 8-byte entries, one small heap per (block, group).

f_NN decomposes over the connected components of its graph (the classes, for a
graph built class by class): an item's gain for block j depends only on j's
coverage of its own component, so it changes only when j takes an item of the
same group. Block j's virtual queue is therefore kept as one heap per group
(at most the group's size, ~10 KB for an ImageNet class, so it stays in cache)
plus, for Algorithm 3, a pointer per group into the group's slice of the
shared singleton list; a winner tree over the groups' leaves (top bound, or
best item with its exact gain) gives the block's best (minblock._best).

Entries are 8 bytes: the float32 bits of the key (an upper bound on a gain,
rounded up so it stays one) in the high word and 0xFFFFFFFF - item in the low
word, so one unsigned compare orders by (key desc, item asc); 0 means empty.
Rounding keys up changes no choice: an item is taken only when its exact
float64 gain beats every remaining upper bound, so the result is the exact argmax.
"""

import numba
import numpy as np

_D = 4  # 4-ary heaps: a sift step reads four adjacent children
_LOW = np.uint64(0xFFFFFFFF)


@numba.njit(cache=True, nogil=True)
def pack(k, i):
    near = np.float32(k)
    bits = np.uint64(near.view(np.uint32))
    if np.float64(near) < k:  # round up (keys are >= 0, so the next bit pattern is the next float)
        bits += np.uint64(1)
    return (bits << np.uint64(32)) | (_LOW - np.uint64(i))


@numba.njit(cache=True, nogil=True)
def key(e):
    return np.float64(np.uint32(e >> np.uint64(32)).view(np.float32))


@numba.njit(cache=True, nogil=True)
def item(e):
    return np.int64(_LOW - (e & _LOW))


@numba.njit(cache=True, nogil=True)
def heap_push(h, base, size, e):
    """Push ``e`` onto the heap h[base : base + size]; return the new size."""
    pos = size
    while pos > 0:
        parent = (pos - 1) // _D
        pe = h[base + parent]
        if e > pe:
            h[base + pos] = pe
            pos = parent
        else:
            break
    h[base + pos] = e
    return size + 1


@numba.njit(cache=True, nogil=True)
def heap_pop(h, base, size):
    """Drop the top of the heap h[base : base + size]; return the new size."""
    n = size - 1
    if n == 0:
        return 0
    e = h[base + n]
    pos = 0
    while True:
        first = _D * pos + 1
        if first >= n:
            break
        best = first
        bv = h[base + first]
        for c in range(first + 1, min(first + _D, n)):
            v = h[base + c]
            if v > bv:
                best = c
                bv = v
        if bv > e:
            h[base + pos] = bv
            pos = best
        else:
            break
    h[base + pos] = e
    return n


@numba.njit(inline="always")
def better(ka, ia, kb, ib):
    """(gain ka, item ia) precedes (kb, ib): larger gain, then smaller item."""
    return ka > kb or (ka == kb and ia < ib)


@numba.njit(cache=True, nogil=True)
def _wins(a, b, leafu, leafv):
    return leafu[a] >= 0 and (leafu[b] < 0 or better(leafv[a], leafu[a], leafv[b], leafu[b]))


@numba.njit(cache=True, nogil=True)
def tree_update(tree, leaves, g, leafu, leafv):
    """Group g's best changed: replay its path of a winner tree over groups (tree[1] is the
    group whose best item precedes all others'; padding leaves point at an empty group)."""
    i = (leaves + g) >> 1
    while i >= 1:
        a = tree[2 * i]
        b = tree[2 * i + 1]
        w = a if _wins(a, b, leafu, leafv) else b
        if w == tree[i] and w != g:
            break  # same winner, and g is not on the path above: nothing changes higher up
        tree[i] = w
        i >>= 1


@numba.njit(cache=True, nogil=True)
def tree_build(tree, leaves, ngroups, leafu, leafv):
    for g in range(leaves):
        tree[leaves + g] = g if g < ngroups else ngroups  # leafu[ngroups] = -1: an empty group
    for i in range(leaves - 1, 0, -1):
        a = tree[2 * i]
        b = tree[2 * i + 1]
        tree[i] = a if _wins(a, b, leafu, leafv) else b


@numba.njit(cache=True, nogil=True)
def group_top(h, base, size, lpack, lp, lend):
    """Best entry of one group: its heap top or its next shared-list entry (0 when both are empty)."""
    a = h[base] if size > 0 else np.uint64(0)
    b = lpack[lp] if lp < lend else np.uint64(0)
    return a if a > b else b


@numba.njit(cache=True, nogil=True)
def _find(parent, x):
    while parent[x] != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


@numba.njit(cache=True, nogil=True)
def groups(indptr, indices, data, ncols, min_size):
    """Group id of every row: connected components of rows sharing a column through positive
    weights (zero weights never enter a gain or raise a coverage, so no gain of one component
    depends on another's items), merged in order of first row until every group
    but the last has ``min_size`` rows (bounds the count). Returns (group_of, number of groups)."""
    n = len(indptr) - 1
    parent = np.arange(n)
    owner = np.full(ncols, -1, np.int64)
    for u in range(n):
        for p in range(indptr[u], indptr[u + 1]):
            if not data[p] > 0:
                continue
            c = indices[p]
            if owner[c] < 0:
                owner[c] = u
            else:
                a = _find(parent, u)
                b = _find(parent, owner[c])
                if a != b:
                    if a < b:
                        parent[b] = a
                    else:
                        parent[a] = b
    comp = np.full(n, -1, np.int64)
    size = np.zeros(n, np.int64)
    ncomp = 0
    for u in range(n):
        r = _find(parent, u)
        if comp[r] < 0:
            comp[r] = ncomp
            ncomp += 1
        size[comp[r]] += 1
    merged = np.empty(ncomp, np.int64)
    g = 0
    fill = 0
    for c in range(ncomp):
        if fill >= min_size:
            g += 1
            fill = 0
        merged[c] = g
        fill += size[c]
    group_of = np.empty(n, np.int64)
    for u in range(n):
        group_of[u] = merged[comp[_find(parent, u)]]
    return group_of, (g + 1 if n else 0)


@numba.njit(cache=True, nogil=True)
def group_lists(order, group_of, ngroups, sing):
    """The shared singleton list cut by group: items of group g, best first, at
    gorder[goff[g]:goff[g+1]] (a stable counting sort of ``order``), and their packed entries."""
    goff = np.zeros(ngroups + 1, np.int64)
    for u in order:
        goff[group_of[u] + 1] += 1
    for g in range(ngroups):
        goff[g + 1] += goff[g]
    fill = goff[:-1].copy()
    gorder = np.empty(len(order), np.int64)
    lpack = np.empty(len(order), np.uint64)
    for u in order:
        g = group_of[u]
        gorder[fill[g]] = u
        lpack[fill[g]] = pack(sing[u], u)
        fill[g] += 1
    return goff, gorder, lpack
