"""The incumbent at a checkpoint under NB201's budget protocol, shared by the study scripts."""
from __future__ import annotations

import numpy as np
import pandas as pd


def started_incumbent(evaluations: pd.DataFrame, fidelity: str, seconds: float) -> int:
    """NB201 index of the best-scoring evaluation at ``fidelity`` started before ``seconds`` (-1 if none; ties:
    the earlier evaluation). With one worker and an optimizer that never sees the budget, it is the incumbent of
    the same run at a budget of ``seconds`` (NB201's ``while total_time < budget``: the last one may end after)."""
    started = evaluations[(evaluations.fidelity == fidelity) & np.isfinite(evaluations.score)
                          & (evaluations.start < seconds)]
    return int(started["index"].iloc[int(np.argmax(started.score.to_numpy()))]) if len(started) else -1
