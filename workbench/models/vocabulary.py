"""What a tokenizer can read of some data, and how to teach it the rest.

``coverage`` measures the share of words (or characters, in character-level
data) that the tokenizer turns into its unknown token: a model cannot learn to
label what it sees only as ``[UNK]`` (the bundled English MiniLM reads half of
the characters of a Chinese corpus that way). ``uncovered`` lists what to add,
and ``extend`` adds it as ordinary tokens; the model's embedding matrix then
grows to match (``models.pretrained.load_for_training``: new rows are drawn
around the mean of the others) and the tokenizer is saved with the model, so everything
that loads the model reads the new tokens unchanged.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

# Above this share of unknown words a run is warned: English corpora read by the
# bundled English WordPiece vocabulary stay far below it (CoNLL-2003, WNUT-17,
# SST-2 and IMDb training sets: 0 of 7.9M words), a Chinese one far above it
# (Resume NER: 50.4% of the characters).
WARN_SHARE = 0.02
MIN_WORDS = 20  # fewer words than this are never warned about
EXAMPLES = 8  # unknown words a warning names, the most frequent first
# A split's coverage is measured on a seeded sample of this many examples when it has
# more: the share is as good a warning, and IMDb's 25,000 reviews cost ~1 s, not 13.
SAMPLE = 2000
MODES = ("off", "characters", "words")


@dataclass
class Coverage:
    """How much of one split the tokenizer reads: word occurrences and distinct
    words, and those that contain the unknown token (most frequent first)."""

    words: int = 0
    unknown: int = 0
    distinct: int = 0
    unknown_counts: Counter = field(default_factory=Counter)
    sampled: tuple[int, int] | None = None  # (examples read, of how many) when sampled

    @property
    def share(self) -> float:
        """The share of word occurrences that become (or contain) the unknown token."""
        return self.unknown / self.words if self.words else 0.0

    @property
    def examples(self) -> list[str]:
        return [word for word, _ in self.unknown_counts.most_common(EXAMPLES)]

    @property
    def poor(self) -> bool:
        # A few words are no evidence: "I love 🍕" is not a corpus in another script.
        return self.words >= MIN_WORDS and self.share > WARN_SHARE

    def as_dict(self) -> dict:
        """The figures events and reports carry (JSON)."""
        return {
            "words": self.words,
            "unknown": self.unknown,
            "share": round(self.share, 4),
            "distinct": self.distinct,
            "distinct_unknown": len(self.unknown_counts),
            "examples": self.examples,
            **({"sampled": list(self.sampled)} if self.sampled else {}),
        }


def unknown_words(tokenizer, words: Iterable[str]) -> set[str]:
    """The distinct ``words`` whose tokens include the tokenizer's unknown token."""
    distinct = sorted(set(words))
    unk = tokenizer.unk_token_id
    if unk is None or not distinct:
        return set()
    ids = tokenizer(distinct, add_special_tokens=False)["input_ids"]
    return {word for word, pieces in zip(distinct, ids) if unk in pieces}


def coverage(tokenizer, words: Iterable[str]) -> Coverage:
    """How many of ``words`` (occurrences, in order) the tokenizer reads as unknown."""
    counts = Counter(word for word in words if word.strip())
    unknown = sorted(unknown_words(tokenizer, counts))  # ties name the same examples always
    return Coverage(
        words=sum(counts.values()),
        unknown=sum(counts[word] for word in unknown),
        distinct=len(counts),
        unknown_counts=Counter({word: counts[word] for word in unknown}),
    )


def sample(items: list, seed: int = 0) -> list:
    """``items``, or a seeded sample of ``SAMPLE`` of them (in order) when there are more."""
    if len(items) <= SAMPLE:
        return items
    keep = sorted(random.Random(seed).sample(range(len(items)), SAMPLE))
    return [items[i] for i in keep]


def split_coverage(tokenizer, examples: list, words_of, seed: int = 0) -> Coverage:
    """``coverage`` of a split's examples (their words by ``words_of``), on a seeded
    sample of ``SAMPLE`` examples when there are more."""
    chosen = sample(examples, seed)
    cov = coverage(tokenizer, (w for e in chosen for w in words_of(e)))
    if chosen is not examples:
        cov.sampled = (len(chosen), len(examples))
    return cov


