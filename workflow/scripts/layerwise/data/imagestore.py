"""The training-image store (``results/{dataset}/store.h5``): every image of a manifest
re-encoded once at a bounded size, read by DataLoader workers without the original tree.

Greedy layer-wise training reads the training set once per epoch *per layer*
(SimCNN k=1 on ImageNet: 8 layers x 45 epochs), so full-size JPEG decoding with
PIL would starve the GPU. The store is FFCV-style: each image is decoded once
(which also catches truncated files, unlike a header check), resized so its
short side is at most ``short_side``, re-encoded as RGB JPEG at ``quality`` and
appended to one flat byte array. Layout (stage ``build_store``)::

    jpeg          uint8 (total_bytes,)  concatenated JPEG files
    offsets       int64 (N + 1,)        image r is jpeg[offsets[r]:offsets[r + 1]]
    heights, widths  int32 (N,)         decoded size of each stored image
    crc32         uint32 (N,)           checksum of each image's bytes, checked on read
    attrs: data_fingerprint (of data.h5's root, paths, labels, splits), params

Rows are those of ``data.h5`` (``splits/train`` and ``splits/test`` index both).
"""

import hashlib
import io
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from layerwise.data.imagefolder import to_rgb
from layerwise.data.store import open_data
from layerwise.errors import InputError
from layerwise.h5io import atomic_h5, open_checked, read_params

STAGE = "build_store"
PARAM_KEYS = ("short_side", "quality")
_CHUNK_BYTES = 1 << 20
_WRITE_BLOCK = 512  # images encoded per write


def data_fingerprint(data_path):
    """SHA-256 of what defines the images of a manifest: root, paths, labels and splits."""
    digest = hashlib.sha256()
    with open_data(data_path) as f:
        if "paths" not in f:
            raise InputError(f"{data_path} holds pixels, not a manifest; the image store is for ImageNet-style trees")
        digest.update(str(f.attrs["root"]).encode())
        for name in ("paths", "labels", "splits/train", "splits/test"):
            values = f[name][()]
            digest.update(name.encode())
            digest.update(b"\0".join(values) if values.dtype == object else values.tobytes())
    return digest.hexdigest()


def encode_image(path, short_side, quality):
    """Decode ``path`` fully, bound its short side, re-encode as RGB JPEG: (bytes, h, w)."""
    try:
        with Image.open(path) as img:
            # JPEG DCT scaling: decode straight at >= short_side (2-8x less work on big images).
            img.draft("RGB", (short_side, short_side))
            img.load()  # raises on truncated data (the header check of prepare_data cannot)
            img = to_rgb(img, path)  # 16-bit grey scaled, not clipped
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise InputError(
            f"{path}: cannot decode this image ({err}). Replace or remove the file, then "
            "delete results/<dataset>/data.h5 and rerun (prepare_data, then build_store)."
        ) from None
    w, h = img.size
    if min(w, h) > short_side:
        scale = short_side / min(w, h)
        img = img.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue(), img.size[1], img.size[0]


