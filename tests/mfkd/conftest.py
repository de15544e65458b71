"""One BLAS thread for the GP tests, as inside a search (threaded BLAS on small matrices on a busy machine
is many times slower)."""
import pytest


@pytest.fixture(autouse=True)
def single_threaded_blas():
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
