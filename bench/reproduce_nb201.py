"""Reproduce the NAS-Bench-201 paper's RS / REA / REINFORCE / BOHB table on the simulated clock, under both
protocols: NB201's (search CIFAR-10, report the same cell on every dataset) and per-dataset search.

    python bench/reproduce_nb201.py --seeds 500 [--data ../shared/data]
"""
from __future__ import annotations

import argparse
import time

from mfkdbench.experiments.reproduce import NOTES, format_table, reproduce_nb201, transfer_nb201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=500, help="runs per optimizer and dataset")
    parser.add_argument("--evaluations", type=int, default=110,
                        help="evaluations per run of the second table (about CIFAR-10's count under 12,000 s)")
    parser.add_argument("--data", default=None, help="NB201 data (default: $MFKDBENCH_DATA)")
    args = parser.parse_args()
    t0 = time.perf_counter()
    transfer = transfer_nb201(args.seeds, data=args.data)
    print(format_table(transfer, f"NB201's protocol (nb201-iclr20): search CIFAR-10, report the same cell; "
                                 f"{args.seeds} seeds, final 200-epoch test accuracy (%)"))
    print()
    table = reproduce_nb201(args.seeds, data=args.data)
    print(format_table(table, f"Per-dataset search (nb201-iclr20 on each dataset), {args.seeds} seeds"))
    fixed = reproduce_nb201(args.seeds, data=args.data, evaluations=args.evaluations)
    print()
    print(format_table(fixed, f"The same with {args.evaluations} evaluations per run on every dataset "
                              "(time model taken out)"))
    print()
    print(NOTES)
    runs = (len(transfer) // 3 + len(table) + len(fixed)) * args.seeds
    print(f"\n({runs} runs in {time.perf_counter() - t0:.1f} s wall clock)")


if __name__ == "__main__":
    main()
