"""Shared fixtures: the real NB201 data directory and an isolated cache."""
import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MFKDBENCH_DATA") or REPO.parent / "shared" / "data")
os.environ["MFKDBENCH_DATA"] = str(DATA)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    assert (DATA / "nb201" / "nb201_archs.csv.gz").is_file(), f"NB201 data not found in {DATA}"
    return DATA


@pytest.fixture(scope="session")
def tables(data_dir):
    from mfkdbench.nb201.tables import load_tables

    return load_tables(str(data_dir))


@pytest.fixture(scope="session")
def space(tables):
    from mfkdbench.nb201.space import SearchSpace

    return SearchSpace(tables.index_codes)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    """An empty cache directory, so no earlier import or build is reused."""
    monkeypatch.setenv("MFKDBENCH_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"
