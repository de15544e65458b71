"""MF-KD: AR(1) co-kriging, acquisition functions, and the searches built on them (gp-hf, mf-ce, mfkd).

May import :mod:`mfkdbench.search` and the layers below it; not ``baselines``.
"""
