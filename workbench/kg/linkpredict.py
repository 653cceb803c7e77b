"""Learned link prediction: knowledge-graph embeddings trained with PyKEEN.

An optional extra (``pip install -e ".[reason]"``): rules (kg/rules.py) explain
themselves; embeddings rank every candidate, including pairs no rule reaches,
but explain only as "the model ranks it". RotatE (Sun et al., 2019) trained
under the local closed-world assumption with a softmax cross-entropy over all
tails (Ruffinelli et al., 2020) is the default: on UMLS's validation split,
60 epochs of 200 dimensions on two CPU cores reached MRR 0.82 where DistMult
reached 0.65 and ComplEx, with PyKEEN's defaults, 0.19
(benchmarks/link_prediction.py measures the test split).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from workbench.errors import WorkbenchError

INVERSE = "⁻¹"  # the name suffix of a relation's inverse


def available() -> bool:
    """Whether PyKEEN is installed (the ``reason`` extra)."""
    try:
        import pykeen  # noqa: F401
    except ImportError:
        return False
    return True


def require() -> None:
    if not available():
        raise WorkbenchError(
            "knowledge-graph embeddings need PyKEEN: pip install -e '.[reason]' "
            "(or use --method rules)"
        )


@dataclass
class EmbeddingSettings:
    """How the embedding model is trained."""

    model: str = "RotatE"
    dim: int = 200
    epochs: int = 100
    batch_size: int = 256
    lr: float = 0.01
    seed: int = 0


class Embeddings:
    """A trained embedding model over triples (head id, relation, tail id).

    ``tail_scores(heads, relation)`` and ``head_scores(relation, tails)`` give a
    score for every entity of ``self.entities`` (higher: more likely).
    """

    def __init__(
        self, triples: Iterable[tuple[int, str, int]], settings: EmbeddingSettings | None = None
    ):
        require()
        import torch
        from pykeen.models import model_resolver
        from pykeen.training import LCWATrainingLoop
        from pykeen.triples import TriplesFactory

        self.settings = settings or EmbeddingSettings()
        s = self.settings
        triples = list(triples)
        if not triples:
            raise WorkbenchError("knowledge-graph embeddings: the graph holds no relations")
        # Each triple also as (tail, relation⁻¹, head): asking for a head is asking
        # for the tail of the inverse, which LCWA training then learns too. Written
        # out here rather than left to PyKEEN's create_inverse_triples, whose ids
        # score_t would need remapped.
        labelled = np.array(
            [(str(h), r, str(t)) for h, r, t in triples]
            + [(str(t), r + INVERSE, str(h)) for h, r, t in triples],
            dtype=str,
        )
        self.factory = TriplesFactory.from_labeled_triples(labelled)
        by_id = {i: label for label, i in self.factory.entity_to_id.items()}
        self.entities = [int(by_id[i]) for i in sorted(by_id)]
        self._entity = {e: i for i, e in enumerate(self.entities)}
        self._relation = dict(self.factory.relation_to_id)
        torch.manual_seed(s.seed)
        self.model = model_resolver.make(
            s.model,
            triples_factory=self.factory,
            embedding_dim=s.dim,
            loss="crossentropy",
            random_seed=s.seed,
        )
        optimizer = torch.optim.Adam(self.model.parameters(), lr=s.lr)
        loop = LCWATrainingLoop(model=self.model, triples_factory=self.factory, optimizer=optimizer)
        with warnings.catch_warnings():  # PyKEEN's loaders ask for pinned memory on a CPU
            warnings.filterwarnings("ignore", message=".*pin_memory.*")
            self.losses = (
                loop.train(
                    triples_factory=self.factory,
                    num_epochs=s.epochs,
                    batch_size=s.batch_size,
                    use_tqdm=False,
                    use_tqdm_batch=False,
                    pin_memory=False,
                )
                or []
            )
        self.model.eval()
        self._torch = torch

    def _score(self, fixed: list[int], relation: str) -> np.ndarray:
        torch = self._torch
        r = self._relation[relation]
        batch = torch.tensor([[self._entity[e], r] for e in fixed], dtype=torch.long)
        with torch.inference_mode():
            return self.model.score_t(batch).float().cpu().numpy()

    def tail_scores(self, heads: list[int], relation: str) -> np.ndarray:
        """(len(heads), len(self.entities)) scores of (head, relation, ?)."""
        return self._score(heads, relation)

    def head_scores(self, relation: str, tails: list[int]) -> np.ndarray:
        """(len(tails), len(self.entities)) scores of (?, relation, tail)."""
        return self._score(tails, relation + INVERSE)
