"""Real training, apart from the simulator: NB201 networks, KD losses, image data, trainer, teacher, jobs.

torch is imported here only, and only by modules that need it. May import :mod:`mfkdbench.nb201` and
:mod:`mfkdbench.lowfi` (to store its runs).
"""
