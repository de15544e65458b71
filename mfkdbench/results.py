"""Public shortcut to :mod:`mfkdbench.report.results`: ``mfkdbench.results.load(folder)`` -> DataFrames."""
from mfkdbench.report.results import Results, export, load

__all__ = ["Results", "export", "load"]
