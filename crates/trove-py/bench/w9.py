"""W9: workloads W1a, W3a and W5 of ../shared/bench/workloads.md through the `trove` package.

    python crates/trove-py/bench/w9.py [W1a] [W3a] [W5] [--dir DIR] [--gib 1] [--runs 3]

Each run uses a fresh instance (W3a saves W1a's files first, untimed); the median of the runs is
printed as one JSON object per workload (seconds, per-call microseconds) like `cargo xtask bench`,
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
from typing import Optional

import trove as ln


def w1a(work: str) -> float:
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
    return time.perf_counter() - t


def w3a(_work: str) -> float:
    keys = [f"w1a/f{i:04d}.bin" for i in range(1000)]
    if ln.Artifact.filter(key__startswith="w1a/").count() < 1000:
        raise SystemExit("W3a looks up W1a's keys: run W1a first (in the same invocation)")
    t = time.perf_counter()
    for k in keys:
        ln.Artifact.get(key=k)
    return time.perf_counter() - t


def w5(work: str, gib: float) -> float:
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
    return secs


class _Timed:
    """A proxy over the native instance that adds up the time spent inside native calls, so the
    Python layer's own cost per call is (total - native) / calls."""

    def __init__(self, inner: object) -> None:
        self._inner = inner
        self.native = 0.0

    def __getattr__(self, name: str) -> object:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def timed(*a: object, **k: object) -> object:
            t = time.perf_counter()
            try:
                return attr(*a, **k)
            finally:
                self.native += time.perf_counter() - t

        return timed


def python_layer(workload: str, parent: Optional[str]) -> dict:
    """Seconds in total and inside native calls for W1a/W3a, measured in one run."""
    from trove import _state

    base = tempfile.mkdtemp(prefix="trove-w9-", dir=parent)
    try:
        ln.setup.init(storage=os.path.join(base, "data"))
        if workload == "W3a":
            w1a(base)
        proxy = _Timed(_state._current)
        _state._current = proxy  # type: ignore[assignment]
        total = w1a(base) if workload == "W1a" else w3a(base)
        return {"total": total, "native": proxy.native}
    finally:
        _state._current = None
        shutil.rmtree(base, ignore_errors=True)


def run_once(workload: str, gib: float, parent: Optional[str]) -> float:
    """One run in a fresh instance; the seconds of the timed part."""
    base = tempfile.mkdtemp(prefix="trove-w9-", dir=parent)
    try:
        ln.setup.init(storage=os.path.join(base, "data"))
        if workload == "W1a":
            return w1a(base)
        if workload == "W3a":
            w1a(base)
            return w3a(base)
        if workload == "W5":
            return w5(base, gib)
        raise SystemExit(f"unknown workload {workload}: W1a W3a W5")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("workloads", nargs="*", default=["W1a", "W3a", "W5"])
    ap.add_argument("--dir", default=None, help="where to create the instances (default: the temporary folder)")
    ap.add_argument("--gib", type=float, default=1.0, help="W5's file size in GiB")
    ap.add_argument("--runs", type=int, default=3, help="runs per workload; the median is reported")
    args = ap.parse_args()
    for w in args.workloads:
        runs = sorted(run_once(w, args.gib, args.dir) for _ in range(args.runs))
        secs = runs[len(runs) // 2]
        calls = 1 if w == "W5" else 1000
        layer = python_layer(w, args.dir) if w != "W5" else None
        r = {
            "workload": w,
            "binding": "python",
            "seconds": secs,
            "us_per_call": secs / calls * 1e6,
            "runs": runs,
            # the Python layer's own cost per call (object wrapping, query building), outside
            # the native calls; the native calls include the pyo3 conversion and runtime hop
            "python_layer_us_per_call": (layer["total"] - layer["native"]) / calls * 1e6 if layer else None,
            "native_us_per_call": layer["native"] / calls * 1e6 if layer else None,
            "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        }
        print(json.dumps(r))
        sys.stdout.flush()


if __name__ == "__main__":
    main()
