"""The NAS-Bench-201 cell search space.

A cell is a DAG on 4 nodes (node 0 = cell input, node 3 = cell output) with one
operation on each of its 6 edges ``j -> i`` (``j < i``), 5 ** 6 = 15,625 cells.

Two integer identities exist for a cell:

* its **code**, ``sum(op_e * 5 ** (5 - e))``: a property of the cell alone
  (edge ``e0`` most significant, op codes as in :data:`OPS`);
* its **NB201 index**, the position in the official benchmark files, a fixed
  permutation of the codes that ships with every data source. A
  :class:`SearchSpace` holds that permutation and maps between the two.
"""
from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from mfkdbench.errors import UserError

OPS: tuple[str, ...] = ("none", "skip_connect", "nor_conv_1x1", "nor_conv_3x3", "avg_pool_3x3")
#: ``(to_node, from_node)`` of each edge, in the order of the official arch string.
EDGES: tuple[tuple[int, int], ...] = ((1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2))
N_OPS = len(OPS)
N_EDGES = len(EDGES)
N_ARCHS = N_OPS**N_EDGES
ONEHOT_DIM = N_OPS * N_EDGES

_NONE, _SKIP = 0, 1
_PLACE = N_OPS ** np.arange(N_EDGES - 1, -1, -1)  # base-5 place value of each edge
_TOKEN = re.compile(r"^([a-z0-9_]+)~([0-9])$")  # [0-9], not \d: \d and str.isdigit() also take '²' and '٣'
_INTEGER = re.compile(r"[+-]?[0-9]+")
ARCH_FORMAT = "|op~0|+|op~0|op~1|+|op~0|op~1|op~2|"
#: the name of each edge of :data:`EDGES` as a hyperparameter of configuration-space libraries (``edge_<from>_<to>``);
#: its values are the op names of :data:`OPS` (:meth:`SearchSpace.config`, :func:`configuration_space`)
EDGE_NAMES: tuple[str, ...] = tuple(f"edge_{j}_{i}" for i, j in EDGES)


@dataclass(frozen=True, order=True)
class Arch:
    """An immutable NB201 cell: one op code (index into :data:`OPS`) per edge."""

    ops: tuple[int, ...]

    def __post_init__(self):
        ops = tuple(int(o) for o in self.ops)
        if len(ops) != N_EDGES or any(not 0 <= o < N_OPS for o in ops):
            raise UserError(f"an NB201 cell needs {N_EDGES} op codes in 0..{N_OPS - 1}, got {self.ops!r}")
        object.__setattr__(self, "ops", ops)

    # ---- string form -------------------------------------------------
    @classmethod
    def parse(cls, text: str) -> Arch:
        """Parse the official string ``|op~0|+|op~0|op~1|+|op~0|op~1|op~2|``."""
        bad = UserError(f"malformed NB201 arch string {shown(text)}: expected '{ARCH_FORMAT}'")
        nodes = text.strip().split("+")
        if len(nodes) != 3:
            raise bad
        ops = []
        for to_node, node in enumerate(nodes, start=1):
            if not (node.startswith("|") and node.endswith("|")):
                raise bad
            tokens = node[1:-1].split("|")
            if len(tokens) != to_node:
                raise bad
            for from_node, token in enumerate(tokens):
                match = _TOKEN.match(token)
                if not match or int(match.group(2)) != from_node:
                    raise bad
                if match.group(1) not in OPS:
                    raise UserError(f"unknown operation {match.group(1)!r} in arch string; NB201 ops are {', '.join(OPS)}")
                ops.append(OPS.index(match.group(1)))
        return cls(tuple(ops))

    def __str__(self) -> str:
        parts, e = [], 0
        for to_node in range(1, 4):
            tokens = []
            for from_node in range(to_node):
                tokens.append(f"{OPS[self.ops[e]]}~{from_node}")
                e += 1
            parts.append("|" + "|".join(tokens) + "|")
        return "+".join(parts)

    # ---- integer forms -----------------------------------------------
    @property
    def code(self) -> int:
        """Base-5 code of the cell, 0..15624 (not the NB201 index)."""
        return int(np.dot(self.ops, _PLACE))

    @classmethod
    def from_code(cls, code: int) -> Arch:
        if not 0 <= int(code) < N_ARCHS:
            raise UserError(f"cell code {code} out of range 0..{N_ARCHS - 1}")
        return cls(tuple(int(o) for o in codes_to_ops(np.array([code]))[0]))

    # ---- structure ---------------------------------------------------
    def onehot(self) -> np.ndarray:
        """30 features: a one-hot of the op on each edge."""
        return onehot(np.array([self.code]))[0]

    def neighbours(self) -> list[Arch]:
        """The 24 cells that differ from this one on exactly one edge."""
        return [Arch.from_code(int(c)) for c in neighbour_codes(self.code)]

    @property
    def is_connected(self) -> bool:
        """True if some path from the cell input to its output has no ``none`` edge."""
        return bool(connected(np.array([self.code]))[0])

    @property
    def canonical_key(self) -> str:
        """A key equal for cells that compute the same function (see :func:`canonical_key`)."""
        return canonical_key(self.ops)


