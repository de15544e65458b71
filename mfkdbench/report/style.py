"""One look per optimizer and per fidelity, the same in every figure and on every dataset.

An optimizer's *base* name (``rea`` for ``rea@ce12``) gets a colour and a marker; no two registered optimizers
share both (:func:`looks`). The original methods keep a fixed pair (:data:`FIXED_LOOKS`); every other registered
name gets, in name order, the unused pair whose colour and marker are used least so far, so a newly registered
baseline gets a look of its own without editing a table. A label no optimizer registers (results of an older
version or of a plugin not installed) gets the next unused pair the same way, in the order such labels are first
drawn in the process, so no two of them share a look either (and the same command on the same results
draws the same looks). Colours: Okabe-Ito's colour-blind-safe set (black,
vermillion, bluish green, reddish purple, blue, orange, sky blue) and four more (violet, olive, wine, brown);
grey is kept for context curves (:data:`CONTEXT_GREY`).

Line style comes from the family: solid for multi-fidelity, dashed for low-fidelity-only, dotted for
target-only, dash-dot-dot for training-free, a hashed dash pattern for any other family; low-fidelity-only labels
of one base (``random@ce12``, ``random@nst12``) get different dash patterns, fixed by the search fidelity.
MF-KD is black, thicker and drawn on top.

Family: ``run.config["family"]`` when the run records it, else inferred: multi-fidelity if the optimizer is
registered as such or its evaluations used more than one fidelity, target-only if it evaluated only the target
fidelity, else low-fidelity-only.
"""
from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
from matplotlib.colors import to_rgb

FAMILIES = ("multi-fidelity", "training-free", "low-fidelity-only", "target-only")
LINESTYLES = {"multi-fidelity": "-", "low-fidelity-only": (0, (5, 2)), "target-only": (0, (1, 1.5)),
              "training-free": (0, (4, 1.5, 1, 1.5, 1, 1.5))}
#: dash patterns of further families and of low-fidelity-only labels at other fidelities (by a hash)
_SPARE_DASHES = ((0, (8, 2)), (0, (3, 3)), (0, (6, 1.5, 1.5, 1.5)), (0, (2, 1, 6, 1)), (0, (10, 2, 2, 2)))
#: further dash patterns of low-fidelity-only labels, by search fidelity
_LOW_FIDELITY_DASHES = {"nst12": (0, (5, 1.5, 1, 1.5)), "ce12": (0, (5, 2))}

COLORS = ("#000000", "#D55E00", "#009E73", "#CC79A7", "#0072B2", "#E69F00", "#56B4E9", "#6A3D9A", "#999933",
          "#882255", "#8C564B")
MARKERS = ("o", "s", "^", "v", "D", "P", "<", "X", "*", ">", "h", "p", "d", "H", "8")
#: (colour, marker) of the original methods
FIXED_LOOKS = {
    "mfkd": ("#000000", "o"), "mf-ce": ("#D55E00", "s"), "hyperband": ("#009E73", "^"), "bohb": ("#CC79A7", "v"),
    "gp-hf": ("#0072B2", "D"), "rea": ("#E69F00", "P"), "bohb-nb201": ("#56B4E9", "<"), "random": ("#8C564B", "X"),
    "bananas": ("#6A3D9A", "*"), "reinforce": ("#999933", ">"), "local-search": ("#882255", "h"),
}
CONTEXT_GREY = "#9A9A9A"
HIGHLIGHT = "mfkd"
#: MF-KD and its ablations (``mf-ce``, ``mfkd-zc``, ``mf-ce-zc`` ...): drawn in every panel
HIGHLIGHT_FAMILY = ("mfkd", "mf-ce")

#: fidelity -> colour; the points ``X@E`` of a curve take shades of X's (see :func:`fidelity_color`)
FIDELITY_COLORS = {"200": "#000000", "ce12": "#0072B2", "nst12": "#D55E00", "kd12": "#CC79A7", "live": "#009E73"}
_SPARE = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999933", "#6A3D9A", "#882255", "#7F7F7F")


def base_name(label: str) -> str:
    """``rea@ce12`` -> ``rea``; a search with options keeps them (``mfkd[allocation=cost]``: a look of its own)."""
    return label.split("@", 1)[0]


def _hashed(name: str, options):
    return options[zlib.crc32(name.encode()) % len(options)]


def _registered() -> tuple[str, ...]:
    from mfkdbench.search.optimizer import optimizer_names

    return tuple(optimizer_names())


