"""Searching: the ask/tell optimizer protocol and registry, the simulated clock, presets, one-run entry points.

May import :mod:`mfkdbench.nb201`, :mod:`mfkdbench.lowfi` and :mod:`mfkdbench.train`; finds optimizers
(:mod:`mfkdbench.mfkd`, ``baselines``) by name, as plugins.
"""
