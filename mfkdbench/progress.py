"""Progress of long steps on stderr: a tqdm bar on a terminal, about ten plain lines in a log file."""
from __future__ import annotations

import math
import sys
import time
from collections.abc import Iterable, Iterator


def progress(items: Iterable, total: int | None = None, desc: str = "", unit: str = "step",
             enabled: bool = True) -> Iterable:
    """``items``, reporting progress: a bar when stderr is a terminal, plain lines when it is not, nothing if not
    ``enabled``."""
    if not enabled:
        return items
    total = len(items) if total is None else total
    if sys.stderr.isatty():
        from tqdm import tqdm

        return tqdm(items, total=total, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True)
    return _lines(items, total, desc, unit)


def _lines(items: Iterable, total: int, desc: str, unit: str, steps: int = 10) -> Iterator:
    start, every = time.monotonic(), max(1, math.ceil(total / steps))
    for done, item in enumerate(items, 1):
        yield item
        if done % every == 0 or done == total:
            print(f"{desc}: {done}/{total} {unit}s, {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)
