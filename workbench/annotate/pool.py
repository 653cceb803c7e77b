"""The annotation queue: what the model proposes for each sentence of a corpus,
and in which order a person sees them.

NER runs get one item per sentence (split as ``kg build`` splits them), with the
model's entities as word spans; classification runs one item per document (a
file, or a JSON record's text) with the model's class. Each item's
``confidence`` is how sure the model was: for NER the mean log top probability
of its words (Shen et al., 2017's MNLP: normalised, so long sentences are not
picked for their length alone), for classification the log top probability.

``balanced`` order (the default) is uncertainty stratified by what the sentences
say: the run's own encoder gives each a vector (mean-pooled), k-means cuts the
queue into up to ``CLUSTERS`` groups of similar sentences, and the groups take
turns in proportion to their size, each giving its least confident sentence left.
Least-confident-first alone over-samples what the model finds hardest (in a new
domain, one rare type) and a first small batch trained on that makes the model
worse; a stratified pick is as spread as a random one and each sentence in it is
the hardest of its kind (``benchmarks/teaching_loop.py``).

``uncertain`` order shows the least confident first, with a little diversity: an
item that repeats one of the last 20 shown (the same words for the most part, or
the same template: the same sentence once its names and numbers are blanked
out) waits, and the next least confident that repeats none of them goes first;
it comes back once the repeats are out of the window. ``random`` is a seeded
shuffle, the baseline that uncertainty has to beat (``benchmarks/active_learning.py``).
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from workbench.annotate.orders import DEFAULT_ORDER, ORDERS
from workbench.errors import WorkbenchError
from workbench.kg.corpus import Document, read_corpus, split_sentences
from workbench.models.saved import SavedModel, load_saved
from workbench.tasks.words import splitter

TASKS = ("ner", "classification")
DIVERSITY_WINDOW = 20  # how many recent picks a new one must not repeat
DIVERSITY_OVERLAP = 0.7  # word-set overlap (Jaccard) that counts as repeating
LOOKAHEAD = 100  # how far down the ranking a non-repeat is looked for
CLUSTERS = 50  # at most: about one a sentence in a first batch of fifty


@dataclass
class Item:
    """One sentence (NER) or text (classification) to decide on."""

    source: str  # the document's key (file path inside the corpus, or record id)
    sentence: int  # its place in the document (0 for a whole text)
    text: str
    words: list[tuple[str, int, int]] = field(default_factory=list)  # (word, start, end)
    entities: list[dict] = field(default_factory=list)  # proposed {"type","start","end","score"}
    label: str | None = None  # proposed class
    probabilities: dict[str, float] = field(default_factory=dict)
    confidence: float = 0.0  # higher: the model is surer

    @property
    def key(self) -> str:
        """Stable across sessions while the text is the same: a decided item is
        recognised by its document and text, not by its place in a queue."""
        return item_key(self.source, self.text)

    @property
    def tokens(self) -> list[str]:
        return [w for w, _, _ in self.words]


def item_key(source: str, text: str) -> str:
    """The key of a decided item (``source`` and a hash of its text)."""
    return f"{source}#{hashlib.sha1(text.encode('utf-8')).hexdigest()[:16]}"


def make_item(source: str, number: int, text: str, task: str, level: str = "words") -> Item:
    """An unlabelled item: a sentence split into words (NER; one character a word
    for a model trained on character-level data), or a whole text."""
    words = splitter(level)(text) if task == "ner" else []
    return Item(source=source, sentence=number, text=text, words=words)


def corpus_items(documents: list[Document], task: str, level: str = "words") -> list[Item]:
    """The items a corpus holds for ``task``, in corpus order, unlabelled."""
    return list(iter_items(documents, task, level))


def iter_items(documents: list[Document], task: str, level: str = "words") -> Iterator[Item]:
    """``corpus_items`` made as they are asked for: a limited queue splits only
    what it takes."""
    for doc in documents:
        if task == "classification":
            text = doc.text.strip()
            if text:
                yield make_item(doc.key, 0, text, task)
            continue
        for number, (start, end) in enumerate(split_sentences(doc.text)):
            item = make_item(doc.key, number, doc.text[start:end], task, level)
            if item.words:
                yield item


def propose(items: list[Item], loaded: SavedModel, batch_size: int = 32) -> None:
    """Fill in each item's proposal and confidence with a loaded model."""
    task, model, tokenizer = loaded.task, loaded.model, loaded.tokenizer
    max_length = loaded.max_length
    if task.name == "ner":
        id2label = model.config.id2label
        rows = task.word_probabilities(
            model, tokenizer, [i.tokens for i in items], max_length, batch_size
        )
        for item, probs, entities in zip(items, rows, task.entities_of(rows, id2label)):
            item.entities = entities
            tops = [max(float(p.max()), 1e-12) for p in probs]
            item.confidence = sum(math.log(t) for t in tops) / len(tops) if tops else 0.0
    elif task.name == "classification":
        for item, result in zip(
            items, task.predict(model, tokenizer, [i.text for i in items], max_length, batch_size)
        ):
            item.label = result["label"]
            item.probabilities = result["probabilities"]
            item.confidence = math.log(max(result["score"], 1e-12))
    else:
        raise WorkbenchError(
            f"annotating a {task.name} model is not supported yet (NER and classification are)"
        )


