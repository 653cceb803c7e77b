"""The protocol every task adapter follows, and helpers they share.

The engine only ever talks to a task through ``Task``, so a new task is one new
file here and an entry in ``workbench.tasks.REGISTRY``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any, Protocol

from workbench.errors import WorkbenchError, where
from workbench.tasks.words import splitter, word_level

# Feature keys that say where a row came from; never fed to the model.
# ``example`` indexes the input example, ``window`` orders the windows of a long one
# (a list in a row holding several relation pairs: each pair's candidate index, -1 padded).
META_KEYS = ("example", "window", "first_tokens")


class Scorer(Protocol):
    """Streams predictions batch by batch, in any order; ``result()`` gives the report."""

    def decode(self, logits, labels, windows):
        """Predicted label ids from a batch's logits (or log-probabilities)."""
        ...

    def add(self, preds, labels, examples, windows) -> None: ...

    def result(self) -> dict[str, Any]: ...


def argmax_decode(logits, labels=None, windows=None):
    """The most likely label at each position: a scorer's ``decode`` where labels
    do not depend on each other."""
    return logits.argmax(-1)


class Task:
    """A task adapter: everything task-specific the engine and the CLI need. The
    engine only ever talks to a task through these methods; the optional hooks at
    the end do nothing unless a task needs them."""

    name: str
    kind: str  # "tokens", "text" or "spans": which data readers feed it
    default_metric: str
    metrics: tuple[str, ...]  # what a report holds, usable as eval.metric
    # How a training row can hold several examples (engine/packing.py): "tokens"
    # (logits and labels one per token, the loss a sum over tokens), "first_token"
    # (the head reads each row's first token); None: it cannot.
    packing: str | None = None

    def labels_from(self, examples: list[dict], given: list[str] | None) -> list[str]:
        raise NotImplementedError

    def example_labels(self, example: dict) -> Iterable[str]:
        raise NotImplementedError

    def encode(
        self,
        examples: list[dict],
        tokenizer,
        label2id: dict[str, int],
        max_length: int,
        train: bool = False,
    ) -> list[dict]:
        raise NotImplementedError

    def scorer(self, examples: list[dict], id2label: dict[int, str]) -> Scorer:
        raise NotImplementedError

    def predict(
        self, model, tokenizer, texts: list[str], max_length: int, batch_size: int = 32
    ) -> list[dict]:
        raise NotImplementedError

    def model_class(self):
        """The class whose ``from_pretrained`` loads (and ``save_pretrained`` saves)
        this task's models: a transformers Auto* class or the task's own."""
        raise NotImplementedError

    # How raw text is cut into words: "words", or "characters" for a model trained
    # on character-level data (tasks/words.py).
    level = "words"

    def split(self, text: str) -> list[tuple[str, int, int]]:
        """Raw text as ``(word, start, end)``, cut as the model's training data was."""
        return splitter(self.level)(text)

    def learn_level(self, train: list[dict]) -> None:
        """Character-level training data (one character a word) makes a model that
        is given raw text one character a word too."""
        if word_level(w for e in train for w in self.words(e)) == "characters":
            self.level = "characters"

    def words(self, example: dict) -> list[str]:
        """The words of one example as the tokenizer is given them (what the
        vocabulary coverage counts)."""
        return list(example.get("tokens") or [])

    # model.casing: each word's capital goes in as its token type (set by the tasks
    # that read words, NER and relations, from the recipe; saved with the model).
    casing = False

    def capitals(self, words: list[str]) -> list[int] | None:
        """With ``casing``, a flag per word: does it start with a capital?"""
        return [int(word[:1].isupper()) for word in words] if self.casing else None

    # -- optional hooks ---------------------------------------------------------------
    def configure(self, recipe, splits: dict[str, list[dict]]) -> None:
        """Take task settings from the recipe, before encoding."""

    def prepare_tokenizer(self, tokenizer) -> None:
        """Add the tokens the task needs (the model is resized to match)."""

    def added_tokens(self) -> list[str]:
        """The tokens ``prepare_tokenizer`` adds (trained under any [peft] method)."""
        return []

    def meta(self) -> dict:
        """Settings saved with the model (``workbench.json``): here the level, when
        it is not the usual words, and casing when on (a task adds its own to it)..."""
        return {
            **({"words": self.level} if self.level != "words" else {}),
            **({"casing": True} if self.casing else {}),
        }

    def from_meta(self, meta: dict) -> None:
        """...and restored from it when the model is loaded."""
        self.level = meta.get("words", "words")
        self.casing = bool(meta.get("casing", False))


