"""One look per optimizer and per fidelity, the same in every figure and on every dataset.

Colour comes from the optimizer's *base* name (``rea`` for ``rea@ce12``) by a fixed table, not by its
position in a legend: Okabe-Ito's colour-blind-safe colours (black, vermillion, bluish green, reddish purple,
blue, orange, sky blue) and four more (grey, violet, olive, wine). The two pairs of one hue (blue and sky blue,
reddish purple and wine) belong to methods of different families, told apart by line style; a marker per base
name is a second channel besides colour. A name outside the table gets a colour and marker by a hash of the
name. Line style comes from the family: solid for multi-fidelity, dash-dot for training-free (a search with a
training-free stage: ``mf-nas``, ``rea-zc``), dashed for low-fidelity-only, dotted for
target-only; two low-fidelity-only labels of one base (``random@ce12``, ``random@nst12``) get different dash
patterns, fixed by the search fidelity. MF-KD is black, thicker and drawn on top.

Family: ``run.config["family"]`` when the run records it, else inferred: multi-fidelity if the optimizer is
registered as such or its evaluations used more than one fidelity, target-only if it evaluated only the target
fidelity, else low-fidelity-only.
"""
from __future__ import annotations

import zlib

import numpy as np
from matplotlib.colors import to_rgb

FAMILIES = ("multi-fidelity", "training-free", "low-fidelity-only", "target-only")
LINESTYLES = {"multi-fidelity": "-", "training-free": (0, (6, 2, 1, 2)), "low-fidelity-only": (0, (5, 2)),
              "target-only": (0, (1, 1.5))}
#: further dash patterns of low-fidelity-only labels, by search fidelity
_LOW_FIDELITY_DASHES = {"nst12": (0, (5, 1.5, 1, 1.5)), "ce12": (0, (5, 2))}

OPTIMIZER_COLORS = {
    "mfkd": "#000000", "mf-ce": "#D55E00", "hyperband": "#009E73", "bohb": "#CC79A7", "gp-hf": "#0072B2",
    "rea": "#E69F00", "bohb-nb201": "#56B4E9", "random": "#7F7F7F", "bananas": "#6A3D9A", "reinforce": "#999933",
    "local-search": "#882255", "mf-nas": "#117733", "rea-zc": "#DDCC77", "topk": "#44AA99",
}
OPTIMIZER_MARKERS = {
    "mfkd": "o", "mf-ce": "s", "hyperband": "^", "bohb": "v", "gp-hf": "D", "rea": "P", "bohb-nb201": "<",
    "random": "X", "bananas": "*", "reinforce": ">", "local-search": "h", "mf-nas": "d", "rea-zc": "p", "topk": "8",
}
HIGHLIGHT = "mfkd"

#: fidelity -> colour; the points ``X@E`` of a curve take shades of X's (see :func:`fidelity_color`)
FIDELITY_COLORS = {"200": "#000000", "ce12": "#0072B2", "nst12": "#D55E00", "kd12": "#CC79A7", "live": "#009E73"}
_SPARE = ("#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#999933", "#6A3D9A", "#882255", "#7F7F7F")


def base_name(label: str) -> str:
    """``rea@ce12`` -> ``rea``."""
    return label.split("@", 1)[0]


def _hashed(name: str, colors) -> str:
    return colors[zlib.crc32(name.encode()) % len(colors)]


def optimizer_color(label: str) -> str:
    """The colour of an optimizer label, by its base name."""
    base = base_name(label)
    return OPTIMIZER_COLORS.get(base) or _hashed(base, list(OPTIMIZER_COLORS.values()))


def line_style(label: str, family_name: str) -> dict:
    """Matplotlib keyword arguments (colour, dashes, width, z-order) of ``label`` in ``family_name``."""
    dashes = LINESTYLES.get(family_name, "-")
    if family_name == "low-fidelity-only" and "@" in label:
        dashes = _LOW_FIDELITY_DASHES.get(label.split("@", 1)[1], dashes)
    base = base_name(label)
    top = base == HIGHLIGHT
    marker = OPTIMIZER_MARKERS.get(base) or _hashed(base, list(OPTIMIZER_MARKERS.values()))
    return {"color": optimizer_color(label), "linestyle": dashes, "lw": 2.8 if top else 1.6, "zorder": 5 if top else 2,
            "marker": marker, "markersize": 6 if top else 4.5}


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
    """MF-KD first, then by family (:data:`FAMILIES` order), then by name."""
    def key(label):
        fam = families_of.get(label, "")
        return (base_name(label) != HIGHLIGHT, FAMILIES.index(fam) if fam in FAMILIES else len(FAMILIES), label)

    return sorted(labels, key=key)
