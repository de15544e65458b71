"""One BLAS thread for model-based optimizers.

Their matrices are small, and searches run many at once (one per seed):
threaded BLAS on an oversubscribed machine was 14x slower in our measurements.
It also makes results depend on the machine: from about 400 training cells
BANANAS' predictions differ in the last bits between threaded and
single-threaded BLAS, which changes proposals. With one thread, a seed gives
the same search on every machine's thread count.
"""
from __future__ import annotations

from functools import lru_cache


@lru_cache(maxsize=1)
def _controller():
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


def single_threaded_blas():
    """A context manager limiting BLAS to one thread inside it."""
    return _controller().limit(limits=1, user_api="blas")
