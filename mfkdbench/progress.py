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


def bar(total: int, initial: int = 0, desc: str = "", unit: str = "step", enabled: bool = True):
    """A progress bar to ``update()`` by hand (``set_postfix_str`` adds a note): tqdm on a terminal, else a
    :class:`LineBar`; disabled, a tqdm that prints nothing."""
    from tqdm import tqdm

    if enabled and not sys.stderr.isatty():
        return LineBar(total, initial, desc, unit)
    return tqdm(total=total, initial=initial, desc=desc, unit=unit, file=sys.stderr, dynamic_ncols=True,
                disable=not enabled)


class LineBar:
    """tqdm's ``update`` and ``set_postfix_str`` for a log: about ``steps`` plain lines on stderr."""

    def __init__(self, total: int, initial: int = 0, desc: str = "", unit: str = "step", steps: int = 10):
        self.total, self.done, self.desc, self.unit, self.note = total, initial, desc, unit, ""
        self.every, self.start = max(1, math.ceil(total / steps)), time.monotonic()

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.done % self.every == 0 or self.done == self.total:
            print(f"{self.desc}: {self.done}/{self.total} {self.unit}s, {time.monotonic() - self.start:.0f} s"
                  f"{self.note}", file=sys.stderr, flush=True)

    def set_postfix_str(self, note: str, refresh: bool = True) -> None:
        self.note = f", {note}"

    def __enter__(self) -> LineBar:
        return self

    def __exit__(self, *exc) -> None:
        pass


def _lines(items: Iterable, total: int, desc: str, unit: str) -> Iterator:
    line_bar = LineBar(total, 0, desc, unit)
    for item in items:
        yield item
        line_bar.update()


class WorkBar:
    """Progress as a share of the expected work (``update(fraction)``, 0..1), which need not grow with the count
    of steps: a tqdm bar in percent on a terminal (its time left follows the work), else about ``steps`` plain
    lines with the time left; disabled, nothing."""

    def __init__(self, desc: str = "", initial: float = 0.0, enabled: bool = True, steps: int = 10):
        self.desc, self.enabled, self.steps, self.note = desc, enabled, steps, ""
        self.start_fraction = self.fraction = initial
        self.start = time.monotonic()
        self.tqdm = None
        if enabled and sys.stderr.isatty():
            from tqdm import tqdm

            self.tqdm = tqdm(total=100.0, initial=100 * initial, desc=desc, file=sys.stderr, dynamic_ncols=True,
                             bar_format="{desc}: {percentage:3.0f}% of the expected work|{bar}| {elapsed}<{remaining}"
                                        "{postfix}")

    def update(self, fraction: float, note: str = "") -> None:
        """Move to ``fraction`` of the expected work (never backwards); ``note`` (e.g. cells done) is shown."""
        fraction = min(1.0, max(self.fraction, fraction))
        before, self.fraction = self.fraction, fraction
        if not self.enabled:
            return
        if self.tqdm is not None:
            self.tqdm.set_postfix_str(", ".join(n for n in (note, self.note) if n), refresh=False)
            self.tqdm.update(100 * (fraction - before))
        elif int(fraction * self.steps) > int(before * self.steps) or fraction == 1.0 > before:
            elapsed = time.monotonic() - self.start
            done = fraction - self.start_fraction
            left = f", about {elapsed * (1 - fraction) / done:.0f} s left" if 0 < done and fraction < 1 else ""
            print(f"{self.desc}: {100 * fraction:.0f}% of the expected work ({note}), {elapsed:.0f} s{left}"
                  f"{', ' + self.note if self.note else ''}", file=sys.stderr, flush=True)

    def set_postfix_str(self, note: str, refresh: bool = True) -> None:
        self.note = note
        if self.tqdm is not None:
            self.tqdm.set_postfix_str(note, refresh=refresh)

    def __enter__(self) -> WorkBar:
        return self

    def __exit__(self, *exc) -> None:
        if self.tqdm is not None:
            self.tqdm.close()
