"""The training loss, summed rather than averaged, so that gradient accumulation
and several processes give the update one large batch would.

A model's own loss is the mean over its batch: averaging those means over the
micro-batches of an accumulation window weighs a token of a short micro-batch
more than a token of a long one. Here the engine sums the cross-entropy over
labelled positions (tokens for token tasks, examples for sequence tasks) and
divides by the labelled positions of the whole window, on every process.
"""

from __future__ import annotations

IGNORE = -100  # labels the loss skips: special tokens, padding, later sub-words


def summed_loss(logits, labels):
    """Cross-entropy summed over the labelled positions, in fp32."""
    import torch.nn.functional as F

    return F.cross_entropy(
        logits.float().reshape(-1, logits.shape[-1]),
        labels.reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )


def labelled(labels):
    """How many positions the loss counts (a tensor, on the labels' device)."""
    return (labels != IGNORE).sum()


def row_losses(logits, labels):
    """Per row: the summed loss and the labelled positions it covers (for an
    evaluation loss that is exact however the rows are batched or sharded)."""
    import torch.nn.functional as F

    logits = logits.float()
    if labels.dim() == 1:
        losses = F.cross_entropy(logits, labels, ignore_index=IGNORE, reduction="none")
        return losses, (labels != IGNORE).long()
    losses = F.cross_entropy(logits.transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")
    return losses.sum(dim=1), (labels != IGNORE).sum(dim=1)
