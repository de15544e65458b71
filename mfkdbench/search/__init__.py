"""Searching: the ask/tell optimizer protocol and registry, the simulated clock, presets, one-run entry points,
and benchmarks as objectives for other frameworks (:mod:`~mfkdbench.search.blackbox`).

May import :mod:`mfkdbench.nb201`, :mod:`mfkdbench.lowfi` and :mod:`mfkdbench.train`; finds optimizers
(:mod:`mfkdbench.mfkd`, ``mfkdbench.baselines``) by name, as plugins.
"""
