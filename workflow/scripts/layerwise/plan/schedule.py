"""The DAG's wall time on given cores and GPUs, and its critical path.

A list-scheduling simulation: whenever a job ends, the ready jobs (all dependencies done)
start in order of their longest remaining path, each while its threads and ``gpu`` resource
fit in what is free (threads above --cores are capped, as Snakemake does). A setting that
leaves GPUs idle shows in the GPU utilisation and in the time before the first GPU job.
"""

import heapq
from dataclasses import dataclass


@dataclass
class Simulation:
    makespan: float
    start: dict  # jobid -> start second
    end: dict
    gpu_busy: float  # GPU-seconds used
    first_gpu_start: float | None


def remaining_paths(jobs, seconds):
    """jobid -> seconds of the longest path from the job's start to the end of the DAG."""
    children = {j.jobid: [] for j in jobs}
    for j in jobs:
        for d in j.deps:
            children[d].append(j.jobid)
    memo = {}
    order = _topological(jobs)
    for jid in reversed(order):
        memo[jid] = seconds[jid] + max((memo[c] for c in children[jid]), default=0.0)
    return memo


def _topological(jobs):
    deps = {j.jobid: set(j.deps) for j in jobs}
    order, ready = [], sorted(k for k, v in deps.items() if not v)
    children = {j.jobid: [] for j in jobs}
    for j in jobs:
        for d in j.deps:
            children[d].append(j.jobid)
    while ready:
        jid = ready.pop()
        order.append(jid)
        for c in children[jid]:
            deps[c].discard(jid)
            if not deps[c]:
                ready.append(c)
    return order


def critical_path(jobs, seconds):
    """[jobid] of the longest chain of dependent jobs, first to last."""
    rest = remaining_paths(jobs, seconds)
    by_id = {j.jobid: j for j in jobs}
    children = {j.jobid: [] for j in jobs}
    for j in jobs:
        for d in j.deps:
            children[d].append(j.jobid)
    roots = [j.jobid for j in jobs if not j.deps]
    if not roots:
        return []
    path = [max(roots, key=lambda k: rest[k])]
    while children[path[-1]]:
        path.append(max(children[path[-1]], key=lambda k: rest[k]))
    return [by_id[k].jobid for k in path]


def simulate(jobs, seconds, cores, gpus):
    """Simulation of the DAG on ``cores`` and ``gpus`` (``seconds``: jobid -> estimate)."""
    rest = remaining_paths(jobs, seconds)
    need = {j.jobid: (min(j.threads, cores), min(j.gpus, gpus)) for j in jobs}
    waiting = {j.jobid: set(j.deps) for j in jobs}
    children = {j.jobid: [] for j in jobs}
    for j in jobs:
        for d in j.deps:
            children[d].append(j.jobid)
    ready = sorted((k for k, v in waiting.items() if not v), key=lambda k: -rest[k])
    free_c, free_g, now = cores, gpus, 0.0
    running, start, end = [], {}, {}
    busy, first_gpu = 0.0, None
    while ready or running:
        for jid in list(ready):
            c, g = need[jid]
            if c <= free_c and g <= free_g:
                ready.remove(jid)
                free_c, free_g = free_c - c, free_g - g
                start[jid] = now
                heapq.heappush(running, (now + seconds[jid], jid))
                if g:
                    busy += g * seconds[jid]
                    first_gpu = now if first_gpu is None else first_gpu
        if not running:
            raise ValueError("a job needs more threads or GPUs than the plan has")
        now, jid = heapq.heappop(running)
        end[jid] = now
        c, g = need[jid]
        free_c, free_g = free_c + c, free_g + g
        for ch in children[jid]:
            waiting[ch].discard(jid)
            if not waiting[ch]:
                ready.append(ch)
        ready.sort(key=lambda k: -rest[k])
    return Simulation(max(end.values(), default=0.0), start, end, busy, first_gpu)
