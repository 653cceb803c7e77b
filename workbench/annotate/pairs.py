"""Relation annotation: one item per candidate entity pair of a sentence.

A relation model classifies ordered entity pairs, so a person decides pairs: the
sentence with its head and its tail, and the relation type the model proposes
(its no-relation label included). The entities come from one of two places:

- a JSON lines file the relation readers take (``tokens`` and ``entities`` as
  word spans, the recipe's column names; any ``relations`` in it are ignored:
  the model proposes);
- raw text (any corpus ``kg build`` reads) and an NER run, whose model finds the
  entities sentence by sentence as ``kg build`` does.

The candidate pairs are the relation task's own (``RelationTask.candidates``:
ordered pairs, only the entity-type pairs it was trained on when the recipe set
``relation.type_pairs``), entity types named as the relation model names them
(``PER`` found by the NER model becomes the ``Peop`` a CoNLL04 model knows). A
pair's confidence is the log probability of its likeliest label, and
``pool.order`` ranks the pairs as it ranks sentences.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

from workbench.annotate.orders import DEFAULT_ORDER, ORDERS
from workbench.annotate.pool import TASKS, Item, item_key, order, sentence_vectors
from workbench.data import read_examples
from workbench.data.jsonl import read_jsonl
from workbench.data.text_files import open_text
from workbench.errors import WorkbenchError
from workbench.kg.corpus import Document, read_corpus, split_sentences
from workbench.models.folder import check_saved_task
from workbench.models.saved import SavedModel, load_saved
from workbench.settings import defaults
from workbench.tasks.relation import map_type

RELATION = "relation"
ANNOTATED = (*TASKS, RELATION)  # every task a run may be annotated for
NER_CHUNK = 64  # sentences the NER model reads at a time: a limited queue reads no more
JSON_SUFFIXES = (".jsonl", ".json", ".ndjson")


@dataclass
class PairItem(Item):
    """One ordered entity pair of a sentence. ``entities`` holds the head and the
    tail (what the decisions file keeps); ``context`` every entity of the sentence
    the model read it with, ``head`` and ``tail`` their places in it."""

    context: list[dict] = field(default_factory=list)
    head: int = 0
    tail: int = 1

    @property
    def pair(self) -> tuple[int, int, int, int]:
        """The head's and the tail's word spans: ``(h_start, h_end, t_start, t_end)``."""
        head, tail = self.entities[0], self.entities[1]
        return head["start"], head["end"], tail["start"], tail["end"]

    @property
    def key(self) -> str:
        """The sentence's key and the pair: a decided pair leaves the sentence's
        other pairs undecided."""
        return pair_key(self.source, self.text, self.pair)


def pair_key(source: str, text: str, pair: Iterable[int]) -> str:
    """The key of a decided pair (``pool.item_key`` and the two spans)."""
    return f"{item_key(source, text)}@{','.join(str(int(n)) for n in pair)}"


def data_columns(columns: dict | None = None) -> dict:
    """The ``[data]`` mapping the readers take: the defaults, the recipe's columns over them."""
    return {
        **defaults("data"),
        **(columns or {}),
        "format": "auto",
    }


# -- where the entities come from ------------------------------------------------------------


def is_span_corpus(path: str | Path, columns: dict | None = None) -> bool:
    """Is ``path`` JSON records of tokenised sentences with entities (what the
    relation readers take), rather than text for a model to find entities in?"""
    path = Path(path).expanduser()
    if not path.is_file() or not any(s in JSON_SUFFIXES for s in path.suffixes):
        return False
    data = data_columns(columns)
    first = _first_record(path)
    return first is not None and {data["tokens_column"], data["entities_column"]} <= set(first)


def _first_record(path: Path) -> dict | None:
    """The first JSON record of a file, reading no further than it where the file
    is JSON lines (a large corpus is read once, by its reader); None when there
    is none, or it is not JSON (the reader that follows says where)."""
    with open_text(path) as handle:
        line = next((line for line in handle if line.strip()), "")
    try:
        if line.lstrip().startswith("["):  # one JSON array: read whole
            records = read_jsonl(path)
            return records[0][1] if records else None
        record = json.loads(line) if line else None
    except (WorkbenchError, json.JSONDecodeError):
        return None
    return record if isinstance(record, dict) else None