def check_labels(
    task: Task, examples: list[dict], labels: list[str], path: str, source: str, hint: bool = True
) -> None:
    """A label in ``examples`` that is not in ``labels`` (which come from ``source``)
    is an error naming the file, the line of the label itself where the file has one
    a line (CoNLL), the label, and (``hint``) what ``data.labels`` would need."""
    known = set(labels)
    for example in examples:
        found = list(task.example_labels(example))
        for label in found:
            if label in known:
                continue
            # data.labels takes entity types: B-GADGET is allowed by adding GADGET
            name = label[2:] if task.kind == "tokens" and label[:2] in ("B-", "I-") else label
            line = _label_line(path, example.get("line"), name, len(found))
            add = ""
            if hint and source == "data.labels":
                add = f"; add {name!r} to data.labels to allow it"
            elif hint:  # data.labels, once given, is the whole list
                add = f"; to allow it, list every label in data.labels, {name!r} included"
            raise WorkbenchError(
                f"{where(path, line)}: label {label!r} does not occur in {source}{add}"
            )


def _label_line(path: str, start: int | None, name: str, count: int) -> int | None:
    """The first of the ``count`` lines from ``start`` whose last column is ``name``
    or a tag of that type in any scheme (``S-GPE``: a CoNLL sentence's tags);
    ``start`` where none is (a JSON line)."""
    if start is None or not path or str(path).startswith("hf:"):
        return start
    from workbench.data.text_files import open_text

    try:
        with open_text(path) as handle:
            for number, text in enumerate(handle, start=1):
                if number >= start + count:
                    break
                parts = text.split()
                if (
                    number >= start
                    and parts
                    and (parts[-1] == name or parts[-1][2:] == name and parts[-1][1] == "-")
                ):
                    return number
    except (OSError, UnicodeDecodeError):
        pass
    return start


def model_inputs(batch: dict) -> dict:
    """What the model takes from a collated batch: not the labels (the caller
    computes the loss) nor where the rows came from (``META_KEYS``)."""
    return {k: v for k, v in batch.items() if k not in META_KEYS and k != "labels"}


def model_inputs_on(batch: dict, device) -> dict:
    """``model_inputs`` of ``batch``, moved to ``device`` (without waiting for the copy)."""
    return {k: v.to(device, non_blocking=True) for k, v in model_inputs(batch).items()}


def pad_value(key: str, pad_id: int) -> int:
    """What pads a feature's list ``key``: the tokenizer's pad id for the input
    ids, -100 (ignored by the loss) for labels, -1 for where a row came from, 0
    for masks and token types."""
    return -1 if key in META_KEYS else {"input_ids": pad_id, "labels": -100}.get(key, 0)


