"""Sentence embeddings for semantic search: the bundled all-MiniLM-L6-v2
(or any encoder name workbench.models understands), mean-pooled over the
attention mask and L2-normalised, as sentence-transformers does for it."""

from __future__ import annotations

from typing import Any

import numpy as np

from workbench.errors import WorkbenchError


def _pick_device(device: str | None) -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    device = str(device)  # a torch.device works too
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise WorkbenchError(f"device {device!r}: no CUDA GPU is available here")
    return device


class Embedder:
    """``Embedder("minilm").encode(["a bank"])`` -> float32 array (1, 384), unit rows.

    Loading takes a second or two on a CPU; keep one and reuse it.
    """

    def __init__(self, model: str = "minilm", device: str | None = None, max_length: int = 256):
        import torch
        from transformers import AutoModel

        from workbench.models.pretrained import from_pretrained, load_tokenizer

        self._name = model
        self.max_length = max_length
        self.device = _pick_device(device)
        self.tokenizer = load_tokenizer(model)
        self.model = from_pretrained(AutoModel, model, "the model").to(self.device).eval()
        self._torch = torch

    @classmethod
    def around(cls, model, tokenizer, name: str, max_length: int = 256) -> Embedder:
        """An Embedder over an encoder already loaded (a run's model: its head is not
        used, the encoder's last hidden states are pooled), so nothing loads twice."""
        import torch

        embedder = cls.__new__(cls)
        embedder._name, embedder.max_length, embedder._torch = name, max_length, torch
        embedder.tokenizer = tokenizer
        embedder.model = getattr(model, "base_model", model).eval()
        embedder.device = str(next(embedder.model.parameters()).device)
        return embedder

    @property
    def name(self) -> str:
        """The model name as given ("minilm"); stored beside each vector."""
        return self._name

    @property
    def dim(self) -> int:
        """Length of one vector."""
        return int(self.model.config.hidden_size)

    def encode(self, texts: list[str], batch_size: int = 64) -> np.ndarray:
        """Embed texts -> (len(texts), dim) float32, each row of unit length."""
        if batch_size < 1:
            raise WorkbenchError("batch size must be at least 1")
        texts = [str(t) for t in texts]
        out: Any = np.zeros((len(texts), self.dim), dtype=np.float32)
        # Similar lengths batched together waste less compute on padding.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        torch = self._torch
        with torch.inference_mode():
            for start in range(0, len(order), batch_size):
                index = order[start : start + batch_size]
                batch = self.tokenizer(
                    [texts[i] for i in index],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                batch = {k: v.to(self.device) for k, v in batch.items()}
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
                out[index] = pooled.cpu().numpy()
        return out
