import gzip
import csv

import numpy as np
import pytest

from mfkdbench.errors import UserError
from mfkdbench.nb201.space import N_ARCHS, Arch, SearchSpace, canonical_key

BEST = "|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+|skip_connect~0|nor_conv_3x3~1|nor_conv_3x3~2|"


@pytest.fixture(scope="module")
def official_strings(data_dir):
    with gzip.open(data_dir / "nb201" / "nb201_archs.csv.gz", "rt") as fh:
        return [row["arch_str"] for row in csv.DictReader(fh)]


def test_round_trip_all_archs_in_official_order(space, official_strings):
    assert len(official_strings) == N_ARCHS
    for index, text in enumerate(official_strings):
        arch = Arch.parse(text)
        assert str(arch) == text
        assert space.index(arch) == index
        assert str(space.arch(index)) == text
    assert space.index(BEST) == 9930
    assert str(space.arch(0)) == "|avg_pool_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|nor_conv_1x1~0|skip_connect~1|skip_connect~2|"


def test_codes_and_ops():
    arch = Arch.parse(BEST)
    assert arch.ops == (3, 3, 3, 1, 3, 3)
    assert Arch.from_code(arch.code) == arch
    assert arch.code == 3 * 5**5 + 3 * 5**4 + 3 * 5**3 + 1 * 5**2 + 3 * 5 + 3


def test_onehot_has_one_bit_per_edge(space):
    x = space.onehot(np.arange(N_ARCHS))
    assert x.shape == (N_ARCHS, 30)
    assert np.all(x.sum(1) == 6)
    assert np.all(x.reshape(N_ARCHS, 6, 5).argmax(2) == space.ops(np.arange(N_ARCHS)))
    assert len(np.unique(x, axis=0)) == N_ARCHS


def test_neighbours_differ_on_exactly_one_edge(space):
    for index in (0, 9930, 15624):
        nb = space.neighbours(index)
        assert len(nb) == 24 and len(set(nb.tolist())) == 24
        diff = (space.ops(nb) != space.ops([index])).sum(1)
        assert np.all(diff == 1)
    assert sorted(a.code for a in Arch.parse(BEST).neighbours()) == sorted(space.index_codes[space.neighbours(9930)])


def test_disconnected_cells(space):
    assert int((~space.connected).sum()) == 341
    assert not Arch.parse("|none~0|+|none~0|none~1|+|none~0|skip_connect~1|skip_connect~2|").is_connected
    assert Arch.parse("|none~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|").is_connected


def test_disconnected_cells_sit_at_chance(tables, space):
    chance = {"cifar10": 10, "cifar100": 1, "imagenet16-120": 100 / 120}
    for ds, level in chance.items():
        acc = tables.get(ds, "val_acc_200")[~space.connected]
        assert np.all(np.abs(acc - level) < 1.5), ds


def test_canonical_form():
    # an edge that no input-output path uses is irrelevant
    a = Arch.parse("|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    b = Arch.parse("|nor_conv_3x3~0|+|avg_pool_3x3~0|none~1|+|skip_connect~0|nor_conv_1x1~1|none~2|")
    assert a.canonical_key == b.canonical_key
    # a skip chain equals the direct edge
    c = Arch.parse("|skip_connect~0|+|none~0|none~1|+|none~0|nor_conv_3x3~1|none~2|")
    d = Arch.parse("|none~0|+|none~0|none~1|+|nor_conv_3x3~0|none~1|none~2|")
    assert c.canonical_key == d.canonical_key == "nor_conv_3x3(x)"
    # swapping the two intermediate nodes when no edge joins them
    e = Arch.parse("|nor_conv_3x3~0|+|nor_conv_1x1~0|none~1|+|none~0|avg_pool_3x3~1|skip_connect~2|")
    f = Arch.parse("|nor_conv_1x1~0|+|nor_conv_3x3~0|none~1|+|none~0|skip_connect~1|avg_pool_3x3~2|")
    assert e.canonical_key == f.canonical_key
    # different functions stay apart
    assert canonical_key((3, 0, 0, 0, 2, 0)) != canonical_key((2, 0, 0, 0, 3, 0))
    assert canonical_key((0,) * 6) == "0"


def test_unique_cells(space):
    ids = space.canonical_ids
    assert space.n_unique == 4930
    assert np.all(ids <= np.arange(N_ARCHS))
    # all disconnected cells share one class
    assert len(np.unique(ids[~space.connected])) == 1


def test_sampling_is_seeded_and_uniform(space):
    a = space.sample(np.random.default_rng(1), 20000)
    b = space.sample(np.random.default_rng(1), 20000)
    assert np.array_equal(a, b)
    assert a.min() >= 0 and a.max() < N_ARCHS
    assert 0.9 < np.bincount(space.ops(a)[:, 0], minlength=5).min() / (20000 / 5) < 1.1


def test_restricted_space(space):
    sub = space.restrict(np.arange(240))
    assert len(sub) == 240
    assert set(sub.sample(np.random.default_rng(0), 1000).tolist()) <= set(range(240))
    assert all(n < 240 for n in sub.neighbours(5))
    assert 5 in sub and 300 not in sub


@pytest.mark.parametrize("text", [
    "", "|nor_conv_3x3~0|", "|nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|",
    "|conv~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "|none~1|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
    "nor_conv_3x3~0|+|none~0|none~1|+|skip_connect~0|none~1|none~2|",
])
def test_malformed_strings_raise_user_error(text):
    with pytest.raises(UserError):
        Arch.parse(text)


def test_index_bounds(space):
    for bad in ("-1", "15625", "99999"):
        with pytest.raises(UserError):
            space.resolve(bad)
    assert space.resolve(" 9930 ") == 9930
    assert space.resolve(BEST) == 9930
    with pytest.raises(UserError):
        SearchSpace(np.arange(10))


def test_index_text_is_ascii_digits_and_checked_before_int(space):
    from mfkdbench.nb201.space import check_index, parse_int

    assert parse_int(" +0012 ", 0, 20, "n") == 12 and space.resolve("-0") == 0
    for bad in ("²", "٣", "１２", "1_000", "0x10", "1e3", "9" * 100_000):
        with pytest.raises(UserError):
            parse_int(bad, 0, 20, "n")
    with pytest.raises(UserError, match="must be an integer, got 3.0"):
        check_index(3.0)  # int(3.7) would have been 3
    assert check_index(np.int64(7)) == 7