@lru_cache(maxsize=8)
def _assign(names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    """(colour, marker) of each of ``names``: the fixed ones, then each other name (in order) the unused pair
    whose colour and marker are used least (never MF-KD's black)."""
    out = {n: FIXED_LOOKS[n] for n in names if n in FIXED_LOOKS}
    for name in names:
        if name in out:
            continue
        used = set(out.values())
        colour_uses = {c: sum(v[0] == c for v in out.values()) for c in COLORS}
        marker_uses = {m: sum(v[1] == m for v in out.values()) for m in MARKERS}
        free = [(c, m) for m in MARKERS for c in COLORS[1:] if (c, m) not in used]  # black is MF-KD's
        out[name] = min(free, key=lambda p: (colour_uses[p[0]] + marker_uses[p[1]], marker_uses[p[1]]))
    return out


def looks() -> dict[str, tuple[str, str]]:
    """(colour, marker) of every registered optimizer; no two share both."""
    return _assign(tuple(sorted(set(_registered()) | set(FIXED_LOOKS))))


#: base names met in this process that no optimizer registers, in the order they were first drawn
_UNREGISTERED: list[str] = []


def look(label: str) -> tuple[str, str]:
    """(colour, marker) of an optimizer label, by its base name."""
    base, known = base_name(label), looks()
    if base in known:
        return known[base]
    if base not in _UNREGISTERED:
        _UNREGISTERED.append(base)
    return _assign(tuple(known) + tuple(_UNREGISTERED))[base]


def optimizer_color(label: str) -> str:
    """The colour of an optimizer label, by its base name."""
    return look(label)[0]


def is_highlighted(label: str) -> bool:
    """MF-KD or one of its ablations (:data:`HIGHLIGHT_FAMILY`)."""
    base = base_name(label)
    return any(base == h or base.startswith(h + "-") for h in HIGHLIGHT_FAMILY)


def dashes(label: str, family_name: str):
    """Line style of ``label`` in ``family_name`` (module docstring)."""
    if family_name not in LINESTYLES:
        return _hashed(family_name, _SPARE_DASHES)
    if family_name == "low-fidelity-only" and "@" in label:
        fidelity = label.split("@", 1)[1]
        return _LOW_FIDELITY_DASHES.get(fidelity) or _hashed(fidelity, _SPARE_DASHES)
    return LINESTYLES[family_name]


def line_style(label: str, family_name: str) -> dict:
    """Matplotlib keyword arguments (colour, dashes, marker, width, z-order) of ``label`` in ``family_name``."""
    colour, marker = look(label)
    top = base_name(label) == HIGHLIGHT
    return {"color": colour, "linestyle": dashes(label, family_name), "lw": 2.8 if top else 1.6,
            "zorder": 5 if top else 2, "marker": marker, "markersize": 6 if top else 4.5}


def context_style(label: str, family_name: str) -> dict:
    """:func:`line_style` in grey, thinner and below: another family's best, drawn for context."""
    return {**line_style(label, family_name), "color": CONTEXT_GREY, "lw": 1.2, "zorder": 1, "markersize": 3.5,
            "alpha": 0.9}


def fidelity_color(name: str) -> tuple[float, float, float]:
    """The colour of a fidelity, fixed by its name; the point ``X@E`` of X's curve is X's colour mixed with
    white, lighter for fewer epochs (an ordered ladder of one hue)."""
    base, _, epoch = name.partition("@")
    color = np.array(to_rgb(FIDELITY_COLORS.get(base) or _hashed(base, _SPARE)))
    epochs = "".join(ch for ch in base if ch.isdigit())
    if epoch.isdigit() and epochs:
        color = color + (1 - color) * 0.8 * (1 - min(int(epoch), int(epochs)) / int(epochs))
    return tuple(float(c) for c in color)


def family(run) -> str:
    """The run's family: recorded in its config, else inferred (module docstring)."""
    recorded = run.config.get("family")
    if recorded:
        return recorded
    from mfkdbench.errors import UserError
    from mfkdbench.search.optimizer import optimizer_class

    try:
        registered = optimizer_class(base_name(run.optimizer)).multi_fidelity
    except UserError:
        registered = False
    used = set(run.evaluations["fidelity"])
    if registered or len(used) > 1:
        return "multi-fidelity"
    return "target-only" if used <= {run.config.get("target_fidelity")} else "low-fidelity-only"


def families(runs: list) -> dict[str, str]:
    """Family of each optimizer label (multi-fidelity if any of its runs is)."""
    out: dict[str, str] = {}
    for r in runs:
        fam = family(r)
        if out.get(r.optimizer) != "multi-fidelity":
            out[r.optimizer] = fam
    return out


def legend_order(labels, families_of: dict[str, str]) -> list[str]:
    """MF-KD first, then by family (in :data:`FAMILIES` order, unknown ones last), then by name."""
    def key(label):
        fam = families_of.get(label, "")
        return (base_name(label) != HIGHLIGHT, FAMILIES.index(fam) if fam in FAMILIES else len(FAMILIES), label)

    return sorted(labels, key=key)
