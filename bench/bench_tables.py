"""Speed and memory of loading the NB201 tables from the binary cache, against parsing the CSVs.

Usage: ``python bench/bench_tables.py [DATA_DIR]`` (default ``$MFKDBENCH_DATA``, then ``../shared/data``).

Uses a fresh temporary cache: the first load builds it, then

* in-process: the time of ``load_tables`` from the cache (median of repeats)
  and of parsing the CSVs (``tables._load_csv_dir``), and their ratio;
* in fresh child processes: the wall time of importing ``mfkdbench.nb201.tables`` plus
  one cached load, and the peak resident memory of that child (``VmHWM``;
  ``ru_maxrss`` where ``/proc`` is missing) beside a child that only imports
  numpy (the baseline).

Targets: cached load under 0.2 s and under 200 MB resident memory.
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

#: peak resident memory of this process: VmHWM (ru_maxrss also counts the memory of the
#: parent that forked the child before exec, on Linux), else ru_maxrss
PEAK_RSS = """
def peak_rss_mb():
    try:
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) for l in fh if l.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
"""
LOAD_CHILD = PEAK_RSS + """
import json, sys, time
t0 = time.perf_counter()
from mfkdbench.nb201.tables import load_tables
t1 = time.perf_counter()
tables = load_tables()
t2 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "pandas": "pandas" in sys.modules,
                  "columns": len(tables.arrays), "mb": sum(a.nbytes for a in tables.arrays.values()) / 2**20,
                  "maxrss_mb": peak_rss_mb()}))
"""
BASELINE_CHILD = PEAK_RSS + """
import json
import numpy
print(json.dumps({"maxrss_mb": peak_rss_mb()}))
"""
TARGET_S, TARGET_MB = 0.2, 200.0


def child(code: str, env: dict) -> dict:
    """Run ``code`` in a fresh interpreter; its JSON line and its wall time."""
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True, capture_output=True, text=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["wall_s"] = time.perf_counter() - start
    return result


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
    data = Path(sys.argv[1] if len(sys.argv) > 1 else default).resolve()
    with tempfile.TemporaryDirectory() as cache:
        os.environ.update(MFKDBENCH_DATA=str(data), MFKDBENCH_CACHE=cache)
        from mfkdbench.nb201 import tables as tb

        start = time.perf_counter()
        tb.load_tables()
        build_s = time.perf_counter() - start
        cached_s = timed(tb.load_tables, 20)
        csv_s = timed(lambda: tb._load_csv_dir(data), 3)
        env = dict(os.environ)
        cold = [child(LOAD_CHILD, env) for _ in range(5)]
        base = statistics.median(child(BASELINE_CHILD, env)["maxrss_mb"] for _ in range(3))

    load = statistics.median(c["load_s"] for c in cold)
    imp = statistics.median(c["import_s"] for c in cold)
    rss = statistics.median(c["maxrss_mb"] for c in cold)
    print(f"data: {data}  ({cold[0]['columns']} columns, {cold[0]['mb']:.1f} MB of arrays)")
    print(f"first load (parse CSVs + write cache):      {build_s:8.3f} s")
    print(f"cached load, warm process (median of 20):   {cached_s:8.4f} s")
    print(f"parse CSVs each time (median of 3):         {csv_s:8.3f} s")
    print(f"ratio CSV parse / cached load:              {csv_s / cached_s:8.1f} x")
    print(f"fresh process: import mfkdbench.nb201.tables      {imp:8.3f} s   (pandas imported: {cold[0]['pandas']})")
    print(f"fresh process: cached load                  {load:8.4f} s   target < {TARGET_S} s: "
          f"{'ok' if load < TARGET_S else 'MISSED'}")
    print(f"fresh process: import + load                {imp + load:8.3f} s")
    print(f"peak RSS, import + cached load:             {rss:8.1f} MB  target < {TARGET_MB:.0f} MB: "
          f"{'ok' if rss < TARGET_MB else 'MISSED'}")
    print(f"peak RSS, numpy only (baseline):            {base:8.1f} MB  -> tables add {rss - base:.1f} MB")


if __name__ == "__main__":
    main()
