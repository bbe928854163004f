"""Loaded by the bench's servers with ``--gc-log`` (on their PYTHONPATH): prints every
cyclic-GC collection of the oldest generation, and any collection over 20 ms, to stderr
with its wall-clock time, so a slow round can be matched against a collector pause."""

import gc
import sys
import time

_started: dict[str, float] = {}


def _probe(phase: str, info: dict[str, int]) -> None:
    if phase == "start":
        _started["t"] = time.perf_counter()
        return
    took = (time.perf_counter() - _started.get("t", time.perf_counter())) * 1000
    if info["generation"] == 2 or took > 20:
        print(f"[gc-probe] {time.time():.3f} gen {info['generation']} {took:.0f} ms "
              f"collected {info['collected']} tracked {len(gc.get_objects(info['generation']))}",
              file=sys.stderr, flush=True)  # fmt: skip


gc.callbacks.append(_probe)
