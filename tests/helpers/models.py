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


def relation_stand_in(labels: list[str], guesses, entity_types: list[str] | None = None):
    """A loaded relation model whose answers are known: every candidate pair gets
    the distribution ``guesses(head_type, tail_type)`` returns (a dict over
    ``labels``). The real task picks the candidates; the real MiniLM tokenizer is
    there for the screens' coverage check."""
    from types import SimpleNamespace

    from workbench.models.pretrained import load_tokenizer
    from workbench.models.saved import SavedModel
    from workbench.tasks.relation import RelationTask

    task = RelationTask()
    task.entity_types = list(entity_types or [])

    def pair_probabilities(model, tokenizer, items, max_length, batch_size=32):
        return [
            {
                (h, t): guesses(item["entities"][h]["type"], item["entities"][t]["type"])
                for h, t in task.candidates(item)
            }
            for item in items
        ]

    task.pair_probabilities = pair_probabilities  # type: ignore[method-assign]
    model = SimpleNamespace(config=SimpleNamespace(id2label=dict(enumerate(labels))))
    return SavedModel(
        task=task,
        model=model,
        tokenizer=load_tokenizer("minilm"),
        meta={"task": "relation", "labels": list(labels)},
        folder=Path(),
    )
