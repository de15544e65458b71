"""Reports: summaries, statistics, figures, the HTML/paper set, and the compare/figures/paper pipelines.

The top layer of the library: may import everything below it.
"""