def bucket_length(tokens: int) -> int:
    """The padded length of a batch whose longest row has ``tokens``, under shape
    buckets: a multiple of 16 up to 64, then of 64 (at most eleven shapes up to
    512 positions, at most 15 or 63 padded positions more than dynamic padding)."""
    step = 16 if tokens <= 64 else 64
    return -(-tokens // step) * step


def make_collate(
    pad_id: int, multiple: int = 1, limit: int | None = None, buckets: bool = False
) -> Callable[[list[dict]], dict]:
    """Dynamic padding: pad each list of a batch to that key's longest row (labels
    with -100), rounded up to a ``multiple`` (8 on a GPU: tensor-core shapes) or,
    with ``buckets``, to ``bucket_length`` (a compiled model meets a few shapes
    again and again instead of one per batch), but never past ``limit`` (the
    model's positions). Keys are padded apart because not every list runs along
    the tokens (a shared relation row's pairs)."""
    import torch

    def padded(longest: int) -> int:
        rounded = bucket_length(longest) if buckets else -(-longest // multiple) * multiple
        return max(longest, min(rounded, limit or 1 << 30))

    def collate(features: list[dict]) -> dict:
        batch: dict[str, Any] = {}
        for key in features[0]:
            if not isinstance(features[0][key], list):  # one number a row: labels, positions
                batch[key] = torch.tensor([f[key] for f in features])
                continue
            longest = padded(max(len(f[key]) for f in features))
            fill = pad_value(key, pad_id)
            batch[key] = torch.tensor([f[key] + [fill] * (longest - len(f[key])) for f in features])
        return batch

    return collate


def collate_for(model, tokenizer, device, buckets: bool = False) -> Callable[[list[dict]], dict]:
    """``make_collate`` for ``model`` on ``device``: on a GPU, padded to multiples
    of 8 (or with ``buckets``, to a few lengths), never past the model's positions."""
    positions = getattr(getattr(model, "config", None), "max_position_embeddings", None)
    multiple = 8 if device.type == "cuda" else 1
    return make_collate(tokenizer.pad_token_id, multiple, positions, buckets)


def model_device(model):
    """Where a model's weights are (an exported model says so itself)."""
    device = getattr(model, "device", None)
    return device if device is not None else next(model.parameters()).device


# On a CPU every padded token is arithmetic, and a batch of about a thousand tokens
# already keeps the cores at their full rate: plain sorted batches pad the long tail
# to its longest (500 CoNLL-2003 dev sentences in batches of 64: 1.32x the real
# tokens; capped at 1,024, 1.13x and the forward pass 2.0 -> 1.65 s). A GPU is
# better fed whole batches (its steps are bound by launches, not arithmetic).
CPU_BATCH_TOKENS = 1024


def batch_tokens(device) -> int | None:
    """The cap on a batch's tokens, padding included, for inference on ``device``."""
    return CPU_BATCH_TOKENS if device.type == "cpu" else None


def length_batches(
    features: list[dict], batch_size: int, max_tokens: int | None = None
) -> list[list[int]]:
    """Indices of ``features`` in batches of neighbours by length, shortest first:
    at most ``batch_size`` rows and, given ``max_tokens``, at most that many tokens
    padding included (a row longer than that still gets a batch of its own).
    sorted() is stable, so ties keep their order."""
    lengths = [len(f["input_ids"]) for f in features]
    batches: list[list[int]] = []
    current: list[int] = []
    for i in sorted(range(len(features)), key=lengths.__getitem__):
        full = len(current) == batch_size or (
            max_tokens is not None and (len(current) + 1) * lengths[i] > max_tokens
        )
        if current and full:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def batched_probabilities(model, tokenizer, features: list[dict], batch_size: int):
    """Run ``model`` over encoded features, in batches of similar length; yield
    ``(indices, batch, softmax probs)`` per batch, the probabilities on the CPU.

    ``indices`` says which of ``features`` each row is (batches come shortest
    first, not in the order given). No gradients; bf16 autocast and bucketed
    lengths on a GPU; on a CPU, batches capped at ``CPU_BATCH_TOKENS``."""
    import torch

    device = model_device(model)
    # On a GPU, a few padded lengths: a new sentence length meets shapes (and the
    # attention kernels' plans for them) already made.
    collate = collate_for(model, tokenizer, device, buckets=device.type == "cuda")
    model.eval()
    autocast = (
        torch.autocast("cuda", dtype=torch.bfloat16)
        if device.type == "cuda" and torch.cuda.is_bf16_supported()
        else nullcontext()
    )
    with torch.inference_mode(), autocast:
        for indices in length_batches(features, batch_size, batch_tokens(device)):
            batch = collate([features[i] for i in indices])
            logits = model(**model_inputs_on(batch, device)).logits
            yield indices, batch, torch.softmax(logits.float(), dim=-1).cpu()
