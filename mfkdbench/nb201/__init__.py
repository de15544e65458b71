"""NAS-Bench-201 data: the search space, tables and cache, importers, benchmark views, encodings, descriptions.

The bottom layer: imports only :mod:`mfkdbench.errors`, numpy, scipy and pandas.
"""
