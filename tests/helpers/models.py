"""Tiny random models for tests: a 2-layer BERT (or DeBERTa) with the bundled
MiniLM tokenizer."""

from __future__ import annotations

from pathlib import Path


def save_tiny_bert(folder: Path, seed: int | None = None, deberta: bool = False, **config) -> Path:
    """A 2-layer random BERT saved with the bundled MiniLM tokenizer; with
    ``seed``, the same weights in every session (torch's RNG left as it was).
    With ``deberta``, a DeBERTa-v2 of the same size (relative attention).
    ``config`` overrides the configuration (e.g. ``type_vocab_size=1``)."""
    import torch
    import transformers

    from workbench.models.pretrained import quiet_transformers, resolve_model

    quiet_transformers()
    tokenizer = transformers.AutoTokenizer.from_pretrained(resolve_model("minilm"))
    size = dict(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        **config,
    )
    if deberta:
        config = transformers.DebertaV2Config(
            **size,
            relative_attention=True,
            position_biased_input=False,
            pos_att_type=["p2c", "c2p"],
        )
    else:
        config = transformers.BertConfig(**size)
    state = torch.random.get_rng_state()
    if seed is not None:
        torch.manual_seed(seed)
    transformers.AutoModel.from_config(config).save_pretrained(folder)
    torch.random.set_rng_state(state)
    tokenizer.save_pretrained(folder)
    return folder
