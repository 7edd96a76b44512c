"""One MPyC party: time one engine operation on secure 64-bit integers.

Started three times by ``benchmarks.peers.run`` (one OS process per party)::

    python -m benchmarks.peers.mpyc_ops -M3 -I0 -B 11365 --op lt --size 10000
    python -m benchmarks.peers.mpyc_ops -M3 -I1 -B 11365 --op lt --size 10000
    python -m benchmarks.peers.mpyc_ops -M3 -I2 -B 11365 --op lt --size 10000

``-M``, ``-I``, ``-B`` (and any other MPyC option) are read by MPyC itself;
with them MPyC connects the three parties over TCP on localhost:B+i (no TLS).

Setting: ``secint = mpc.SecInt(64)``, MPyC's default 3-party Shamir sharing
with threshold 1 over a 96-bit prime field (honest majority, passive security,
like ABY3/tyst). MPyC's fastest path is used: the numpy-vectorised secure
arrays (``secint.array``), so ``X * Y``, ``X < Y`` (``np_less``), ``X == Y``
(``np_equal``) and ``mpc.np_sort`` (a Batcher sorting network, vectorised per
layer) each work on whole arrays. ``shuffle`` is ``mpyc.random.shuffle``, the
only secret shuffle MPyC has; it works on lists and costs O(n^2).

Party 0 draws the inputs (tyst's distributions) and secret-shares them with
``mpc.input(..., senders=0)``; the others learn only the length. Untimed:
start-up, input sharing, a warm-up on the first min(n, 1000) elements, the
output and the check. Timed (per run, between all-party synchronisations):
the operation until this party holds its result shares. ``mul`` is checked
modulo MPyC's prime (MPyC computes in its field, not in Z_2^64).
"""

from __future__ import annotations

import argparse
import time

import mpyc.random as mpyc_random
import numpy as np
from mpyc.runtime import mpc  # parses and removes MPyC's own options from sys.argv

from benchmarks.peers.common import (
    OPERATIONS,
    WARMUP_MAX,
    emit,
    inputs,
    keep_repeating,
    median_run,
)

SECINT = mpc.SecInt(64)


def _op(op: str, X, Y):
    if op == "mul":
        return X * Y
    if op == "lt":
        return X < Y
    if op == "eq":
        return X == Y
    if op == "sort":
        return mpc.np_sort(X)
    if op == "shuffle":
        xs = list(X)  # a list of secint (shuffle works on lists, in place)
        mpyc_random.shuffle(SECINT, xs)
        return xs
    raise ValueError(op)


async def _share(op: str, values: np.ndarray):
    if op == "shuffle":
        xs = [SECINT(int(v)) if mpc.pid == 0 else SECINT(None) for v in values]
        return mpc.input(xs, senders=0)
    return mpc.input(SECINT.array(values), senders=0)


def _check(op: str, x: np.ndarray, y: np.ndarray, got) -> bool:
    p = SECINT.field.order
    if op == "shuffle":
        got = np.array([int(v) for v in got], dtype=object)
        return bool(np.array_equal(np.sort(got.astype(np.int64)), np.sort(x)))
    got = np.asarray(got, dtype=object).reshape(-1)
    if op == "mul":
        want = x.astype(object) * y.astype(object)
        return bool(np.all((got - want) % p == 0))
    if op == "lt":
        return bool(np.array_equal(got.astype(np.int64), (x < y).astype(np.int64)))
    if op == "eq":
        return bool(np.array_equal(got.astype(np.int64), (x == y).astype(np.int64)))
    if op == "sort":
        return bool(np.array_equal(got.astype(np.int64), np.sort(x, kind="stable")))
    raise ValueError(op)


async def main(op: str, n: int, seed: int, repeat: int, budget: float) -> None:
    await mpc.start()
    emit("started", party=mpc.pid)
    if mpc.pid == 0:
        x, y = inputs(op, n, seed)
    else:
        x = y = np.zeros(n, dtype=np.int64)
    X = await _share(op, x)
    Y = await _share(op, y) if op in ("mul", "lt", "eq") else None
    await mpc.gather(X)
    if Y is not None:
        await mpc.gather(Y)
    emit("shared", party=mpc.pid)

    w = min(n, WARMUP_MAX)
    emit("op_start", run=-1)
    await mpc.gather(_op(op, X[:w], None if Y is None else Y[:w]))
    emit("op_end", run=-1)

    slowest: list[float] = []
    mine: list[dict] = []
    Z = None
    while keep_repeating(len(slowest), repeat, slowest, budget):
        await mpc.transfer(0)  # all parties synchronise (an all-to-all exchange)
        emit("op_start", run=len(slowest))
        c0, t0 = time.process_time(), time.perf_counter()
        Z = _op(op, X, Y)
        await mpc.gather(Z)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        emit("op_end", run=len(slowest), seconds=seconds)
        mine.append({"seconds": seconds, "cpu_seconds": cpu})
        slowest.append(max(await mpc.transfer(seconds)))

    got = await mpc.output(Z)
    correct = _check(op, x, y, got) if mpc.pid == 0 else None
    r = median_run(slowest)
    nbytes = sum(p.protocol.nbytes_sent for p in mpc.parties if p.pid != mpc.pid)
    await mpc.shutdown()
    emit(
        "result",
        party=mpc.pid,
        runs=len(slowest),
        slowest=slowest,
        seconds=slowest[r],
        own=mine[r],
        correct=correct,
        bytes_sent_total=nbytes,
        field_bits=SECINT.field.order.bit_length(),
    )


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--op", choices=OPERATIONS, required=True)
    parser.add_argument(
        "--size",
        type=int,
        required=True,
        help="n (not --n: MPyC would read that as an abbreviation)",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--budget",
        type=float,
        default=60.0,
        help="stop repeating once the timed runs add up to this many seconds",
    )
    args = parser.parse_args()
    mpc.run(main(args.op, args.size, args.seed, args.repeat, args.budget))


if __name__ == "__main__":
    cli()
