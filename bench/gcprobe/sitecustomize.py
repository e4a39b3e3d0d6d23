"""A probe for the garbage collector's pauses in a bench server (bench/README.md).

    PYTHONPATH=bench/gcprobe .venv/bin/python bench/fanout.py --keep ...

Python imports ``sitecustomize`` at start-up in every process that has this folder on
its path, the servers included. Each full (generation 2) collection that takes over 5 ms
writes one line to the server's stderr (its log in the kept work directory): how long
it took, how many objects it freed, and when.
"""

import gc
import sys
import time

_started: dict[str, float] = {}


def _probe(phase: str, info: dict) -> None:
    if info.get("generation") != 2:
        return
    if phase == "start":
        _started["at"] = time.perf_counter()
        return
    took = (time.perf_counter() - _started.get("at", time.perf_counter())) * 1000
    if took > 5:
        print(
            f"GCPROBE gen2 {took:.1f} ms collected={info.get('collected')} at {time.time():.3f}",
            file=sys.stderr,
            flush=True,
        )


gc.callbacks.append(_probe)
