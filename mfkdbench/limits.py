"""The largest values the commands accept: beyond them a command would run for days or exhaust memory.

Each is far above the published protocols (NB201 and NATS-Bench use up to 500
seeds, one worker and 200 training epochs), so only typos and
misunderstandings meet them. ``--help`` and the README name them.
"""

#: seeds of numpy and torch generators: 0 .. 2**32 - 1
MAX_SEED = 2**32 - 1
#: seeds per optimizer in one comparison
MAX_SEEDS = 10_000
#: local processes running cells (each holds a copy of the tables)
MAX_PROCESSES = 256
#: asynchronous workers inside one simulated search
MAX_SIM_WORKERS = 1_000
#: evaluations of one simulated search that a time budget may buy, estimated at the target fidelity's
#: median cost (more than the 15,625 cells)
MAX_EVALUATIONS = 20_000
#: training epochs of a student or a teacher (NB201's full schedule is 200)
MAX_EPOCHS = 1_000
#: bootstrap resamples of the correlation study
MAX_BOOTSTRAP = 100_000