def read_relation_corpus(
    corpus: str | Path, columns: dict | None, with_ner: bool, ner_hint: str = "--ner RUN"
) -> list[Item] | list[Document]:
    """What a relation session reads: the sentences of a file that holds entities
    (``Item``s), or the documents of a raw corpus for the NER model (``Document``s).
    A raw corpus without an NER run, or an NER run for a file that already holds
    entities, is said in one sentence (``ner_hint`` names the option)."""
    if is_span_corpus(corpus, columns):
        if with_ner:
            raise WorkbenchError(
                f"{corpus}: already holds tokens and entities; leave out the NER run "
                f"(it finds entities in raw text)"
            )
        return span_sentences(corpus, columns)
    if not with_ner:
        raise WorkbenchError(
            f"{corpus}: raw text, and a relation model needs the entities: name an NER run "
            f"whose model finds them ({ner_hint}), or give a JSONL file with tokens and "
            f"entities"
        )
    return read_corpus(corpus)


def span_sentences(path: str | Path, columns: dict | None = None) -> list[Item]:
    """The sentences of a relation data file, read (and checked) by the relation
    reader with the recipe's column names; a sentence's text is its tokens a
    space apart."""
    examples = read_examples(str(path), data_columns(columns), "spans")
    name = Path(path).name
    sentences = []
    for number, example in enumerate(examples):
        text = " ".join(example["tokens"])
        sentences.append(
            Item(
                source=name,
                sentence=number,
                text=text,
                words=token_words(text, example["tokens"]),
                entities=example["entities"],
            )
        )
    return sentences


def ner_sentences(
    documents: list[Document], ner: SavedModel, batch_size: int = 32
) -> Iterator[Item]:
    """The corpus's sentences, cut as ``kg build`` cuts them, with the entities the
    NER model finds; read ``NER_CHUNK`` at a time, as they are asked for."""

    def sentences() -> Iterator[Item]:
        for doc in documents:
            for number, (start, end) in enumerate(split_sentences(doc.text)):
                text = doc.text[start:end]
                words = ner.task.split(text)
                if words:
                    yield Item(source=doc.key, sentence=number, text=text, words=words)

    pending = sentences()
    while chunk := list(islice(pending, NER_CHUNK)):
        found = ner.task.predict_tokens(
            ner.model, ner.tokenizer, [s.tokens for s in chunk], ner.max_length, batch_size
        )
        for sentence, entities in zip(chunk, found):
            sentence.entities = entities
            yield sentence


def token_words(text: str, tokens: list[str]) -> list[tuple[str, int, int]]:
    """``tokens`` with their character offsets in ``text`` (found in order); a
    token the text does not hold (a hand-edited line) puts them a space apart."""
    words, at = [], 0
    for token in tokens:
        start = text.find(token, at)
        if start < 0:
            return token_words(" ".join(tokens), tokens)
        words.append((token, start, start + len(token)))
        at = start + len(token)
    return words


# -- pairs -----------------------------------------------------------------------------------


def sentence_pairs(sentence: Item, task) -> list[PairItem]:
    """The candidate pairs of a sentence with entities, unproposed: the entities'
    types as the relation model names them (where it knows a match)."""
    known = task.entity_types
    context = [
        {
            "type": (map_type(e["type"], known) or e["type"]) if known else e["type"],
            "start": e["start"],
            "end": e["end"],
        }
        for e in sentence.entities
    ]
    example = {"tokens": sentence.tokens, "entities": context}
    return [
        PairItem(
            source=sentence.source,
            sentence=sentence.sentence,
            text=sentence.text,
            words=sentence.words,
            entities=[dict(context[h]), dict(context[t])],
            context=context,
            head=h,
            tail=t,
        )
        for h, t in task.candidates(example)
    ]


def propose_pairs(items: Sequence[Item], loaded: SavedModel, batch_size: int = 32) -> None:
    """Fill in each pair's label distribution, proposal (its likeliest label,
    no-relation included) and confidence. The pairs of one sentence are read
    together, with every entity the sentence has (a shared-encoding model marks
    them all)."""
    groups: dict[int, list[PairItem]] = {}  # the pairs of one sentence share its context
    for item in items:
        if isinstance(item, PairItem):
            groups.setdefault(id(item.context), []).append(item)
    sentences = [{"tokens": g[0].tokens, "entities": g[0].context} for g in groups.values()]
    task = loaded.task
    found = task.pair_probabilities(
        loaded.model, loaded.tokenizer, sentences, loaded.max_length, batch_size
    )
    for group, distributions in zip(groups.values(), found):
        for item in group:
            probabilities = distributions.get((item.head, item.tail))
            if not probabilities:  # not a pair this model reads (a decision made for another)
                item.probabilities, item.label, item.confidence = {}, None, float("nan")
                continue
            item.probabilities = probabilities
            item.label = max(probabilities, key=probabilities.__getitem__)
            item.confidence = math.log(max(probabilities[item.label], 1e-12))


