"""W9: workloads W1a, W3a and W5 of ../shared/bench/workloads.md through the `trove` package.

    python crates/trove-py/bench/w9.py [W1a] [W3a] [W5] [--dir DIR] [--gib 1]

Prints one JSON object per workload (seconds, per-call microseconds) like `cargo xtask bench`,
so the figures can be put next to the Rust ones (`cargo xtask bench W1a W3a W5`): the binding's
cost per call is (Python seconds - Rust seconds) / calls."""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time

import trove as ln


def w1a(work: str) -> dict:
    src = os.path.join(work, "src")
    os.makedirs(src)
    paths = []
    for i in range(1000):
        p = os.path.join(src, f"f{i:04d}.bin")
        with open(p, "wb") as f:
            f.write(i.to_bytes(4, "little") * 256)  # 1 KiB, distinct
        paths.append(p)
    t = time.perf_counter()
    for i, p in enumerate(paths):
        ln.Artifact(p, key=f"w1a/f{i:04d}.bin").save()
    secs = time.perf_counter() - t
    return {"workload": "W1a", "seconds": secs, "calls": 1000, "us_per_call": secs / 1000 * 1e6}


def w3a(_work: str) -> dict:
    keys = [f"w1a/f{i:04d}.bin" for i in range(1000)]
    if ln.Artifact.filter(key__startswith="w1a/").count() < 1000:
        raise SystemExit("W3a looks up W1a's keys: run W1a first (in the same invocation)")
    t = time.perf_counter()
    for k in keys:
        ln.Artifact.get(key=k)
    secs = time.perf_counter() - t
    return {"workload": "W3a", "seconds": secs, "calls": 1000, "us_per_call": secs / 1000 * 1e6}


def w5(work: str, gib: float) -> dict:
    path = os.path.join(work, "big.bin")
    chunk = os.urandom(8 << 20)
    with open(path, "wb") as f:
        for _ in range(int(gib * 128)):
            f.write(chunk)
    t = time.perf_counter()
    a = ln.Artifact(path, key="w5/big.bin").save()
    secs = time.perf_counter() - t
    assert a.size == os.path.getsize(path)
    os.remove(path)
    return {"workload": "W5", "seconds": secs, "calls": 1, "bytes": a.size}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workloads", nargs="*", default=["W1a", "W3a", "W5"])
    ap.add_argument("--dir", default=None, help="where to create the instance (default: a temporary folder)")
    ap.add_argument("--gib", type=float, default=1.0, help="W5's file size in GiB")
    args = ap.parse_args()
    base = tempfile.mkdtemp(prefix="trove-w9-", dir=args.dir)
    try:
        ln.setup.init(storage=os.path.join(base, "data"))
        for w in args.workloads:
            if w == "W1a":
                r = w1a(base)
            elif w == "W3a":
                r = w3a(base)
            elif w == "W5":
                r = w5(base, args.gib)
            else:
                raise SystemExit(f"unknown workload {w}")
            r["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(json.dumps(r))
            sys.stdout.flush()
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
