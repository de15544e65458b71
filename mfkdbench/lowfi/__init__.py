"""Low fidelities: sources (NB201's 12-epoch runs, KD tables, stores, live training), the append-only store,
the correlation study, and :mod:`~mfkdbench.lowfi.catalog`, the one place a benchmark is assembled.

May import :mod:`mfkdbench.nb201`.
"""