def pair_from_record(record: dict, columns: dict | None = None) -> PairItem:
    """A decided pair rebuilt from its line (an undo reaching an earlier session):
    the head and the tail are all the entities it keeps."""
    data = data_columns(columns)
    tokens = [str(t) for t in record.get(data["tokens_column"]) or []]
    text = str(record["text"])
    entities = [
        {"type": str(e["type"]), "start": int(e["start"]), "end": int(e["end"])}
        for e in record.get(data["entities_column"]) or []
    ][:2]
    if len(entities) != 2:
        raise WorkbenchError(
            f"the decision for {record.get('source')!r} ({text[:40]!r}) names no head and tail"
        )
    return PairItem(
        source=str(record["source"]),
        sentence=int(record.get("position") or 0),
        text=text,
        words=token_words(text, tokens),
        entities=[dict(e) for e in entities],
        context=entities,
        head=0,
        tail=1,
    )


def check_levels(ner: SavedModel, relation: SavedModel, ner_path, relation_path) -> None:
    """The relation model reads the NER model's words: both must cut text alike."""
    if ner.task.level != relation.task.level:
        raise WorkbenchError(
            f"the NER model {ner_path} cuts text into {ner.task.level} and the relation "
            f"model {relation_path} into {relation.task.level}; train them on data cut "
            f"the same way"
        )


def build_pair_queue(
    model_path: str | Path,
    corpus: str | Path | list[Item] | list[Document],
    ner: str | Path | None = None,
    how: str = DEFAULT_ORDER,
    seed: int = 0,
    skip: set[str] | frozenset[str] = frozenset(),
    limit: int | None = None,
    batch_size: int = 32,
    loaded: SavedModel | None = None,
    ner_loaded: SavedModel | None = None,
    columns: dict | None = None,
    say: Callable[[str], None] | None = None,
) -> tuple[SavedModel, SavedModel | None, list[PairItem]]:
    """Load the relation model (unless ``loaded``) and the NER model a raw corpus
    needs (unless ``ner_loaded``), read the corpus (unless it is given as what
    ``read_relation_corpus`` returned), propose and order: ``(relation model,
    NER model or None, queue)``, without the pairs whose key is in ``skip``.
    ``limit`` caps how many sentences with undecided pairs are read, in corpus
    order, before ordering."""
    if how not in ORDERS:
        raise WorkbenchError(f"order {how!r}: choose one of {', '.join(ORDERS)}")
    if loaded is None:
        loaded = load_saved(model_path)
    if loaded.task.name != RELATION:
        raise WorkbenchError(f"{model_path}: a {loaded.task.name} model, not a relation model")
    with_ner = ner is not None or ner_loaded is not None
    if isinstance(corpus, (str, Path)):
        corpus = read_relation_corpus(corpus, columns, with_ner)
    sentences: Iterable[Item]
    if corpus and isinstance(corpus[0], Document):
        if not with_ner:
            raise WorkbenchError("raw text needs an NER run to find its entities")
        if ner_loaded is None:
            assert ner is not None
            check_saved_task(ner, "ner", "--ner")
            ner_loaded = load_saved(ner)
        check_levels(ner_loaded, loaded, ner or ner_loaded.folder, model_path)
        sentences = ner_sentences([d for d in corpus if isinstance(d, Document)], ner_loaded)
    else:
        sentences = [s for s in corpus if isinstance(s, Item)]

    def undecided() -> Iterator[list[PairItem]]:
        for sentence in sentences:
            pairs = [p for p in sentence_pairs(sentence, loaded.task) if p.key not in skip]
            if pairs:
                yield pairs

    groups = list(islice(undecided(), limit))
    items: list[Item] = [pair for group in groups for pair in group]
    if say is not None:
        say(f"reading {len(items)} pairs of {len(groups)} sentences with the model")
    propose_pairs(items, loaded, batch_size)
    if how == "balanced":  # clusters of similar sentences take turns
        ranked = order(items, how, seed, pair_vectors(items, loaded, batch_size))
    else:
        ranked = order(items, how, seed)
    return loaded, ner_loaded, [pair for pair in ranked if isinstance(pair, PairItem)]


def pair_vectors(items: Sequence[Item], loaded: SavedModel, batch_size: int = 32) -> Any:
    """One unit vector a pair, for the ``balanced`` order: its sentence read by the
    relation model's own encoder, without the pair head (the pairs of a sentence
    share it, so they fall in one cluster and take its turns)."""
    encoder = getattr(loaded.model, "encoder", loaded.model)
    return sentence_vectors(items, loaded, batch_size, encoder)
