"""Which parameters train: all of them, LoRA adapters, biases only (BitFit), or
the upper layers (embeddings and the lowest layers frozen).

LoRA and the rows of tokens a task added (entity markers) go through the PEFT
library; BitFit and freezing are ``requires_grad`` switches, since PEFT has no
such method. The task head (whatever the model holds beside its encoder)
always trains. A model with PEFT modules is saved merged, so that it loads
with ``transformers`` alone; a LoRA run saves its adapter too.
"""

from __future__ import annotations

import copy
import difflib
import re
import warnings
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from torch import nn

from workbench.errors import WorkbenchError
from workbench.settings import PeftSettings

# Numbered encoder blocks in parameter names: encoder.layer.3., transformer.layer.3., layers.3.
_BLOCK = re.compile(r"(?:^|\.)(?:layer|layers|block|blocks|h)\.(\d+)\.")


@dataclass
class Tuned:
    """A model made ready for one method, and what it trains."""

    model: Any
    method: str
    trainable: int
    total: int


def apply_tuning(
    model, settings: PeftSettings, model_name: str, new_tokens: list[int] | None = None
) -> Tuned:
    """Prepare ``model`` for the ``[peft]`` section ``settings``. ``new_tokens`` are
    embedding rows the task added: they train whatever the method (frozen, a
    marker would stay the mean of the vocabulary)."""
    method = settings.method
    new_tokens = sorted(new_tokens or [])
    if method == "lora":
        model = _lora(model, settings, model_name, new_tokens)
    elif method in ("bitfit", "freeze"):
        if new_tokens:
            from peft import TrainableTokensConfig, get_peft_model

            with _quiet_peft():
                model = get_peft_model(model, TrainableTokensConfig(token_indices=new_tokens))
        base = _base_prefix(model)
        keep = _bias if method == "bitfit" else _above(settings.layers, model, model_name)
        kept = 0
        for name, param in _unwrapped(model).named_parameters():
            if "trainable_tokens" in name:
                continue  # PEFT's rows for the new tokens
            encoder = name.startswith(base + ".")
            param.requires_grad_(not encoder or keep(name))
            kept += encoder and keep(name)
        if method == "bitfit" and not kept:
            raise WorkbenchError(
                f"peft.method 'bitfit': model {model_name!r} has no bias terms to train"
            )
        if (
            method == "freeze"
            and settings.layers
            and not any(_BLOCK.search(name) for name, _ in _unwrapped(model).named_parameters())
        ):
            raise WorkbenchError(
                f"peft.method 'freeze': cannot tell the layers of model "
                f"{model_name!r} apart by their names; use lora or bitfit"
            )
    trainable, total = count_parameters(model)
    return Tuned(model=model, method=method, trainable=trainable, total=total)


