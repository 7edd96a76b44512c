"""What the peer benchmarks share: inputs (the same distributions as ``tyst bench``),
numpy reference checks, and the event lines a party process prints for the launcher.

Inputs, as in ``src/tyst/jobs/bench.py``:

* ``mul``, ``shuffle``: uniform 64-bit words (int64 here);
* ``lt``, ``sort``: signed values with |x| < 2^62;
* ``eq``: values in 0..7 (about 1/8 of the pairs equal).
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

OPERATIONS = ("mul", "lt", "eq", "shuffle", "sort")
COMPARISON_RANGE = 1 << 62
EVENT_PREFIX = "@@peer "
WARMUP_MAX = 1000  # the untimed warm-up runs the operation on the first min(n, 1000) elements


def inputs(op: str, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Two int64 arrays of length n, drawn as tyst's bench draws them."""
    if op not in OPERATIONS:
        raise ValueError(f"unknown operation {op!r}")
    rng = np.random.default_rng(seed)
    if op == "eq":
        return rng.integers(0, 8, n, dtype=np.int64), rng.integers(0, 8, n, dtype=np.int64)
    if op in ("lt", "sort"):
        lo, hi = -COMPARISON_RANGE, COMPARISON_RANGE
        return rng.integers(lo, hi, n, dtype=np.int64), rng.integers(lo, hi, n, dtype=np.int64)
    x = rng.integers(0, 2**64, n, dtype=np.uint64).view(np.int64)
    y = rng.integers(0, 2**64, n, dtype=np.uint64).view(np.int64)
    return x, y


def check_ring(op: str, x: np.ndarray, y: np.ndarray, got: np.ndarray) -> bool:
    """Check a result computed in Z_2^64 (SPU FM64) against numpy."""
    got = np.asarray(got).reshape(-1)
    if op == "mul":
        want = (x.view(np.uint64) * y.view(np.uint64)).view(np.int64)
        return bool(np.array_equal(got.astype(np.int64), want))
    if op == "lt":
        return bool(np.array_equal(got.astype(np.int64), (x < y).astype(np.int64)))
    if op == "eq":
        return bool(np.array_equal(got.astype(np.int64), (x == y).astype(np.int64)))
    if op == "shuffle":
        return bool(np.array_equal(np.sort(got.astype(np.int64)), np.sort(x)))
    if op == "sort":
        return bool(np.array_equal(got.astype(np.int64), np.sort(x, kind="stable")))
    raise ValueError(op)


def peak_rss_mib() -> float | None:
    """This process's peak resident set (VmHWM) in MiB.

    Read from /proc rather than getrusage: on Linux a child's ru_maxrss also
    counts the launcher's memory at fork time, which would inflate small runs.
    """
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


def emit(event: str, **fields: object) -> None:
    """One event line on stdout for the launcher (``@@peer {json}``); a ``result``
    event also carries the process's peak RSS so far."""
    if event == "result":
        fields["peak_rss_mib"] = peak_rss_mib()
    fields["event"] = event
    fields["t"] = time.time()
    sys.stdout.write(EVENT_PREFIX + json.dumps(fields) + "\n")
    sys.stdout.flush()


def keep_repeating(done: int, repeat: int, slowest_so_far: list[float], budget: float) -> bool:
    """All parties call this with the same (all-gathered) figures, so they agree.

    Stop after ``repeat`` timed runs, or earlier once the timed runs so far add up
    to ``budget`` seconds (a slow operation is then reported from fewer runs).
    """
    return done < repeat and sum(slowest_so_far) < budget


def median_run(slowest: list[float]) -> int:
    """Index of the median run by slowest-party time (tyst's rule)."""
    return sorted(range(len(slowest)), key=lambda r: slowest[r])[len(slowest) // 2]
