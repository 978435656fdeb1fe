"""The sync-free step (loop.FiniteWatch, device-side sums), time-based checkpoints, and momentum
reset at learning-rate decays against a hand loop that builds a new SGD per decay (the authors')."""

import pytest
import torch
import torch.nn.functional as F

from layerwise.training import checkpoint, loop, schedule
from layerwise.training.checkpoint import Scratch
from layerwise.training.loop import Task, TrainingDiverged, fit

torch.set_num_threads(1)


def _data(n=80, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 6, generator=g)
    return x, (x[:, 0] > 0).long()


def _task(x, y, batch=4, bad_step=None, **kw):
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 2)
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    rows = [torch.arange(s, s + batch) for s in range(0, len(x), batch)]

    def step(rows_, at):
        xb = x[rows_].clone()
        if bad_step is not None and at.step + 1 == bad_step:
            xb[0, 0] = float("nan")  # every later loss is NaN too: the weights are
        out = model(xb)
        return F.cross_entropy(out, y[rows_]), {"correct": (out.argmax(1) == y[rows_]).sum()}, len(rows_)

    return Task(model, opt, lambda epoch, start: rows[start:], step, desc="run r layer 3",
                hint="Lower the rate.", **kw)


def test_the_first_non_finite_step_is_named_when_read_later_and_nothing_is_checkpointed(tmp_path):
    x, y = _data()
    steps, evaluated = [], []
    task = _task(x, y, bad_step=7, epochs=2, checkpoint_every=10, sync_every=50, eval_every=10,
                 evaluate=lambda at, loss: evaluated.append(at) or {"m": 0.0},
                 on_step=lambda e, i: steps.append((e, i)))
    scratch = Scratch(tmp_path / "scratch")
    with pytest.raises(TrainingDiverged, match=r"run r layer 3: non-finite loss nan at epoch 1, step 7, "
                                               r"lr 0\.1; no weights.*Lower the rate\."):
        fit(task, scratch)
    assert len(steps) == 10  # steps 8-10 ran before the flag was read (at the step-10 checkpoint)
    assert not scratch.path("train").exists()  # that checkpoint was never written
    assert evaluated == []  # nor were the NaN weights evaluated (or kept as the best)


def test_device_side_sums_give_the_per_epoch_means_of_the_steps():
    x, y = _data()
    task = _task(x, y, epochs=1)
    before = torch.nn.Linear(6, 2)
    before.load_state_dict(task.model.state_dict())
    result = fit(task)
    # the same SGD by hand, counting correct predictions per step as plain ints
    opt, correct = torch.optim.SGD(before.parameters(), lr=0.1, momentum=0.9), 0
    for s in range(0, 80, 4):
        out = before(x[s : s + 4])
        correct += int((out.argmax(1) == y[s : s + 4]).sum())
        opt.zero_grad()
        F.cross_entropy(out, y[s : s + 4]).backward()
        opt.step()
    assert result.history["correct"] == [correct / 80]
    assert isinstance(result.history["correct"][0], float)


def test_checkpoints_follow_elapsed_time(tmp_path, monkeypatch):
    class Clock:  # 7 s per call: 30 s pass between the 4-step sync points
        t = 0.0

        @classmethod
        def monotonic(cls):
            cls.t += 7.0
            return cls.t

        perf_counter = monotonic

    monkeypatch.setattr(loop, "time", Clock)
    saved = []
    monkeypatch.setattr(checkpoint, "save", lambda path, state: saved.append(state["at"][1]))
    x, y = _data()
    fit(_task(x, y, epochs=1, sync_every=4, checkpoint_seconds=20), Scratch(tmp_path / "s"))
    assert saved and all(i % 4 == 0 for i in saved[:-1]) and saved[-1] == 0  # + the epoch end
    saved.clear()
    fit(_task(x, y, epochs=1, sync_every=4), Scratch(tmp_path / "t"))
    assert saved == [0]  # checkpoint_seconds 0: the epoch end only


class Rows:
    """A fixed sampler: the same batches every epoch."""

    def __init__(self, n, batch):
        self.batches = [list(range(s, min(n, s + batch))) for s in range(0, n, batch)]
        self.start = 0

    def set_epoch(self, epoch, start):
        self.start = start

    def __iter__(self):
        return iter(self.batches[self.start :])


def _by_hand(x, y, sched, new_sgd_at_decay):
    """SGD with step decay; a new optimiser (fresh momentum) at every decay if asked."""
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 2)
    opt = None
    for epoch in range(sched.epochs):
        lr = sched.lr * sched.lr_decay ** (epoch // sched.lr_step)
        if opt is None or (new_sgd_at_decay and epoch % sched.lr_step == 0):
            opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=sched.momentum,
                                  weight_decay=sched.weight_decay)
        for group in opt.param_groups:
            group["lr"] = lr
        for s in range(0, len(x), 16):
            loss = F.cross_entropy(model(x[s : s + 16]), y[s : s + 16])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model


@pytest.mark.parametrize("reset", [True, False])
def test_momentum_resets_at_each_decay_like_a_new_optimiser(reset, monkeypatch):
    x, y = _data(64)
    sched = schedule.Schedule(epochs=5, lr=0.2, lr_decay=0.5, lr_step=2, checkpoint_every=0,
                              reset_momentum_at_decay=reset)
    zeroed = []
    real = schedule.reset_momentum

    def spy(opt):
        real(opt)
        zeroed.append(all(bool((s["momentum_buffer"] == 0).all()) for s in opt.state.values()))

    monkeypatch.setattr(schedule, "reset_momentum", spy)
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 2)
    step = schedule.Step(model, lambda idx, e, i: x[torch.as_tensor(idx)], y)
    schedule.run_epochs(step, Rows(64, 16), sched, torch.device("cpu"), None, "train", None, 0, "t")
    assert zeroed == ([True, True] if reset else [])  # epochs 3 and 5 start with a decay
    expected = _by_hand(x, y, sched, new_sgd_at_decay=True)
    other = _by_hand(x, y, sched, new_sgd_at_decay=False)
    if not reset:
        expected, other = other, expected
    for got, want, not_want in zip(model.parameters(), expected.parameters(), other.parameters(), strict=True):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-6)
        assert not torch.allclose(got, not_want, rtol=1e-5, atol=1e-6)
