"""The ONNX form of a saved model: an export behind the small surface the task adapters use
(``model(**inputs).logits``, ``.config``, ``.eval()``, ``.to()``), so every
inference path runs an export unchanged."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from workbench.models.folder import ONNX_FILE


class OnnxModel:
    """An ONNX Runtime session over ``folder/model.onnx`` on the CPU."""

    def __init__(self, folder: str | Path, threads: int | None = None):
        import onnxruntime as ort
        import torch
        from transformers import AutoConfig

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(Path(folder) / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.input_names = [i.name for i in self.session.get_inputs()]
        self.config = AutoConfig.from_pretrained(str(folder))
        self.device = torch.device("cpu")

    def __call__(self, **inputs):
        import torch

        feeds = {name: inputs[name].cpu().numpy() for name in self.input_names}
        (logits,) = self.session.run(["logits"], feeds)
        return SimpleNamespace(logits=torch.from_numpy(logits))

    def eval(self) -> OnnxModel:
        return self

    def to(self, device) -> OnnxModel:
        """Runs on the CPU whatever the device asked for."""
        return self
