"""Feature encodings of NB201 cells for surrogate models (one function per encoding)."""
from __future__ import annotations

import numpy as np

from mfkdbench.nb201.space import N_OPS, SearchSpace

#: the input->output paths of an NB201 cell as edge ids (see :data:`mfkdbench.nb201.space.EDGES`):
#: 0->3, 0->1->3, 0->2->3, 0->1->2->3 (BANANAS / NASLib ``path_blueprints``)
NB201_PATHS: tuple[tuple[int, ...], ...] = ((3,), (0, 4), (1, 5), (0, 2, 5))
#: one feature per op sequence of length 1, 2 and 3: 5 + 25 + 125
PATH_ENCODING_DIM = N_OPS + N_OPS**2 + N_OPS**3
_LENGTH_OFFSET = {1: 0, 2: N_OPS, 3: N_OPS + N_OPS**2}


def path_encoding(space: SearchSpace, indices) -> np.ndarray:
    """``(n, 155)`` path encoding (White et al., BANANAS, AAAI 2021) of NB201 indices.

    A feature is an op sequence along an input->output path; it is 1 if some
    path of the cell carries that sequence. As in NASLib's ``encode_paths``
    for NAS-Bench-201, paths through ``none`` edges count as well, and the two
    length-2 paths share the 25 length-2 features (features are op sequences,
    not edges), hence 5 + 25 + 125 = 155 features, not 180. The feature of
    a sequence ``(o_0, ..., o_{L-1})`` is ``offset(L) + sum_j o_j * 5**j``
    with the op codes of :data:`mfkdbench.nb201.space.OPS`.
    """
    ops = space.ops(np.atleast_1d(np.asarray(indices, dtype=np.int64)))
    out = np.zeros((len(ops), PATH_ENCODING_DIM))
    rows = np.arange(len(ops))
    for path in NB201_PATHS:
        feature = _LENGTH_OFFSET[len(path)] + sum(ops[:, edge] * N_OPS**j for j, edge in enumerate(path))
        out[rows, feature] = 1.0
    return out


def onehot_encoding(space: SearchSpace, indices) -> np.ndarray:
    """``(n, 30)`` one-hot of the op on each edge: the MF-KD authors' encoding."""
    return space.onehot(np.atleast_1d(np.asarray(indices, dtype=np.int64)))


#: encodings by name, for surrogate models that take the choice as a parameter
ENCODINGS = {"onehot": onehot_encoding, "path": path_encoding}


def encode(name: str, space: SearchSpace, indices) -> np.ndarray:
    """Encode NB201 indices with the encoding called ``name``."""
    from mfkdbench.errors import UserError

    if name not in ENCODINGS:
        raise UserError(f"unknown encoding {name!r}; choose one of {', '.join(ENCODINGS)}")
    return ENCODINGS[name](space, indices)
