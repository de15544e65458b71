"""Public shortcut to :mod:`mfkdbench.report.results`: ``mfkdbench.results.load(folder)`` -> DataFrames."""
from mfkdbench.report.results import TABLES, Results, export, load

__all__ = ["TABLES", "Results", "export", "load"]
