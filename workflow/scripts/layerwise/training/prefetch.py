"""Batches prepared by a background thread while the current step computes.

The store path decodes and crops the next batches (``finish`` of each loader
item) in a thread with its own CUDA stream, so decoding (``decode_jpeg`` on the
GPU ends with a stream synchronise) and the per-image crops never stall the
training thread; on CPU it is a plain thread. A bounded queue keeps at most
``depth`` finished batches ahead (memory), and items leave in loader order, so
the results are those of the same calls made in the training thread.
"""

import queue
import threading

import torch

_END = object()


class Prefetcher:
    """Iterate ``finish(item)`` for ``item`` in ``items``, computed ``depth`` ahead in a thread."""

    def __init__(self, items, finish, device=None, depth=2):
        self._queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        cuda = device is not None and torch.device(device).type == "cuda"
        self._device = torch.device(device) if cuda else None
        self._stream = torch.cuda.Stream(device=self._device) if cuda else None
        self._thread = threading.Thread(target=self._run, args=(items, finish), daemon=True)
        self._thread.start()

    def _put(self, value):
        while not self._stop.is_set():
            try:
                self._queue.put(value, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self, items, finish):
        if self._device is not None:  # the current device is per thread: the job's, not device 0
            torch.cuda.set_device(self._device)
        try:
            for item in items:
                if self._stream is None:
                    out, ready = finish(item), None
                else:
                    with torch.cuda.stream(self._stream):
                        out = finish(item)
                        ready = torch.cuda.Event()
                        ready.record(self._stream)
                if not self._put((out, ready, None)):
                    return
            self._put((_END, None, None))
        except BaseException as err:  # re-raised in the consumer: one error, the original one
            self._put((None, None, err))

    def __iter__(self):
        return self

    def __next__(self):
        out, ready, err = self._queue.get()
        if err is not None:
            self.close()
            raise err
        if out is _END:
            self._put((_END, None, None))  # a later next() ends again instead of blocking
            raise StopIteration
        if ready is not None:  # the consumer's stream waits for the batch; the allocator is told
            current = torch.cuda.current_stream(self._device)
            current.wait_event(ready)
            out.record_stream(current)
        return out

    def close(self):
        """Stop the thread (a restarted epoch or a finished job); unconsumed batches are dropped."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=10)
