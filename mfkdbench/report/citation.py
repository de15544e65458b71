"""What to cite (``mfkdbench cite`` and the report page); ``CITATION.cff`` at the repository root holds the same."""
from __future__ import annotations

#: key -> BibTeX entry: the MF-KD paper, NAS-Bench-201 and NATS-Bench
REFERENCES = {
    "trofimov2023mfkd": """@article{trofimov2023mfkd,
  title   = {Multi-Fidelity Neural Architecture Search With Knowledge Distillation},
  author  = {Trofimov, Ilya and Klyuchnikov, Nikita and Salnikov, Mikhail and Filippov, Alexander and Burnaev, Evgeny},
  journal = {IEEE Access},
  volume  = {11},
  pages   = {59217--59225},
  year    = {2023},
  doi     = {10.1109/ACCESS.2023.3234810}
}""",
    "dong2020nasbench201": """@inproceedings{dong2020nasbench201,
  title     = {NAS-Bench-201: Extending the Scope of Reproducible Neural Architecture Search},
  author    = {Dong, Xuanyi and Yang, Yi},
  booktitle = {International Conference on Learning Representations (ICLR)},
  year      = {2020},
  url       = {https://openreview.net/forum?id=HJxyZkBKDr}
}""",
    "dong2021natsbench": """@article{dong2021natsbench,
  title   = {NATS-Bench: Benchmarking NAS Algorithms for Architecture Topology and Size},
  author  = {Dong, Xuanyi and Liu, Lu and Musial, Katarzyna and Gabrys, Bogdan},
  journal = {IEEE Transactions on Pattern Analysis and Machine Intelligence},
  year    = {2021},
  doi     = {10.1109/TPAMI.2021.3054824}
}""",
}


def cite_text() -> str:
    """The BibTeX entries, MF-KD first."""
    return "\n\n".join(REFERENCES.values())
