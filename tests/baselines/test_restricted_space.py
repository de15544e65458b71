"""Single-fidelity baselines on a restricted space (kd240's 240 cells): local moves stay local and exist.

On 240 of 15,625 cells a cell has 0.37 one-edge neighbours in the space on average, so the old rules
(mutate to a neighbour in the space, else a random cell; climb through the neighbours in the space;
REINFORCE drawing until a candidate came up, else uniformly) made REA a random search trapped in pairs
of neighbours, local search a random search, and REINFORCE's policy moot once it favoured outside cells.
"""
import numpy as np
import pytest

from mfkdbench.nb201.space import N_ARCHS, N_EDGES, N_OPS
from mfkdbench.search.optimizer import Trial, make_optimizer
from mfkdbench.search.simulator import search_fidelities


@pytest.fixture(scope="module")
def kd240(space):
    return space.restrict(np.arange(240))


def _distance(space, a, b):
    return int((space.ops([a])[0] != space.ops([b])[0]).sum())


def _optimizer(name, space, seed, **options):
    from mfkdbench import load_benchmark

    fidelities = search_fidelities(load_benchmark("cifar100"), "200")
    return make_optimizer(name, space, fidelities, np.random.default_rng(seed), **options)


def test_nearest_and_neighbourhood_by_hand(space):
    base = space.index("|nor_conv_3x3~0|+|nor_conv_3x3~0|nor_conv_3x3~1|+"
                       "|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    two = space.index("|none~0|+|none~0|nor_conv_3x3~1|+|nor_conv_3x3~0|nor_conv_3x3~1|nor_conv_3x3~2|")
    far = space.index("|skip_connect~0|+|skip_connect~0|skip_connect~1|+|skip_connect~0|skip_connect~1|skip_connect~2|")
    small = space.restrict([base, two, far])
    assert small.restricted and not space.restricted
    code = int(space.index_codes[base])
    assert list(small.nearest(code)) == [base]
    assert list(small.nearest(code, exclude=base)) == [two]
    assert list(small.neighbourhood(base)) == [two]  # each of its 24 mutations is 1-3 edges from `two`, 5-6 from `far`
    assert list(small.neighbourhood(two)) == [base]
    # far's mutations to none (3x3) on an edge where two has none (3x3) lie nearest to two (base)
    assert sorted(small.neighbourhood(far)) == sorted([base, two])
    assert len(space.restrict([base]).nearest(code, exclude=base)) == 0


def test_full_space_neighbourhood_is_the_one_edge_neighbours(space):
    for index in np.random.default_rng(0).integers(N_ARCHS, size=200):
        assert np.array_equal(space.neighbourhood(index), space.neighbours(index))


def test_every_kd240_cell_has_a_neighbourhood_of_near_cells(kd240):
    sizes = [len(kd240.neighbourhood(i)) for i in kd240.candidates]
    one_edge = [len(kd240.neighbours(i)) for i in kd240.candidates]
    assert np.mean(one_edge) < 0.5 and min(sizes) >= 3 and np.mean(sizes) > 10
    for i in kd240.candidates[:40]:
        nearest = min(_distance(kd240, i, k) for k in kd240.candidates if k != i)
        distances = [_distance(kd240, i, j) for j in kd240.neighbourhood(i)]
        # a mutation m is one edge from i, so the cells nearest to m are at most 2 edges farther than i's nearest
        assert min(distances) == nearest and max(distances) <= nearest + 2


def test_rea_mutates_to_the_cells_nearest_its_children(kd240):
    rea = _optimizer("rea", kd240, 0)
    lonely = next(i for i in kd240.candidates if len(kd240.neighbours(i)) == 1)
    children = [rea.mutate(lonely) for _ in range(300)]
    assert set(children) <= set(kd240.neighbourhood(lonely))
    assert len(set(children)) >= 4  # the old rule: always its one neighbour in the space


def test_local_search_climbs_through_the_neighbourhood(kd240):
    for seed in range(20):
        ls = _optimizer("local-search", kd240, seed)
        first, _ = ls.ask()
        ls.tell(_trial(first), 50.0, 1.0)
        second, _ = ls.ask()
        assert second in set(kd240.neighbourhood(first))  # the old rule restarted at a random cell


def test_bananas_mutates_the_best_cells_into_their_neighbourhoods(kd240):
    bananas = _optimizer("bananas", kd240, 0)
    lonely = [int(i) for i in kd240.candidates if len(kd240.neighbours(i)) == 0][:10]
    for rank, index in enumerate(lonely):
        bananas.tell(_trial(index), 60.0 + rank, 1.0)
    near = set(kd240.neighbourhood(lonely[-1])) | set(kd240.neighbourhood(lonely[-2]))
    mutations = bananas._mutations()
    assert mutations and set(mutations) <= near  # the old rule: no mutation of either parent is in the space


def _trial(index):
    return Trial(0, int(index), "200")


def test_reinforce_samples_its_policy_conditioned_on_the_space(kd240):
    rf = _optimizer("reinforce", kd240, 0)
    rf.logits[:] = 0.0
    favoured = kd240.ops([7])[0]
    favoured[0] = (favoured[0] + 1) % N_OPS  # a one-edge mutation of cell 7 outside the space
    assert kd240.code_index[favoured @ N_OPS ** np.arange(N_EDGES - 1, -1, -1)] not in kd240
    rf.logits[np.arange(N_EDGES), favoured] = 6.0  # the policy draws a candidate once in about 2,000 draws
    p = rf.candidate_probabilities()
    assert p[7] > 0.4  # cell 7 differs from the favoured cell on one edge only, so it holds the conditioned mass
    draws = np.array([rf.ask()[0] for _ in range(400)])
    assert np.mean(draws == 7) == pytest.approx(p[7], abs=0.08)  # old rule: 100 draws, then uniform (1/240)
    # the gradient's expectation term: the conditioned distribution's per-edge marginals (brute force)
    expect = np.zeros((N_EDGES, N_OPS))
    for prob, ops in zip(p, kd240.candidate_ops):
        expect[np.arange(N_EDGES), ops] += prob
    assert np.allclose(rf.marginals(), expect)
    full = _optimizer("reinforce", kd240.restrict(np.arange(N_ARCHS)), 0)
    assert np.array_equal(full.marginals(), full.probabilities())