def order(
    items: list[Item], how: str = DEFAULT_ORDER, seed: int = 0, vectors: Any = None
) -> list[Item]:
    """The queue: ``balanced`` (clusters of similar sentences take turns in
    proportion to their size, each giving its least confident; ``vectors``: one
    row an item, ``sentence_vectors``), ``uncertain`` (least confident first,
    near-repeats held back) or ``random`` (seeded)."""
    if how not in ORDERS:
        raise WorkbenchError(f"order {how!r}: choose one of {', '.join(ORDERS)}")
    if how == "random":
        shuffled = list(items)
        random.Random(seed).shuffle(shuffled)
        return shuffled
    if how == "balanced":
        if vectors is None:
            raise ValueError("the balanced order needs the items' sentence vectors")
        return _balanced(items, vectors, seed)
    ranked = sorted(items, key=lambda item: item.confidence)  # stable: corpus order on ties
    shapes = {id(item): _shape(item) for item in ranked}
    chosen: list[Item] = []
    recent: list[tuple[frozenset[str], str]] = []
    while ranked:
        pick = next(
            (
                i
                for i, item in enumerate(ranked[:LOOKAHEAD])
                if not any(_repeats(shapes[id(item)], other) for other in recent)
            ),
            0,  # everything near the top repeats: take the least confident anyway
        )
        item = ranked.pop(pick)
        chosen.append(item)
        recent = [*recent[-(DIVERSITY_WINDOW - 1) :], shapes[id(item)]]
    return chosen


def clusters_for(count: int) -> int:
    """How many clusters a queue of ``count`` items is cut into."""
    return max(1, min(CLUSTERS, count // 4))


def _balanced(items: list[Item], vectors: Any, seed: int) -> list[Item]:
    """Stratified uncertainty: k-means clusters of the sentence vectors take turns
    (Sainte-Lague: each turn goes to the cluster with the largest size / (2 x taken
    + 1)), each giving its least confident item left. So the first fifty are spread
    over the corpus as a random fifty would be, and each is the hardest of its kind."""
    if not items:
        return []
    from sklearn.cluster import KMeans

    k = clusters_for(len(items))
    labels = (
        KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(vectors)
        if k > 1
        else [0] * len(items)
    )
    groups: list[list[Item]] = [[] for _ in range(k)]
    for item, label in zip(items, labels):
        groups[int(label)].append(item)
    for group in groups:
        group.sort(key=lambda item: item.confidence, reverse=True)  # least confident last
    sizes = [len(group) for group in groups]
    taken = [0] * k
    chosen: list[Item] = []
    while len(chosen) < len(items):
        turn = max((c for c in range(k) if groups[c]), key=lambda c: sizes[c] / (2 * taken[c] + 1))
        chosen.append(groups[turn].pop())
        taken[turn] += 1
    return chosen


def sentence_vectors(
    items: Sequence[Item], loaded: SavedModel, batch_size: int = 32, encoder: Any = None
) -> Any:
    """One unit vector an item: its text read by the run's own encoder (``encoder``
    where the model keeps it elsewhere than ``base_model``), mean-pooled
    (``kg.embed``), so a corpus in any language the model reads clusters by what
    its sentences say. Items sharing a text (a sentence's pairs) share a vector."""
    from workbench.kg.embed import Embedder

    model = loaded.model if encoder is None else encoder
    embedder = Embedder.around(model, loaded.tokenizer, str(loaded.folder), loaded.max_length)
    texts = list(dict.fromkeys(item.text for item in items))
    rows = embedder.encode(texts, batch_size)
    place = {text: number for number, text in enumerate(texts)}
    return rows[[place[item.text] for item in items]]


def _shape(item: Item) -> tuple[frozenset[str], str]:
    """An item's words (lower-cased) and its template: names and numbers blanked."""
    words = item.tokens or item.text.split()
    template = " ".join("_" if w[:1].isupper() or w[:1].isdigit() else w for w in words)
    return frozenset(w.lower() for w in words), template


def _repeats(a: tuple[frozenset[str], str], b: tuple[frozenset[str], str]) -> bool:
    return a[1] == b[1] or _overlap(a[0], b[0]) >= DIVERSITY_OVERLAP


def _overlap(a: frozenset[str], b: frozenset[str]) -> float:
    shared = len(a & b)
    union = len(a) + len(b) - shared
    return shared / union if union else 1.0


def build_queue(
    model_path: str | Path,
    corpus: str | Path | list[Document],
    how: str = DEFAULT_ORDER,
    seed: int = 0,
    skip: set[str] | frozenset[str] = frozenset(),
    limit: int | None = None,
    batch_size: int = 32,
    loaded: SavedModel | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[SavedModel, list[Item]]:
    """Load the model (unless ``loaded``), read the corpus (unless it is given as its
    documents), propose and order:
    ``(loaded model, queue)``, without the items whose key is in ``skip`` (decided
    before). ``limit`` caps how many undecided items are read, in corpus order,
    before ordering (a quick start on a large corpus)."""
    if how not in ORDERS:
        raise WorkbenchError(f"order {how!r}: choose one of {', '.join(ORDERS)}")
    if loaded is None:
        loaded = load_saved(model_path)
    task_name = loaded.task.name
    if task_name not in TASKS:
        raise WorkbenchError(
            f"{model_path}: a {task_name} model; annotate takes NER and classification models"
        )
    documents = corpus if isinstance(corpus, list) else read_corpus(corpus)
    level = loaded.task.level
    undecided = (i for i in iter_items(documents, task_name, level) if i.key not in skip)
    items = list(islice(undecided, limit))
    if say is not None:
        say(f"reading {len(items)} {'sentences' if task_name == 'ner' else 'texts'} with the model")
    propose(items, loaded, batch_size)
    vectors = sentence_vectors(items, loaded, batch_size) if how == "balanced" else None
    return loaded, order(items, how, seed, vectors)
