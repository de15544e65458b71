"""Speed and memory of loading the NB201 tables: the shipped tables (the default), the CSV cache, the CSVs.

Usage: ``python bench/bench_tables.py [DATA_DIR]`` (default ``$MFKDBENCH_DATA``, then ``../shared/data``).

With a fresh temporary cache (the first CSV load builds it), measured in one run:

* in-process, median of repeats: ``load_tables()`` from the shipped tables; ``load_tables(DATA_DIR)``
  from the cache (which hashes the CSVs' bytes to find its entry, then reads the uncompressed
  ``.npz``), the hashing alone, and parsing and checking the CSVs; their ratios to the shipped load;
* in fresh child processes: the wall and CPU time of one shipped load, and the memory it adds: peak resident
  memory (``VmHWM``) after the load minus resident memory (``VmRSS``) before it, once the module
  is imported; the same for one cached CSV load.

Targets for the shipped tables: under 20 ms and under 30 MB.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = """
import json, sys, time
def status(key):
    with open("/proc/self/status") as fh:
        return next(int(l.split()[1]) for l in fh if l.startswith(key)) / 1024
from mfkdbench.nb201.tables import load_tables
before = status("VmRSS:")
t0, c0 = time.perf_counter(), time.process_time()
tables = load_tables(sys.argv[1] if len(sys.argv) > 1 else None)
t1, c1 = time.perf_counter(), time.process_time()
print(json.dumps({"load_s": t1 - t0, "cpu_s": c1 - c0, "delta_mb": status("VmHWM:") - before, "origin": tables.meta["origin"],
                  "columns": len(tables.arrays), "mb": sum(a.nbytes for a in tables.arrays.values()) / 2**20}))
"""
TARGET_S, TARGET_MB = 0.020, 30.0


def child(env: dict, *args: str) -> dict:
    """One load in a fresh interpreter; its JSON line."""
    out = subprocess.run([sys.executable, "-c", CHILD, *args], env=env, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def timed(fn, repeats: int) -> float:
    """Median wall time of ``fn()`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    default = os.environ.get("MFKDBENCH_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data"
    data = str(Path(sys.argv[1] if len(sys.argv) > 1 else default).resolve())
    with tempfile.TemporaryDirectory() as cache:
        os.environ.pop("MFKDBENCH_DATA", None)
        os.environ["MFKDBENCH_CACHE"] = cache
        from mfkdbench.nb201 import tables as tb

        tb.load_tables(data)  # builds the cache
        files = list(tb._csv_dir_files(Path(data)).values())
        shipped_s = timed(tb.load_tables, 30)
        cached_s = timed(lambda: tb.load_tables(data), 20)
        hash_s = timed(lambda: tb.content_checksum(files), 20)
        csv_s = timed(lambda: tb._load_csv_dir(Path(data)), 3)
        env = dict(os.environ)
        fresh = [child(env) for _ in range(7)]
        fresh_cache = [child(env, data) for _ in range(5)]
    assert fresh[0]["origin"] == "shipped", fresh[0]
    load = statistics.median(c["load_s"] for c in fresh)
    cpu = statistics.median(c["cpu_s"] for c in fresh)
    delta = statistics.median(c["delta_mb"] for c in fresh)
    cache_load = statistics.median(c["load_s"] for c in fresh_cache)
    cache_delta = statistics.median(c["delta_mb"] for c in fresh_cache)
    print(f"shipped tables: {tb.shipped_dir()}  ({fresh[0]['columns']} columns, {fresh[0]['mb']:.1f} MB of arrays)")
    print(f"shipped load, warm process (median of 30):       {shipped_s * 1e3:8.2f} ms")
    print(f"cached CSV load, warm process (median of 20):    {cached_s * 1e3:8.2f} ms   "
          f"ratio to shipped {cached_s / shipped_s:5.1f} x")
    print(f"  of which hashing the CSVs' bytes (cache key):  {hash_s * 1e3:8.2f} ms")
    print(f"parse and check the CSVs (median of 3):          {csv_s * 1e3:8.0f} ms   ratio to shipped {csv_s / shipped_s:5.0f} x")
    print(f"fresh process, shipped load (median of 7):       {load * 1e3:8.2f} ms   target < {TARGET_S * 1e3:.0f} ms: "
          f"{'ok' if load < TARGET_S else 'MISSED'}")
    print(f"  of which CPU time (wall minus waiting on a busy machine): {cpu * 1e3:6.2f} ms")
    print(f"fresh process, shipped load adds (peak RSS):     {delta:8.1f} MB   target < {TARGET_MB:.0f} MB: "
          f"{'ok' if delta < TARGET_MB else 'MISSED'}")
    print(f"fresh process, cached CSV load (median of 5):    {cache_load * 1e3:8.2f} ms, adds {cache_delta:.1f} MB   "
          f"ratio to shipped {cache_load / load:4.1f} x time, {cache_delta / delta:4.1f} x memory")


if __name__ == "__main__":
    main()
