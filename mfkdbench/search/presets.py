"""Named search protocols: time budget per dataset and the fidelity a search targets.

* ``nb201-iclr20`` -- NAS-Bench-201 (Dong & Yang, ICLR 2020), the scripts in
  AutoDL-Projects ``scripts-search/algos/*.sh``: 12,000 simulated seconds on
  every dataset, search on the validation accuracy of the 12-epoch schedule,
  report the 200-epoch test accuracy, one worker.
* ``nats-tpami21`` -- NATS-Bench (Dong et al., TPAMI 2021), ``exps/NATS-algos``:
  the same rules with 20,000 / 40,000 / 120,000 s for CIFAR-10 / CIFAR-100 /
  ImageNet16-120.
* ``nats-hf200`` -- NATS-Bench's budgets, searching on the 200-epoch
  validation accuracy: MF-KD's setting (its high fidelity is the 200-epoch
  result), where a 12-epoch run is a cheaper, lower fidelity. The default of
  ``compare``: under ``nats-tpami21`` the 12-epoch schedule *is* the target,
  which leaves a multi-fidelity method nothing lower to use.
* ``hf200`` -- search directly on the 200-epoch validation accuracy. The
  budget is nb201-iclr20's scaled by 200/12 (200,000 s), so a single-fidelity
  search makes about as many evaluations as under nb201-iclr20.
* ``head-to-head`` -- the default of ``run`` and ``compare``
  (:data:`DEFAULT_PRESET`): target the 200-epoch validation accuracy with 10x
  NATS-Bench's budgets (200,000 / 400,000 / 1,200,000 s), results reported at
  the checkpoints 1x, 3x and 10x the NATS budget. Under the NATS budget alone a
  200-epoch search buys about 11 evaluations and the families do not separate;
  by 10x the best methods reach the optimum in most seeds (docs/protocol.md has
  the measurements), and a larger budget makes the GP-based searches, whose
  cost grows with the square of their evaluations and more, dominate the
  run time.
"""
from __future__ import annotations

from dataclasses import dataclass

from mfkdbench.errors import UserError


@dataclass(frozen=True)
class Preset:
    """A search protocol: budget (simulated seconds) per dataset and target fidelity."""

    name: str
    budgets: dict[str, float]
    target_fidelity: str
    description: str
    #: fractions of the budget at which the summary reports results (the budget itself last)
    checkpoints: tuple[float, ...] = (1.0,)

    def budget_for(self, dataset: str) -> float:
        if dataset not in self.budgets:
            raise UserError(f"preset {self.name!r} has no budget for dataset {dataset!r}")
        return self.budgets[dataset]

    def checkpoints_for(self, dataset: str) -> tuple[float, ...]:
        """The checkpoints in simulated seconds."""
        return tuple(self.budget_for(dataset) * c for c in self.checkpoints)


def _same(seconds: float) -> dict[str, float]:
    return {"cifar10": seconds, "cifar100": seconds, "imagenet16-120": seconds}


_NATS = {"cifar10": 20_000.0, "cifar100": 40_000.0, "imagenet16-120": 120_000.0}

PRESETS: dict[str, Preset] = {p.name: p for p in (
    Preset("nb201-iclr20", _same(12_000.0), "ce12",
           "NAS-Bench-201 (ICLR 2020): 12,000 s, search on 12-epoch validation accuracy, sequential"),
    Preset("nats-tpami21", _NATS, "ce12",
           "NATS-Bench (TPAMI 2021): 20,000 / 40,000 / 120,000 s, search on 12-epoch validation accuracy"),
    Preset("nats-hf200", _NATS, "200",
           "NATS-Bench's budgets, search on 200-epoch validation accuracy (the multi-fidelity comparison)"),
    Preset("hf200", _same(200_000.0), "200",
           "search on 200-epoch validation accuracy, 200,000 s (nb201-iclr20's budget x 200/12)"),
    Preset("head-to-head", {d: 10 * b for d, b in _NATS.items()}, "200",
           "search on 200-epoch validation accuracy, 10x NATS-Bench's budgets, results at 1x, 3x and 10x",
           (0.1, 0.3, 1.0)),
)}
#: the protocol ``run`` and ``compare`` share by default
DEFAULT_PRESET = "head-to-head"


def get_preset(name: str) -> Preset:
    """A preset by name; :class:`UserError` if unknown."""
    if name not in PRESETS:
        raise UserError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name]
