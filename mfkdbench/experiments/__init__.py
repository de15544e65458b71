"""Experiments: the comparison grid, the resumable result store, executors, the NB201 reproduction.

May import :mod:`mfkdbench.search` and every layer below it.
"""
