"""Tiny harness: run a callable in a fresh process, report wall time and peak memory against a target."""

from __future__ import annotations

import json
import multiprocessing as mp
import resource
import time
from collections.abc import Callable


def _child(func: Callable[[], dict], q) -> None:
    t0 = time.perf_counter()
    extra = func() or {}
    dt = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    q.put({"seconds": round(dt, 2), "peak_mb": round(peak_mb, 0), **extra})


def measure(name: str, func: Callable[[], dict], *, max_seconds: float, max_mb: float | None = None) -> dict:
    """Run ``func`` in a new process (so memory peaks do not mix) and compare with the targets."""
    ctx = mp.get_context("fork")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(func, q))
    p.start()
    res = q.get()
    p.join()
    ok = res["seconds"] <= max_seconds and (max_mb is None or res["peak_mb"] <= max_mb)
    row = {"benchmark": name, **res, "target_s": max_seconds, "target_mb": max_mb, "ok": ok}
    print(json.dumps(row, ensure_ascii=False))
    return row