# ---- vectorised helpers over arrays of codes ----------------------------

def codes_to_ops(codes: np.ndarray) -> np.ndarray:
    """``(n,)`` codes -> ``(n, 6)`` op codes."""
    codes = np.asarray(codes, dtype=np.int64)
    return (codes[:, None] // _PLACE[None, :]) % N_OPS


def ops_to_codes(ops: np.ndarray) -> np.ndarray:
    """``(n, 6)`` op codes -> ``(n,)`` codes."""
    return np.asarray(ops, dtype=np.int64) @ _PLACE


def onehot(codes: np.ndarray) -> np.ndarray:
    """``(n,)`` codes -> ``(n, 30)`` float one-hot encoding (edge-major)."""
    ops = codes_to_ops(codes)
    out = np.zeros((len(ops), ONEHOT_DIM))
    out[np.arange(len(ops))[:, None], np.arange(N_EDGES) * N_OPS + ops] = 1.0
    return out


def neighbour_codes(code: int) -> np.ndarray:
    """Codes of the 24 one-edge mutations of ``code``, in a fixed order."""
    ops = codes_to_ops(np.array([code]))[0]
    out = []
    for e in range(N_EDGES):
        for op in range(N_OPS):
            if op != ops[e]:
                out.append(code + (op - ops[e]) * _PLACE[e])
    return np.array(out, dtype=np.int64)


def connected(codes: np.ndarray) -> np.ndarray:
    """Boolean mask: does a path input -> output avoid every ``none`` edge?"""
    live = codes_to_ops(codes) != _NONE
    reach1 = live[:, 0]
    reach2 = live[:, 1] | (reach1 & live[:, 2])
    return live[:, 3] | (reach1 & live[:, 4]) | (reach2 & live[:, 5])


def canonical_key(ops) -> str:
    """Function-level identity of a cell.

    Each node's value is a multiset of terms; ``none`` contributes nothing,
    ``skip_connect`` passes its input's terms through, any other op applied to
    a non-zero input gives the single term ``op(input)`` and zero otherwise,
    and a node sums (multiset union) its inputs. Cells with equal output
    values compute the same function whatever the weights; this also merges
    every cell with no input-output path into one class (the zero function).
    It is stricter about zeros than NB201's own ``to_unique_str``.
    """
    values: list[tuple[str, ...]] = [("x",)]
    e = 0
    for to_node in range(1, 4):
        terms: list[str] = []
        for from_node in range(to_node):
            op, src = ops[e], values[from_node]
            e += 1
            if op == _NONE or not src:
                continue
            if op == _SKIP:
                terms.extend(src)
            else:
                terms.append(f"{OPS[op]}({'+'.join(src)})")
        values.append(tuple(sorted(terms)))
    return "+".join(values[3]) or "0"


class SearchSpace:
    """The 15,625 NB201 cells with the official index order.

    ``index_codes[i]`` is the code of NB201 index ``i``; every data source ships
    this order and the loader checks it.
    """

    def __init__(self, index_codes: np.ndarray, candidates: np.ndarray | None = None):
        index_codes = np.asarray(index_codes, dtype=np.int64)
        if index_codes.shape != (N_ARCHS,) or not np.array_equal(np.sort(index_codes), np.arange(N_ARCHS)):
            raise UserError("the NB201 index order in the data is not a permutation of all 15,625 cells")
        self.index_codes = index_codes
        self.code_index = np.empty(N_ARCHS, dtype=np.int64)
        self.code_index[index_codes] = np.arange(N_ARCHS)
        #: the NB201 indices a search may visit (all of them unless restricted)
        self.candidates = np.arange(N_ARCHS) if candidates is None else np.unique(np.asarray(candidates, dtype=np.int64))
        self._allowed = np.zeros(N_ARCHS, dtype=bool)
        self._allowed[self.candidates] = True
        #: ``allowed[i]``: whether NB201 index ``i`` is a candidate (a list: the simulator checks every proposal)
        self.allowed: list[bool] = self._allowed.tolist()

    def restrict(self, indices) -> SearchSpace:
        """The same space with searches limited to ``indices`` (e.g. archs with a KD table)."""
        return SearchSpace(self.index_codes, indices)

    def __len__(self) -> int:
        return len(self.candidates)

    def __contains__(self, index) -> bool:
        index = int(index)
        return 0 <= index < N_ARCHS and self.allowed[index]

    def arch(self, index: int) -> Arch:
        """The cell at NB201 index ``index``."""
        return Arch.from_code(int(self.index_codes[check_index(index)]))

    def index(self, arch: Arch | str) -> int:
        """NB201 index of a cell (an :class:`Arch` or an official string)."""
        arch = Arch.parse(arch) if isinstance(arch, str) else arch
        return int(self.code_index[arch.code])

    def resolve(self, text: str) -> int:
        """NB201 index from user text: an index (``"9930"``) or an arch string."""
        text = str(text).strip()
        if is_integer(text):
            return parse_int(text, 0, N_ARCHS - 1, "NB201 index")
        if "|" not in text:
            raise UserError(f"{shown(text)} is neither an NB201 index (ASCII digits, 0..{N_ARCHS - 1}) "
                            f"nor an arch string '{ARCH_FORMAT}'")
        return self.index(Arch.parse(text))

    def sample(self, rng: np.random.Generator, size: int | None = None):
        """Uniformly random NB201 indices among the candidates."""
        return self.candidates[rng.integers(len(self.candidates), size=size)]

    def config(self, index: int) -> dict[str, str]:
        """The cell at NB201 index ``index`` as a configuration: edge name -> op name (:data:`EDGE_NAMES`)."""
        return {name: OPS[op] for name, op in zip(EDGE_NAMES, self.arch(index).ops)}

    def from_config(self, config) -> int:
        """NB201 index of a configuration (a mapping edge name -> op name, :meth:`config`). Outside a
        restricted space it is the candidate with the most edges in common, the lowest index on ties."""
        try:
            ops = np.array([OPS.index(str(config[name])) for name in EDGE_NAMES])
        except (KeyError, ValueError):
            raise UserError(f"a configuration names an op ({', '.join(OPS)}) for each of {', '.join(EDGE_NAMES)}; "
                            f"got {shown(dict(config), 200)}") from None
        index = int(self.code_index[int(ops @ _PLACE)])
        if self.allowed[index]:
            return index
        return int(self.candidates[np.argmax((self.ops(self.candidates) == ops).sum(axis=1))])

    def neighbours(self, index: int) -> np.ndarray:
        """NB201 indices of the one-edge mutations of ``index`` (24, fewer in a restricted space)."""
        out = self.code_index[neighbour_codes(int(self.index_codes[check_index(index)]))]
        return out[self._allowed[out]]

    @property
    def restricted(self) -> bool:
        """Whether searches are limited to fewer than all 15,625 cells."""
        return len(self.candidates) < N_ARCHS

    @cached_property
    def candidate_ops(self) -> np.ndarray:
        """``(len(self), 6)`` op codes of the candidates, in the order of :attr:`candidates`."""
        return self.ops(self.candidates)

    def nearest(self, code: int, exclude: int | None = None) -> np.ndarray:
        """NB201 indices of the candidates with the fewest edges differing from the cell ``code``
        (NB201 index ``exclude`` left out; empty if no other candidate is left)."""
        distance = (self.candidate_ops != codes_to_ops(np.array([code]))[0]).sum(axis=1)
        if exclude is not None:
            distance[self.candidates == exclude] = N_EDGES + 1
        if len(distance) == 0 or distance.min() > N_EDGES:
            return np.empty(0, dtype=np.int64)
        return self.candidates[distance == distance.min()]

    def neighbourhood(self, index: int) -> np.ndarray:
        """The one-edge mutations of ``index`` as seen inside the space: each mutation that is a candidate,
        and for each one that is not, the candidates nearest to it (``index`` itself left out), without
        repeats in the order of the mutations. On the full space it is :meth:`neighbours`; on a restricted
        one a cell keeps a neighbourhood to climb through where few or none of its 24 mutations exist."""
        if not self.restricted:
            return self.neighbours(index)
        out: dict[int, None] = {}
        for code in neighbour_codes(int(self.index_codes[check_index(index)])):
            child = int(self.code_index[code])
            near = [child] if self.allowed[child] else self.nearest(code, exclude=index).tolist()
            out.update(dict.fromkeys(near))
        return np.fromiter(out, dtype=np.int64, count=len(out))

    def onehot(self, indices) -> np.ndarray:
        """``(n, 30)`` one-hot encodings of NB201 indices."""
        return onehot(self.index_codes[np.asarray(indices, dtype=np.int64)])

    def ops(self, indices) -> np.ndarray:
        """``(n, 6)`` op codes of NB201 indices."""
        return codes_to_ops(self.index_codes[np.asarray(indices, dtype=np.int64)])

    @cached_property
    def connected(self) -> np.ndarray:
        """Mask over NB201 indices of cells with an input-output path."""
        return connected(self.index_codes)

    @cached_property
    def canonical_ids(self) -> np.ndarray:
        """Per NB201 index, the smallest index computing the same function."""
        keys = [canonical_key(row) for row in codes_to_ops(self.index_codes)]
        first: dict[str, int] = {}
        return np.array([first.setdefault(k, i) for i, k in enumerate(keys)], dtype=np.int64)

    @property
    def n_unique(self) -> int:
        """Number of functionally distinct cells."""
        return int(len(np.unique(self.canonical_ids)))


def configuration_space(seed: int | None = None):
    """The six edges as a ConfigSpace ``ConfigurationSpace`` of categorical op names (``pip install configspace``)."""
    from ConfigSpace import Categorical, ConfigurationSpace

    return ConfigurationSpace(seed=seed, space=[Categorical(name, OPS) for name in EDGE_NAMES])


def check_index(index: int) -> int:
    """Validate an NB201 index (an integer, not a float or a string)."""
    try:
        index = operator.index(index)
    except TypeError:
        raise UserError(f"an NB201 index must be an integer, got {shown(index)}") from None
    if not 0 <= index < N_ARCHS:
        raise UserError(f"NB201 index {index} out of range 0..{N_ARCHS - 1}")
    return index


def shown(value, limit: int = 40) -> str:
    """``repr(value)``, cut to ``limit`` characters so that one bad input stays one short line."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(str(value))} characters)"


def is_integer(text: str) -> bool:
    """Whether ``text`` is a whole number in ASCII digits with an optional sign (no '²', '٣' or '１')."""
    return _INTEGER.fullmatch(str(text).strip()) is not None


def parse_int(text: str, low: int, high: int, what: str) -> int:
    """A whole number in ``low..high`` from user text, else one :class:`UserError` line naming ``what``.

    Digits are counted before ``int()``, which is slow on, or refuses (over 4,300
    digits), the long strings a typo can produce.
    """
    text = str(text).strip()
    if not is_integer(text):
        raise UserError(f"{what} {shown(text)} is not a whole number (ASCII digits) in {low}..{high}")
    if len(text.lstrip("+-").lstrip("0")) > len(str(max(abs(low), abs(high)))):
        raise UserError(f"{what} {shown(text)} out of range {low}..{high}")
    value = int(text)
    if not low <= value <= high:
        raise UserError(f"{what} {value} out of range {low}..{high}")
    return value
