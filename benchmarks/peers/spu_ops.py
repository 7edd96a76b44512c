"""SecretFlow SPU (ABY3 over Z_2^64, C++): time one engine operation on three party processes.

Two halves, as in SPU's own distributed set-up:

* the *driver* (:func:`prepare`, :func:`finish`; run inside ``benchmarks.peers.run``)
  draws the inputs (tyst's distributions, int64), compiles the JAX function to an
  SPU executable, secret-shares the inputs with ``spu.Io`` (ABY3 replicated
  shares) and writes each party only its own shares; afterwards it reconstructs
  the output from the three parties' output shares and checks it against numpy;
* the *party* (``python -m benchmarks.peers.spu_ops --rank R --dir D --ports P0,P1,P2``)
  connects to the other two with ``spu.libspu.link.create_brpc`` on 127.0.0.1
  (no TLS), builds an ``spu.Runtime`` (``ProtocolKind.ABY3``, ``FieldType.FM64``,
  all other settings SPU's defaults), loads its shares and runs the executable.

Operations (int64 in FM64): ``mul`` = ``x * y`` (mod 2^64), ``lt`` = ``x < y``,
``eq`` = ``x == y``, ``sort`` = ``jnp.sort(x)`` (SPU's default sort method for a
secret key), ``shuffle`` = ``jax.lax.sort`` keyed by a secret random 64-bit
column, the way ``spu.ops.groupby.shuffle`` shuffles (SPU's JAX front end has no
shuffle primitive of its own).

Untimed: start-up, loading the shares, a warm-up run of a separately compiled
executable on the first min(n, 1000) elements, fetching the output shares.
Timed (per run, after ``lctx.barrier()``): ``Runtime.run(executable)``.
"""

from __future__ import annotations

import argparse
import os
import pickle
import time
from pathlib import Path

import numpy as np

from benchmarks.peers.common import (
    WARMUP_MAX,
    check_ring,
    emit,
    inputs,
    keep_repeating,
    median_run,
)

WORLD = 3


def _config(sort_method: str = "SORT_DEFAULT"):
    import spu.libspu as libspu

    config = libspu.RuntimeConfig(protocol=libspu.ProtocolKind.ABY3, field=libspu.FieldType.FM64)
    config.sort_method = getattr(libspu.RuntimeConfig.SortMethod, sort_method)
    return config


def _function(op: str):
    import jax
    import jax.numpy as jnp

    if op == "mul":
        return lambda x, y: x * y
    if op == "lt":
        return lambda x, y: x < y
    if op == "eq":
        return lambda x, y: x == y
    if op == "sort":
        return lambda x: jnp.sort(x)
    if op == "shuffle":
        return lambda x, key: jax.lax.sort([key, x], num_keys=1)[1]
    raise ValueError(op)


def _args(op: str, x: np.ndarray, y: np.ndarray, seed: int) -> list[np.ndarray]:
    if op in ("mul", "lt", "eq"):
        return [x, y]
    if op == "sort":
        return [x]
    # shuffle: a random key column, secret-shared like x (in SecretFlow it would
    # come from the parties' joint randomness; the sort it drives is what costs)
    key = np.random.default_rng(seed + 1).integers(-(2**62), 2**62, x.shape[0], dtype=np.int64)
    return [x, key]


def _compile(op: str, args: list[np.ndarray]):
    import jax

    jax.config.update("jax_enable_x64", True)
    import spu.libspu as libspu
    import spu.utils.frontend as spu_fe

    names = [f"in{i}" for i in range(len(args))]
    executable, _ = spu_fe.compile(
        spu_fe.Kind.JAX,
        _function(op),
        tuple(args),
        {},
        names,
        [libspu.Visibility.VIS_SECRET] * len(args),
        lambda outs: [f"out{i}" for i in range(len(outs))],
    )
    return executable


def _dump_share(share) -> tuple[bytes, list[bytes]]:
    return bytes(share.meta), [bytes(c) for c in share.share_chunks]


def _load_share(data: tuple[bytes, list[bytes]]):
    import spu.libspu as libspu

    share = libspu.Share()
    share.meta, share.share_chunks = data[0], data[1]
    return share