def count_parameters(model) -> tuple[int, int]:
    """Trainable and total parameters (``parameters()`` yields a shared tensor once)."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def is_peft_model(model) -> bool:
    """Does the model hold PEFT modules (to be merged before saving)?"""
    return hasattr(model, "peft_config")


def merged_copy(model):
    """A copy of a PEFT model on the CPU with its modules merged into the base
    weights: the plain model ``save_pretrained`` writes and ``transformers`` loads
    unchanged. Tensors are copied straight to the CPU, so a model training on a
    GPU never needs room for two of itself there."""
    memo: dict[int, Any] = {}
    for module in model.modules():
        for _, param in module.named_parameters(recurse=False):
            memo[id(param)] = nn.Parameter(
                param.detach().to("cpu", copy=True), requires_grad=param.requires_grad
            )
        for _, buffer in module.named_buffers(recurse=False):
            memo[id(buffer)] = buffer.detach().to("cpu", copy=True)
    with _quiet_peft():
        return copy.deepcopy(model, memo).merge_and_unload()


def has_adapter(model) -> bool:
    """A LoRA model: its adapter is worth saving on its own."""
    from peft import PeftType

    return is_peft_model(model) and any(
        c.peft_type == PeftType.LORA for c in model.peft_config.values()
    )


def load_adapter(model, folder: str):
    """``model`` (the base, with the task's tokens) with the adapter saved in
    ``folder``, merged for inference."""
    from peft import PeftModel

    with _quiet_peft():
        return PeftModel.from_pretrained(model, folder).merge_and_unload()


@contextmanager
def _quiet_peft():
    """PEFT calls a transformers API deprecated in v5; the warning is not the user's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        yield


# -- methods -----------------------------------------------------------------------------
def _lora(model, settings: PeftSettings, model_name: str, new_tokens: list[int]):
    from peft import LoraConfig, get_peft_model

    encoder = getattr(_unwrapped(model), _base_prefix(model))
    targets = lora_targets(settings, encoder, model_name)
    config = LoraConfig(
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=targets,
        modules_to_save=_head_modules(model),
        trainable_token_indices=new_tokens or None,
    )
    with _quiet_peft():
        return get_peft_model(model, config)


def check_tuning(settings: PeftSettings, model_name: str) -> None:
    """Check a ``[peft]`` section against the model's architecture before any
    weights load (the encoder is built on the meta device)."""
    if settings.method not in ("lora", "freeze"):
        return
    import torch
    from transformers import AutoConfig, AutoModel

    from workbench.models.pretrained import from_pretrained

    config = from_pretrained(AutoConfig, model_name, "the model configuration")
    if settings.method == "freeze":
        _check_layers(settings.layers, config, model_name)
        return
    with torch.device("meta"):
        encoder = AutoModel.from_config(config)
    lora_targets(settings, encoder, model_name)


def lora_targets(settings: PeftSettings, encoder, model_name: str) -> list[str]:
    """The linear layers LoRA adapts: ``peft.target_modules`` checked against the
    encoder's, or PEFT's default for the architecture."""
    from peft.utils import (
        TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as DEFAULTS,
    )

    linear = sorted(
        {
            name.rsplit(".", 1)[-1]
            for name, module in encoder.named_modules()
            if isinstance(module, nn.Linear)
        }
    )
    targets = settings.target_modules
    if targets == []:
        raise WorkbenchError(
            f"peft.target_modules: empty; name some of the linear layers of "
            f"model {model_name!r} ({', '.join(linear)}), or leave it unset"
        )
    if targets is None:
        targets = DEFAULTS.get(getattr(encoder.config, "model_type", ""))
        if targets is None:
            raise WorkbenchError(
                f"peft.target_modules: no default for model {model_name!r} (type "
                f"{encoder.config.model_type!r}); name some of its linear layers: "
                f"{', '.join(linear)}"
            )
    for target in targets:
        if target not in linear:
            close = difflib.get_close_matches(target, linear, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise WorkbenchError(
                f"peft.target_modules: model {model_name!r} has no linear layer {target!r}"
                f"{hint}; its linear layers are: {', '.join(linear)}"
            )
    return list(targets)


def _check_layers(layers: int, config, model_name: str) -> None:
    count = getattr(config, "num_hidden_layers", None)
    if count is not None and layers > count:
        raise WorkbenchError(
            f"peft.layers: {layers} is more than the {count} layers of model {model_name!r}"
        )


def _bias(name: str) -> bool:
    return name.endswith(".bias")


def _above(layers: int, model, model_name: str):
    """Trains a parameter above the lowest ``layers`` blocks (not the embeddings)."""
    _check_layers(layers, model.config, model_name)

    def keep(name: str) -> bool:
        if "embeddings" in name:
            return False
        block = _BLOCK.search(name)
        return block is None or int(block.group(1)) >= layers

    return keep


# -- where the encoder ends and the head begins ---------------------------------------
def _unwrapped(model):
    """The task model inside a PEFT wrapper (or the model itself)."""
    return model.get_base_model() if is_peft_model(model) else model


def _base_prefix(model) -> str:
    """The encoder's attribute name (``bert``, ``roberta``, ``encoder``...)."""
    inner = _unwrapped(model)
    prefix = getattr(inner, "base_model_prefix", "")
    if not prefix or not hasattr(inner, prefix):
        raise WorkbenchError(
            f"cannot tell the encoder from the head of a "
            f"{type(inner).__name__}; only peft.method = 'full' works here"
        )
    return prefix


def _head_modules(model) -> list[str]:
    """The modules beside the encoder that hold parameters: the task head."""
    prefix = _base_prefix(model)
    return [
        name
        for name, child in _unwrapped(model).named_children()
        if name != prefix and any(True for _ in child.parameters())
    ]