def build_store(data_path, out_path, params, threads=1):
    """Write the store of every row of manifest ``data_path`` (see the module docstring)."""
    params = {k: params[k] for k in PARAM_KEYS}
    fingerprint = data_fingerprint(data_path)
    with open_data(data_path) as f:
        root = Path(f.attrs["root"])
        paths = [p.decode() if isinstance(p, bytes) else p for p in f["paths"][()]]
        labels, splits = f["labels"][()], {s: f[f"splits/{s}"][()] for s in ("train", "test")}
    n = len(paths)
    with atomic_h5(out_path, STAGE, params, 0) as out:
        jpeg = out.create_dataset("jpeg", shape=(0,), maxshape=(None,), dtype=np.uint8,
                                  chunks=(_CHUNK_BYTES,))
        offsets = np.zeros(n + 1, np.int64)
        heights, widths = np.zeros(n, np.int32), np.zeros(n, np.int32)
        crc = np.zeros(n, np.uint32)

        def job(rel):
            return encode_image(root / rel, params["short_side"], params["quality"])

        # PIL releases the GIL while decoding, resizing and encoding: threads scale on cores.
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            bar = tqdm(total=n, desc="build store", mininterval=5)
            for lo in range(0, n, _WRITE_BLOCK):
                encoded = list(pool.map(job, paths[lo : lo + _WRITE_BLOCK]))
                blob = b"".join(e[0] for e in encoded)
                start = offsets[lo]
                jpeg.resize((start + len(blob),))
                jpeg[start:] = np.frombuffer(blob, np.uint8)
                for r, (data, h, w) in enumerate(encoded, start=lo):
                    offsets[r + 1] = offsets[r] + len(data)
                    heights[r], widths[r], crc[r] = h, w, zlib.crc32(data)
                bar.update(len(encoded))
            bar.close()
        out.create_dataset("offsets", data=offsets)
        out.create_dataset("heights", data=heights)
        out.create_dataset("widths", data=widths)
        out.create_dataset("crc32", data=crc)
        out.create_dataset("labels", data=labels)
        for s, rows in splits.items():
            out.create_dataset(f"splits/{s}", data=rows)
        out.attrs["data_fingerprint"] = fingerprint
        out.attrs["num_images"] = n
    return {"images": n, "bytes": int(offsets[-1]), "bytes_per_image": float(offsets[-1]) / max(1, n)}


_FIX = "Delete it and rerun `snakemake ... results/{dataset}/store.h5` (rule build_store rebuilds it)."


def check_store(store_path, data_path, params=None):
    """Refuse a store that is truncated, or was built from another data.h5 or other params."""
    required = ("jpeg", "offsets", "heights", "widths", "crc32", "labels", "splits/train", "splits/test")
    with open_checked(store_path, STAGE, required=required) as f:
        n, total = len(f["offsets"]) - 1, int(f["offsets"][-1])
        size = len(f["jpeg"])
        stored = read_params(f)
        fingerprint = f.attrs.get("data_fingerprint", "")
    if size != total:
        raise InputError(f"{store_path}: truncated ({size} of {total} image bytes). {_FIX}")
    if fingerprint != data_fingerprint(data_path):
        raise InputError(
            f"{store_path}: built from another image tree than {data_path} (root, paths, labels or "
            f"splits differ). {_FIX}"
        )
    if params is not None:
        wanted = {k: params[k] for k in PARAM_KEYS}
        if stored != wanted:
            raise InputError(f"{store_path}: built with {stored}, but the config asks for {wanted}. {_FIX}")
    return n


class StoreReader:
    """Raw JPEG bytes of store rows; opens the file lazily (once per DataLoader worker).

    Rows are read at random, so HDF5's chunk cache (default 1 MiB) only costs: a
    read of one ~30 KB image through it copies the whole 1 MiB chunk into the
    cache first. ``chunk_cache`` is HDF5's ``rdcc_nbytes``; 0 reads straight into
    the result (benchmarks/imagenet_loader.py --random-reads measures both).
    """

    def __init__(self, path, chunk_cache=0):
        self.path, self._file, self.chunk_cache = str(path), None, chunk_cache
        with h5py.File(self.path, "r") as f:
            self.offsets = f["offsets"][()]
            self.heights = f["heights"][()].astype(np.int64)
            self.widths = f["widths"][()].astype(np.int64)
            self.crc = f["crc32"][()]

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_file"] = None  # h5py handles do not survive fork/pickle
        return state

    def read(self, rows):
        """uint8 tensors (one per row) of the stored JPEG files, checksums verified."""
        if self._file is None:
            self._file = h5py.File(self.path, "r", rdcc_nbytes=self.chunk_cache)
            self._jpeg = self._file["jpeg"]
        out = []
        for r in rows:
            data = self._jpeg[self.offsets[r] : self.offsets[r + 1]]
            if zlib.crc32(data) != int(self.crc[r]):
                raise InputError(f"{self.path}: image row {r} fails its checksum (corrupt store). {_FIX}")
            out.append(torch.from_numpy(data))
        return out
