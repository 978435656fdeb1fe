"""A silent stand-in for ``tqdm.tqdm`` on machines without tqdm (benchmarks/gpu_acceptance.sh
puts this folder on PYTHONPATH only when ``import tqdm`` fails): iterates, counts, prints nothing."""


class tqdm:  # noqa: N801 (tqdm's own name)
    def __init__(self, iterable=None, total=None, **_):
        self.iterable, self.total, self.n = iterable, total, 0

    def __iter__(self):
        for item in self.iterable:
            self.n += 1
            yield item

    def __enter__(self):
        return self

    def __exit__(self, *_):
        self.close()

    def update(self, n=1):
        self.n += n

    def set_postfix(self, *_, **__):
        pass

    def set_postfix_str(self, *_, **__):
        pass

    def set_description(self, *_, **__):
        pass

    def close(self):
        pass

    @staticmethod
    def write(text, *_, **__):
        print(text)
