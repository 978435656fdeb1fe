"""The prefetch thread of the store path (layerwise.training.prefetch)."""

import threading

import pytest

from layerwise.errors import InputError
from layerwise.training.prefetch import Prefetcher


def test_items_come_out_in_order_finished_in_another_thread():
    seen = []

    def finish(x):
        seen.append(threading.current_thread() is threading.main_thread())
        return x * x

    assert list(Prefetcher(iter(range(20)), finish, depth=3)) == [x * x for x in range(20)]
    assert seen and not any(seen)


def test_an_error_in_the_thread_is_raised_in_the_consumer_unchanged():
    def items():
        yield 1
        raise InputError("store.h5: image row 3 fails its checksum")

    batches = Prefetcher(items(), lambda x: x)
    assert next(batches) == 1
    with pytest.raises(InputError, match="row 3 fails"):
        next(batches)


def test_close_stops_a_producer_that_is_ahead_of_the_consumer():
    produced = []

    def items():
        for i in range(10_000):
            produced.append(i)
            yield i

    batches = Prefetcher(items(), lambda x: x, depth=2)
    assert next(batches) == 0
    batches.close()
    assert not batches._thread.is_alive() and len(produced) < 10