def prepare(op: str, n: int, seed: int, workdir: Path, sort_method: str = "SORT_DEFAULT"):
    """Driver: compile, share, write ``workdir/party{r}.in``. Returns (x, y) for the check."""
    import spu

    x, y = inputs(op, n, seed)
    args = _args(op, x, y, seed)
    w = min(n, WARMUP_MAX)
    warm_args = [a[:w] for a in args]
    exe, warm_exe = _compile(op, args), _compile(op, warm_args)
    config = _config(sort_method)
    io = spu.Io(WORLD, config)
    vis = spu.Visibility.VIS_SECRET
    shares = [io.make_shares(a, vis) for a in args]
    warm_shares = [io.make_shares(a, vis) for a in warm_args]
    for r in range(WORLD):
        payload = {
            "config": config.SerializeToString(),
            "exe": exe.SerializeToString(),
            "warm_exe": warm_exe.SerializeToString(),
            "inputs": [_dump_share(s[r]) for s in shares],
            "warm_inputs": [_dump_share(s[r]) for s in warm_shares],
        }
        with open(workdir / f"party{r}.in", "wb") as f:
            pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
    return x, y


def finish(
    op: str, x: np.ndarray, y: np.ndarray, workdir: Path, sort_method: str = "SORT_DEFAULT"
) -> bool:
    """Driver: reconstruct the output from the parties' shares and check it."""
    import spu

    io = spu.Io(WORLD, _config(sort_method))
    outs = []
    for r in range(WORLD):
        with open(workdir / f"party{r}.out", "rb") as f:
            outs.append(_load_share(pickle.load(f)))
    got = io.reconstruct(outs)
    return check_ring(op, x, y, got)


def party(
    rank: int, workdir: Path, ports: list[int], repeat: int, budget: float, recv_timeout_s: float
) -> None:
    import spu
    import spu.libspu as libspu

    with open(workdir / f"party{rank}.in", "rb") as f:
        payload = pickle.load(f)
    config = libspu.RuntimeConfig()
    config.ParseFromString(payload["config"])
    exe, warm_exe = libspu.Executable(), libspu.Executable()
    exe.ParseFromString(payload["exe"])
    warm_exe.ParseFromString(payload["warm_exe"])

    desc = libspu.link.Desc()
    desc.recv_timeout_ms = int(recv_timeout_s * 1000)
    desc.http_timeout_ms = int(recv_timeout_s * 1000)
    desc.http_max_payload_size = 32 * 1024 * 1024  # as SecretFlow sets it
    desc.connect_retry_times = 120  # a party's start-up (importing jax, loading shares) can be slow
    retry = desc.retry_opts
    retry.max_retry, retry.retry_interval_ms = 60, 1000
    retry.retry_interval_incr_ms, retry.max_retry_interval_ms = 0, 1000
    desc.retry_opts = retry
    for r, port in enumerate(ports):
        desc.add_party(f"P{r}", f"127.0.0.1:{port}")
    lctx = libspu.link.create_brpc(desc, rank)
    emit("started", party=rank)

    warm = spu.Runtime(lctx, config)
    for name, data in zip(warm_exe.input_names, payload["warm_inputs"]):
        warm.set_var(name, _load_share(data))
    rt = spu.Runtime(lctx, config)
    for name, data in zip(exe.input_names, payload["inputs"]):
        rt.set_var(name, _load_share(data))
    del payload
    emit("shared", party=rank)

    emit("op_start", run=-1)
    warm.run(warm_exe)
    emit("op_end", run=-1)
    del warm

    slowest: list[float] = []
    mine: list[dict] = []
    while keep_repeating(len(slowest), repeat, slowest, budget):
        lctx.barrier()
        emit("op_start", run=len(slowest))
        c0, t0 = time.process_time(), time.perf_counter()
        rt.run(exe)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
        emit("op_end", run=len(slowest), seconds=seconds)
        mine.append({"seconds": seconds, "cpu_seconds": cpu})
        slowest.append(max(float(s) for s in lctx.all_gather(repr(seconds))))

    out = rt.get_var(exe.output_names[0])
    with open(workdir / f"party{rank}.out", "wb") as f:
        pickle.dump(_dump_share(out), f, protocol=pickle.HIGHEST_PROTOCOL)
    lctx.barrier()
    r = median_run(slowest)
    emit("result", party=rank, runs=len(slowest), slowest=slowest, seconds=slowest[r], own=mine[r])
    # Leave only when every party is done, and give brpc a moment to deliver the
    # last acknowledgements: a party that vanishes at once leaves a peer retrying
    # a send for a minute (and exiting with 255) although the run is complete.
    lctx.barrier()
    time.sleep(1.0)
    os._exit(0)  # brpc's threads can keep a clean interpreter exit waiting


def cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--dir", type=Path, required=True)
    parser.add_argument("--ports", required=True, help="three ports, comma-separated")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--recv-timeout", type=float, default=3600.0)
    args = parser.parse_args()
    ports = [int(p) for p in args.ports.split(",")]
    party(args.rank, args.dir, ports, args.repeat, args.budget, args.recv_timeout)


if __name__ == "__main__":
    cli()
