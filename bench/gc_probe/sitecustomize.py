"""Loaded by the bench's servers (on their PYTHONPATH) and clients with ``--gc-log``:
prints every full collection of the cyclic GC (the oldest generation) to stderr with the
process id, its wall-clock end and length, so a slow round can be matched against it."""

import gc
import os
import sys
import time

_started: dict[str, float] = {}


def _probe(phase: str, info: dict[str, int]) -> None:
    if info["generation"] != 2:
        return
    if phase == "start":
        _started["t"] = time.perf_counter()
        return
    took = (time.perf_counter() - _started.get("t", time.perf_counter())) * 1000
    print(f"[gc-probe] pid {os.getpid()} {time.time():.3f} full pass {took:.0f} ms, "
          f"{len(gc.get_objects(2))} objects left", file=sys.stderr, flush=True)  # fmt: skip


gc.callbacks.append(_probe)