def text_coverage(tokenizer, texts: Iterable[str], split) -> Coverage:
    """``coverage`` of raw texts (a seeded sample of them when there are many), cut
    into words by ``split`` (a task's ``split``)."""
    every = list(texts)
    chosen = sample(every)
    cov = coverage(tokenizer, (word for text in chosen for word, _start, _end in split(text)))
    if chosen is not every:
        cov.sampled = (len(chosen), len(every))
    return cov


def model_warnings(saved, cov: Coverage, where: str) -> list[str]:
    """``warnings`` for a loaded model's (``models.saved.SavedModel``) coverage of
    some data, worded for a model whose vocabulary was extended."""
    extended = bool(saved.meta.get("vocabulary_added"))
    return warnings(cov, where, saved.task.level, extended)


def texts_warnings(saved, texts: Iterable[str], where: str) -> tuple[Coverage, list[str]]:
    """A loaded model's coverage of raw ``texts``, and ``model_warnings`` for it."""
    cov = text_coverage(saved.tokenizer, texts, saved.task.split)
    return cov, model_warnings(saved, cov, where)


def uncovered(tokenizer, words: Iterable[str], mode: str, min_count: int = 1) -> list[str]:
    """What to add so that ``words`` are read: in ``"words"`` mode each unknown
    word whole; in ``"characters"`` mode each character that is unknown on its own
    (the only way a character-level corpus, or a word holding one odd symbol, is
    read). Only those seen ``min_count`` times or more; most frequent first."""
    counts = Counter(word for word in words if word.strip())
    unknown = unknown_words(tokenizer, counts)
    if mode == "words":
        found = Counter({word: counts[word] for word in unknown})
    else:
        chars: Counter = Counter()
        for word in unknown:
            for char in word:
                if not char.isspace():
                    chars[char] += counts[word]
        blind = unknown_words(tokenizer, chars)
        found = Counter({char: chars[char] for char in blind})
    ranked = sorted(found.items(), key=lambda kv: (-kv[1], kv[0]))
    return [unit for unit, n in ranked if n >= min_count]


def extend(tokenizer, units: list[str]) -> int:
    """Add ``units`` to the tokenizer as ordinary tokens; how many were new."""
    return tokenizer.add_tokens(units) if units else 0


def short_warning(coverage: dict[str, dict], extended: bool = False) -> str | None:
    """A few words for a status line from a start event's ``coverage``: the worst
    split read poorly, or None; the remedy named unless the vocabulary was extended."""
    poor = [
        (c.get("share", 0.0), split)
        for split, c in coverage.items()
        if isinstance(c, dict) and c.get("words", MIN_WORDS) >= MIN_WORDS
    ]
    poor = [(share, split) for share, split in poor if share > WARN_SHARE]
    if not poor:
        return None
    share, split = max(poor)
    remedy = "" if extended else " (model.extend_vocabulary)"
    return f"{split}: {share:.1%} unknown to the tokenizer{remedy}"


def warnings(cov: Coverage, split: str, unit: str = "words", extended: bool = False) -> list[str]:
    """``warning`` for a poor coverage, else nothing."""
    return [warning(cov, split, unit, extended)] if cov.poor else []


def warning(cov: Coverage, split: str, unit: str = "words", extended: bool = False) -> str:
    """One line for a coverage: the share of unknown ``unit`` ("words" or
    "characters", a task's ``level``), some examples, what to do (``extended``:
    the vocabulary was already extended from the training data)."""
    shown = " ".join(cov.examples)
    if cov.sampled:
        split = f"{split} (a sample of {cov.sampled[0]:,} of {cov.sampled[1]:,} examples)"
    if extended:
        return (
            f"{split}: {cov.share:.1%} of the {unit} ({cov.unknown:,} of {cov.words:,}; "
            f"{len(cov.unknown_counts):,} distinct) stay unknown to the model's tokenizer, "
            f"e.g. {shown}: the vocabulary was extended with what the training data holds "
            f"(model.vocabulary_min_count times or more), and these are not among them"
        )
    return (
        f"{split}: {cov.share:.1%} of the {unit} ({cov.unknown:,} of {cov.words:,}; "
        f"{len(cov.unknown_counts):,} distinct) are unknown to the model's tokenizer, "
        f"e.g. {shown}; the model cannot tell them apart. Use a model for this "
        f"language (model.name, a hub id or local folder) or set "
        f'model.extend_vocabulary = "characters" to add them'
    )
