"""The relation classifiers: a pretrained encoder plus a linear layer over the
concatenated hidden states of the head and tail start markers (the "entity
marker, entity start" baseline of Baldini Soares et al. 2019; typed markers as
in Zhou & Chen 2022).

``EntityMarkerRelationModel`` reads one marked pair per row. The shared-encoding
``SharedRelationModel`` reads every pair of a sentence from one pass: all
entities carry role-free markers, so the head and tail vectors alone cannot tell
which of two people works for which of two companies; the mean of the hidden
states between the pair (SpERT's context, Eberts & Ulges 2020) makes each pair's
input its own. Positions then come one list per row (``[batch, pairs]``) and so
do the logits.

It saves as a normal encoder folder (``save_pretrained``: config with the
relation labels, weights, tokenizer with the marker tokens) plus
``relation_head.safetensors`` for the classifier layer; ``workbench.json`` says
it is a relation model (the config alone names only the encoder class).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn
from transformers.modeling_outputs import SequenceClassifierOutput

HEAD_FILE = "relation_head.safetensors"
POOLED = ("bert", "roberta", "xlm-roberta", "camembert")  # encoders built with a pooler


class EntityMarkerRelationModel(nn.Module):
    """``forward(input_ids, attention_mask, head_pos, tail_pos, labels=None)`` ->
    logits over relation labels (and the cross-entropy loss when labels are given)."""

    base_model_prefix = "encoder"  # as transformers names it: the rest is the task head
    inputs_per_pair = 2  # hidden vectors concatenated for one pair

    def __init__(self, encoder, num_labels: int):
        super().__init__()
        self.encoder = encoder
        self.config = encoder.config
        hidden = self.config.hidden_size
        dropout = getattr(self.config, "hidden_dropout_prob", 0.1)
        self.dropout = nn.Dropout(dropout if isinstance(dropout, float) else 0.1)
        self.classifier = nn.Linear(self.inputs_per_pair * hidden, num_labels)

    def encode(self, input_ids, attention_mask=None, token_type_ids=None):
        """The encoder's last hidden states."""
        kwargs = {"input_ids": input_ids, "attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        return self.encoder(**kwargs).last_hidden_state

    def forward(
        self,
        input_ids,
        attention_mask=None,
        head_pos=None,
        tail_pos=None,
        labels=None,
        token_type_ids=None,
    ):
        hidden = self.encode(input_ids, attention_mask, token_type_ids)
        rows = torch.arange(hidden.shape[0], device=hidden.device)
        pair = torch.cat([hidden[rows, head_pos], hidden[rows, tail_pos]], dim=-1)
        return self._classify(pair, labels)

    def _classify(self, pair, labels):
        logits = self.classifier(self.dropout(pair))
        loss = None
        if labels is not None:
            loss = nn.functional.cross_entropy(
                logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100
            )
        return SequenceClassifierOutput(loss=loss, logits=logits)

    # -- the transformers-style surface the engine and loaders use ---------------
    def get_input_embeddings(self):
        return self.encoder.get_input_embeddings()

    def resize_token_embeddings(self, size: int):
        return self.encoder.resize_token_embeddings(size)

    def save_pretrained(self, folder, safe_serialization: bool = True, **kwargs) -> None:
        """The encoder as a standard model folder, the classifier beside it."""
        from safetensors.torch import save_file

        self.encoder.save_pretrained(folder, safe_serialization=True, **kwargs)
        state = {k: v.detach().contiguous().cpu() for k, v in self.classifier.state_dict().items()}
        save_file(state, str(Path(folder) / HEAD_FILE))

    @classmethod
    def from_pretrained(
        cls,
        location: str,
        num_labels: int | None = None,
        id2label=None,
        label2id=None,
        ignore_mismatched_sizes: bool = False,
        **kwargs,
    ):
        """A pretrained encoder (fresh classifier for ``num_labels``), or a saved
        relation model folder (its classifier restored)."""
        from transformers import AutoConfig, AutoModel

        extra = {"id2label": id2label, "label2id": label2id} if id2label is not None else {}
        local = {k: v for k, v in kwargs.items() if k == "local_files_only"}
        config = AutoConfig.from_pretrained(location, **extra, **local)
        if config.model_type in POOLED:  # an unused pooler would get no gradient
            kwargs["add_pooling_layer"] = False
        encoder = AutoModel.from_pretrained(location, config=config, **kwargs)
        labels = num_labels or len(encoder.config.id2label)
        model = cls(encoder, labels)
        head = Path(location) / HEAD_FILE
        if head.is_file() and num_labels is None:
            from safetensors.torch import load_file

            model.classifier.load_state_dict(load_file(str(head)))
        return model


class SharedRelationModel(EntityMarkerRelationModel):
    """Every candidate pair of a sentence from one encoder pass: ``head_pos``,
    ``tail_pos`` (start markers) and ``between_start``/``between_end`` (the tokens
    between the two entities, empty when they touch) are ``[batch, pairs]``;
    logits are ``[batch, pairs, labels]``. Padded pairs carry label -100."""

    inputs_per_pair = 3  # head marker, tail marker, the context between them

    def forward(
        self,
        input_ids,
        attention_mask=None,
        head_pos=None,
        tail_pos=None,
        between_start=None,
        between_end=None,
        labels=None,
        token_type_ids=None,
    ):
        hidden = self.encode(input_ids, attention_mask, token_type_ids)
        rows = torch.arange(hidden.shape[0], device=hidden.device)[:, None]
        # Mean over [start, end) from running sums: no [batch, pairs, tokens] mask,
        # which a sentence with a hundred pairs would make large.
        sums = nn.functional.pad(hidden.float().cumsum(dim=1), (0, 0, 1, 0))
        width = (between_end - between_start).clamp(min=1).unsqueeze(-1)
        between = (sums[rows, between_end] - sums[rows, between_start]) / width
        pair = torch.cat(
            [hidden[rows, head_pos], hidden[rows, tail_pos], between.to(hidden.dtype)], dim=-1
        )
        return self._classify(pair, labels)
