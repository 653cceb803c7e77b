"""Relation classification between entity pairs of a sentence.

Every ordered pair of entities in a sentence is one example: the head and tail
are wrapped in marker tokens added to the tokenizer (``<h:PER> Maria Rossi
</h:PER> works for <t:ORG> Kestrel Bank </t:ORG>``; ``<h>``/``<t>`` without
types when ``relation.markers = "plain"``) and the model classifies the pair
from the hidden states of the two start markers: one encoder pass per pair.
With ``relation.encoding = "shared"`` every entity of a sentence is marked once
(``<e:PER> Maria Rossi </e:PER> works for <e:ORG> Kestrel Bank </e:ORG>``) and all
its pairs are classified from that one pass (the two start markers and the
words between the pair): a sentence with ten candidate pairs costs one pass,
not ten. Pairs without a gold relation are ``no_relation``. Scores are
micro/macro P/R/F1 over relation triples on gold entities (``relation_scores``).
"""

from __future__ import annotations

import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from itertools import groupby
from typing import Any

from workbench.tasks.base import Task, batched_probabilities
from workbench.tasks.ner import special_tokens_template
from workbench.tasks.relation_scores import RelationScorer
from workbench.tasks.words import split_words

PAIR_ROLES, SHARED_ROLES = ("h", "t"), ("e",)
PAIR_KEYS = ("head_pos", "tail_pos", "between_start", "between_end")  # one list per row, shared
ROW_LISTS = PAIR_KEYS + ("labels", "window")  # what a shared row holds per pair
PAIRS_PER_ROW = 256  # a sentence with more candidates (a table, a list) takes several rows
MAX_PIECES_PER_WORD = 16  # a pathological "word" (a URL, a hash) must not eat the window

# Entity type names differ between datasets (CoNLL-2003 PER vs CoNLL04 Peop); at
# prediction time a type the relation model never saw is matched through these groups.
TYPE_GROUPS = (
    {"per", "person", "peop", "people", "pers"},
    {"org", "organization", "organisation", "company", "corp"},
    {"loc", "location", "gpe", "place", "geo", "fac", "facility"},
    {"misc", "other", "others"},
)


def markers_for(types: Iterable[str], typed: bool, roles=PAIR_ROLES) -> list[str]:
    """Marker tokens: an opening and a closing one per role (head and tail, or one
    role-free entity role), and the same per entity type when ``typed``."""
    out = [m for role in roles for m in (f"<{role}>", f"</{role}>")]
    if typed:
        for kind in types:
            out += [m for role in roles for m in (f"<{role}:{kind}>", f"</{role}:{kind}>")]
    return out


def map_type(kind: str, known: list[str]) -> str | None:
    """``kind`` as one of the ``known`` entity types: exact, then ignoring case, then
    by synonym group (PER ~ Peop); None when nothing matches."""
    if kind in known:
        return kind
    lower = {k.lower(): k for k in known}
    if kind.lower() in lower:
        return lower[kind.lower()]
    for group in TYPE_GROUPS:
        if kind.lower() in group:
            for k in known:
                if k.lower() in group:
                    return k
    return None


def keep_words(pieces: list[list[int]], spans: list[tuple[int, int]], budget: int) -> list[int]:
    """Indices of the words that fit in ``budget`` sub-tokens: the entity words
    first, then the words nearest to an entity, kept in sentence order."""

    def distance(word: int) -> int:
        return min(
            0 if s <= word < e else (s - word if word < s else word - e + 1) for s, e in spans
        )

    kept, used = [], 0
    for word in sorted(range(len(pieces)), key=lambda w: (distance(w), w)):
        cost = len(pieces[word])
        if used + cost > budget:
            if distance(word) == 0:
                continue  # an entity word that does not fit: drop it, keep trying others
            break
        kept.append(word)
        used += cost
    return sorted(kept)


class RelationTask(Task):
    """Entity-pair relation classification with entity markers: a pass per pair
    (``encoding = "pairs"``) or a pass per sentence for all its pairs (``"shared"``)."""

    name = "relation"
    kind = "spans"
    default_metric = "micro_f1"
    metrics = ("micro_f1", "precision", "recall", "macro_f1", "loss")

    def __init__(self):
        self.none_label = "no_relation"
        self.typed = True
        self.encoding = "pairs"
        self.entity_types: list[str] = []
        self.type_pairs: set[tuple[str, str]] | None = None
        self.negative_ratio: float | None = None
        self.seed = 42

    # -- settings: from a recipe when training, from the model's meta when loading --
    def configure(self, recipe, splits: dict[str, list[dict]]) -> None:
        """Take the [relation] settings; entity types from every split, candidate
        type pairs from the training relations."""
        settings = recipe.relation
        self.none_label = settings.none_label
        self.typed = settings.markers == "typed"
        self.encoding = settings.encoding
        self.negative_ratio = settings.negative_ratio
        self.casing = recipe.model.casing
        self.seed = recipe.train.seed
        self.learn_level(splits.get("train", []))
        self.entity_types = sorted(
            {e["type"] for examples in splits.values() for ex in examples for e in ex["entities"]}
        )
        self.type_pairs = None
        if settings.type_pairs:
            self.type_pairs = {
                (ex["entities"][r["head"]]["type"], ex["entities"][r["tail"]]["type"])
                for ex in splits["train"]
                for r in ex["relations"]
            }

    def meta(self) -> dict:
        """What a saved model needs to encode pairs as in training."""
        return {
            "relation": {
                "none_label": self.none_label,
                "typed": self.typed,
                "encoding": self.encoding,
                "entity_types": self.entity_types,
                "type_pairs": sorted(map(list, self.type_pairs))
                if self.type_pairs is not None
                else None,
            },
            **super().meta(),
        }

    def from_meta(self, meta: dict) -> None:
        super().from_meta(meta)
        settings = meta.get("relation", {})
        self.none_label = settings.get("none_label", self.none_label)
        self.typed = settings.get("typed", self.typed)
        self.encoding = settings.get("encoding", "pairs")  # models saved before the choice
        self.entity_types = settings.get("entity_types", [])
        pairs = settings.get("type_pairs")
        self.type_pairs = {tuple(p) for p in pairs} if pairs is not None else None

    @property
    def shared(self) -> bool:
        return self.encoding == "shared"

    def model_class(self):
        from workbench.tasks.relation_model import EntityMarkerRelationModel, SharedRelationModel

        return SharedRelationModel if self.shared else EntityMarkerRelationModel

    def markers(self) -> list[str]:
        """This model's marker tokens."""
        return markers_for(
            self.entity_types, self.typed, SHARED_ROLES if self.shared else PAIR_ROLES
        )

    def prepare_tokenizer(self, tokenizer) -> None:
        """Add the marker tokens (special: never split, never lower-cased)."""
        tokenizer.add_tokens(self.added_tokens(), special_tokens=True)

    def added_tokens(self) -> list[str]:
        """The tokens ``prepare_tokenizer`` adds: their embeddings train under any
        ``[peft]`` method."""
        return self.markers()

    # -- labels ------------------------------------------------------------------
    def labels_from(self, examples: list[dict], given: list[str] | None) -> list[str]:
        """``no_relation`` first, then ``data.labels`` as given or the training types sorted."""
        kinds = (
            list(dict.fromkeys(given))
            if given
            else sorted({r["type"] for e in examples for r in e["relations"]})
        )
        return [self.none_label] + [k for k in kinds if k != self.none_label]

    def example_labels(self, example: dict):
        return [r["type"] for r in example["relations"]]

    # -- pairs -------------------------------------------------------------------
    def _type(self, kind: str) -> str | None:
        return map_type(kind, self.entity_types) if self.entity_types else kind

    def candidates(self, example: dict) -> list[tuple[int, int]]:
        """Ordered entity pairs that may hold a relation (type pairs from training
        when ``relation.type_pairs``); a fixed order the scorer relies on."""
        types = [self._type(e["type"]) for e in example["entities"]]
        usable = self._usable(example)
        return [
            (h, t)
            for h in range(len(types))
            for t in range(len(types))
            if h != t
            and usable[h]
            and usable[t]
            and (self.type_pairs is None or (types[h], types[t]) in self.type_pairs)
        ]

    def _usable(self, example: dict) -> list[bool]:
        """Per entity: may it be marked? With typed markers, a type the model has no
        trained marker for is neither a candidate nor marked in a shared row."""
        return [
            self._type(e["type"]) is not None or not (self.typed and self.entity_types)
            for e in example["entities"]
        ]

    def _marker(self, role: str, kind: str, end: bool) -> str:
        mapped = self._type(kind) if self.typed else None
        slash = "/" if end else ""
        return f"<{slash}{role}:{mapped}>" if mapped else f"<{slash}{role}>"

    def encode(
        self,
        examples: list[dict],
        tokenizer,
        label2id: dict[str, int],
        max_length: int,
        train: bool = False,
    ) -> list[dict]:
        """Marked word pieces with ``head_pos``/``tail_pos`` (the start markers), the
        label, ``example`` (the sentence) and ``window`` (the place in ``candidates``).

        Per pair: one feature per candidate pair, cut around the pair when too long.
        Shared: one feature per sentence whose pair keys (``PAIR_KEYS``, ``labels``,
        ``window``) are lists; a sentence too long for ``max_length`` is read in
        overlapping stretches, each pair in the first that holds both its entities
        (a cut feature of its own when none does). With ``train`` and
        ``relation.negative_ratio``, no_relation pairs are sampled."""
        prefix, suffix = special_tokens_template(tokenizer)
        encoded = tokenizer(
            [e["tokens"] for e in examples], is_split_into_words=True, add_special_tokens=False
        )
        none_id = label2id.get(self.none_label, -100)
        marker_ids = dict(zip(self.markers(), tokenizer.convert_tokens_to_ids(self.markers())))
        pieces_of: list[list[list[int]]] = []
        positives: list[dict] = []
        negatives: list[dict] = []
        for index, example in enumerate(examples):
            pieces: list[list[int]] = [[] for _ in example["tokens"]]
            for token_id, word in zip(encoded["input_ids"][index], encoded.word_ids(index)):
                if word is not None:
                    pieces[word].append(token_id)
            pieces_of.append(
                [(p or [tokenizer.unk_token_id])[:MAX_PIECES_PER_WORD] for p in pieces]
            )
            gold = {(r["head"], r["tail"]): r["type"] for r in example.get("relations", [])}
            for window, (h, t) in enumerate(self.candidates(example)):
                label = gold.get((h, t))
                pair = {
                    "head": h,
                    "tail": t,
                    "example": index,
                    "window": window,
                    "labels": label2id.get(label, -100) if label else none_id,
                }
                (positives if label else negatives).append(pair)
        if train and self.negative_ratio is not None:
            keep = min(len(negatives), int(round(self.negative_ratio * len(positives))))
            chosen = sorted(random.Random(self.seed).sample(range(len(negatives)), keep))
            negatives = [negatives[i] for i in chosen]
        pairs = sorted(positives + negatives, key=lambda f: (f["example"], f["window"]))
        layout = Layout(
            marker_ids, prefix, suffix, self._marker, max(1, max_length - len(prefix) - len(suffix))
        )
        if not self.shared:
            return [
                self._pair_feature(layout, pieces_of[p["example"]], examples[p["example"]], p)
                for p in pairs
            ]
        features = []
        for index, group in groupby(pairs, key=lambda p: p["example"]):
            features += self._shared_rows(layout, pieces_of[index], examples[index], list(group))
        return features

    def _shared_rows(self, layout: Layout, pieces, example: dict, pairs: list[dict]):
        """A sentence's rows for ``pairs``: the whole sentence when it fits, else
        overlapping stretches of it; pairs no stretch holds get a cut row each."""
        entities = example["entities"]
        marked = [n for n, usable in enumerate(self._usable(example)) if usable]
        rows, left = [], pairs
        for low, high in layout.stretches(pieces, [entities[n] for n in marked]):
            inside = [
                n for n in marked if low <= entities[n]["start"] and entities[n]["end"] <= high
            ]
            held = set(inside)
            mine: list[dict] = []
            rest: list[dict] = []
            for p in left:
                (mine if p["head"] in held and p["tail"] in held else rest).append(p)
            if not mine:
                continue
            left = rest
            ids, starts, ends, types = layout.mark(
                pieces,
                [(entities[n], "e") for n in inside],
                range(low, high),
                self.capitals(example["tokens"]),
            )
            place = {n: k for k, n in enumerate(inside)}  # entity -> its place in ``inside``
            for first in range(0, len(mine), PAIRS_PER_ROW):
                row = {**_row(ids, mine[0]["example"], types), **{key: [] for key in ROW_LISTS}}
                for p in mine[first : first + PAIRS_PER_ROW]:
                    _add_pair(row, starts, ends, place[p["head"]], place[p["tail"]], p)
                rows.append(row)
        return rows + [self._pair_feature(layout, pieces, example, p) for p in left]

    def _pair_feature(self, layout: Layout, pieces, example, pair: dict) -> dict:
        """One pair's feature, the words cut around it to fit; in shared encoding its
        keys are one-item lists, as a sentence's would be."""
        h, t = pair["head"], pair["tail"]
        head, tail = example["entities"][h], example["entities"][t]
        kept = keep_words(
            pieces,
            [(head["start"], head["end"]), (tail["start"], tail["end"])],
            max(1, layout.budget - 4),
        )
        roles = ("e", "e") if self.shared else ("h", "t")
        ids, starts, ends, types = layout.mark(
            pieces, [(head, roles[0]), (tail, roles[1])], kept, self.capitals(example["tokens"])
        )
        feature = _row(ids, pair["example"], types)
        if not self.shared:
            return {
                **feature,
                "head_pos": starts[0],
                "tail_pos": starts[1],
                "labels": pair["labels"],
                "window": pair["window"],
            }
        feature.update({key: [] for key in ROW_LISTS})
        _add_pair(feature, starts, ends, 0, 1, pair)
        return feature

    # -- scoring -----------------------------------------------------------------
    def scorer(self, examples: list[dict], id2label: dict[int, str]) -> RelationScorer:
        return RelationScorer(self, examples, id2label)

    # -- prediction ----------------------------------------------------------------
    def predict_pairs(
        self, model, tokenizer, items: list[dict], max_length: int, batch_size: int = 32
    ) -> list[list[dict]]:
        """Relations among given entities: for each ``{"tokens", "entities"}`` item,
        ``[{"head", "tail", "type", "score"}]`` for the pairs whose most likely label
        is a relation (head/tail index the item's entities)."""
        id2label = {int(k): v for k, v in model.config.id2label.items()}
        found: list[list[dict]] = [[] for _ in items]
        rows = self._pair_rows(model, tokenizer, items, max_length, batch_size)
        for example, (h, t), row in rows:
            best = int(row.argmax())
            label = id2label[best]
            if label == self.none_label:
                continue
            found[example].append(
                {"head": h, "tail": t, "type": label, "score": round(float(row[best]), 4)}
            )
        for relations in found:
            relations.sort(key=lambda r: (r["head"], r["tail"]))
        return found

    def pair_probabilities(
        self, model, tokenizer, items: list[dict], max_length: int, batch_size: int = 32
    ) -> list[dict[tuple[int, int], dict[str, float]]]:
        """Every candidate pair's label distribution, no_relation included: for each
        ``{"tokens", "entities"}`` item, ``{(head, tail): {label: probability}}``
        (what annotation ranks pairs by and shows beside its proposal)."""
        id2label = {int(k): v for k, v in model.config.id2label.items()}
        out: list[dict[tuple[int, int], dict[str, float]]] = [{} for _ in items]
        for example, pair, row in self._pair_rows(model, tokenizer, items, max_length, batch_size):
            out[example][pair] = {id2label[i]: float(p) for i, p in enumerate(row.tolist())}
        return out

    def _pair_rows(self, model, tokenizer, items: list[dict], max_length: int, batch_size: int):
        """``(item index, (head, tail), probability row)`` for every candidate pair."""
        features = self.encode(items, tokenizer, {}, max_length)
        candidates = [self.candidates(item) for item in items]
        for indices, _batch, probs in batched_probabilities(model, tokenizer, features, batch_size):
            if probs.dim() == 2:  # a pair per row: give it the pairs dimension
                probs = probs[:, None]
            for feature, rows in zip((features[i] for i in indices), probs):
                for window, row in zip(pair_windows(feature), rows):
                    yield feature["example"], candidates[feature["example"]][window], row

    def predict(
        self, model, tokenizer, texts: list[str], max_length: int, batch_size: int = 32
    ) -> list[dict]:
        """Relations in texts whose entities are marked ``[[Maria Rossi|PER]]``."""
        items = [parse_marked(text, self.split) for text in texts]
        relations = self.predict_pairs(model, tokenizer, items, max_length, batch_size)
        results = []
        for item, found in zip(items, relations):
            entities = item["char_entities"]
            results.append(
                {
                    "text": item["text"],
                    "entities": entities,
                    "relations": [
                        {
                            **r,
                            "head_text": entities[r["head"]]["text"],
                            "tail_text": entities[r["tail"]]["text"],
                        }
                        for r in found
                    ],
                }
            )
        return results


MARKUP = re.compile(r"\[\[(.+?)\|([^\]|]+)\]\]")


def parse_marked(text: str, split=split_words) -> dict:
    """``"[[Maria Rossi|PER]] works for [[Kestrel Bank|ORG]]"`` -> plain text, its
    words (cut by ``split``) and the marked entities as word and character spans."""
    plain: list[str] = []
    char_entities: list[dict[str, Any]] = []
    pos = offset = 0
    for match in MARKUP.finditer(text):
        plain.append(text[pos : match.start()])
        offset += match.start() - pos
        surface, kind = match.group(1).strip(), match.group(2).strip()
        char_entities.append(
            {"text": surface, "label": kind, "start": offset, "end": offset + len(surface)}
        )
        plain.append(surface)
        offset += len(surface)
        pos = match.end()
    plain.append(text[pos:])
    clean = "".join(plain)
    words = split(clean) or [("", 0, 0)]
    entities = []
    for entity in char_entities:
        covered = [
            i for i, (_, s, e) in enumerate(words) if s < entity["end"] and e > entity["start"]
        ]
        if covered:
            entities.append({"type": entity["label"], "start": covered[0], "end": covered[-1] + 1})
    return {
        "text": clean,
        "tokens": [w for w, _, _ in words],
        "entities": entities,
        "char_entities": [
            c for c in char_entities if any(s < c["end"] and e > c["start"] for _, s, e in words)
        ],
    }


class Layout:
    """Writes marked word pieces: the model's marker ids, its special tokens, and
    ``marker(role, type, end)`` naming the marker an entity gets."""

    def __init__(
        self, marker_ids: dict[str, int], prefix: list[int], suffix: list[int], marker, budget: int
    ):
        self.marker_ids, self.prefix, self.suffix, self.marker = marker_ids, prefix, suffix, marker
        self.budget = budget  # sub-tokens and markers a row may hold between its specials

    def stretches(self, pieces: list[list[int]], entities: list[dict]) -> list[tuple[int, int]]:
        """Word ranges that fit the budget with their entities marked: the whole
        sentence when it fits, else ranges each starting half-way through the one
        before (a word too long for a row with its markers is in none)."""
        starting = Counter(e["start"] for e in entities)
        cost = [len(p) + 2 * starting[w] for w, p in enumerate(pieces)]
        out, low = [], 0
        while True:
            high, used = low, 0
            while high < len(pieces) and (used + cost[high] <= self.budget or high == low):
                used += cost[high]
                high += 1
            if used <= self.budget:
                out.append((low, high))
            if high >= len(pieces):
                return out
            low = max(low + 1, (low + high) // 2)

    def mark(
        self,
        pieces: list[list[int]],
        marked: list[tuple[dict, str]],
        kept: Iterable[int],
        capitals: list[int] | None = None,
    ) -> tuple[list[int], list[int], list[int], list[int] | None]:
        """Token ids of the ``kept`` words with each ``(entity, role)`` in ``marked``
        wrapped in markers; the position of each one's start marker and the
        position just after its end marker; with ``capitals`` (a flag per word), the
        token types: 1 on a capitalised word's pieces, 0 on markers and the rest."""
        # word -> (number in marked, marker) to put before it / after it
        before: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
        after: defaultdict[int, list[tuple[int, str]]] = defaultdict(list)
        # Longer spans open first and close last, so nested or shared spans stay nested.
        for number, (entity, role) in sorted(
            enumerate(marked), key=lambda x: x[1][0]["start"] - x[1][0]["end"]
        ):
            before[entity["start"]].append((number, self.marker(role, entity["type"], False)))
            after[entity["end"] - 1].insert(0, (number, self.marker(role, entity["type"], True)))
        kept_set = set(kept)
        ids = list(self.prefix)
        types = [0] * len(ids) if capitals is not None else None
        starts, ends = [0] * len(marked), [0] * len(marked)
        for word in range(len(pieces)):
            for number, marker in before.get(word, []):
                starts[number] = len(ids)
                ids.append(self.marker_ids[marker])
            if word in kept_set:
                if types is not None and capitals is not None:  # the markers, then the word
                    types += [0] * (len(ids) - len(types)) + [capitals[word]] * len(pieces[word])
                ids.extend(pieces[word])
            for number, marker in after.get(word, []):
                ids.append(self.marker_ids[marker])
                ends[number] = len(ids)
        ids.extend(self.suffix)
        if types is not None:  # the last markers and the special tokens
            types += [0] * (len(ids) - len(types))
        return ids, starts, ends, types


def pair_windows(feature: dict) -> list[int]:
    """The candidate indices of a feature's pairs (a list in a shared row)."""
    window = feature["window"]
    return window if isinstance(window, list) else [window]


def _row(ids: list[int], example: int, types: list[int] | None = None) -> dict:
    row = {"input_ids": ids, "attention_mask": [1] * len(ids), "example": example}
    if types is not None:  # model.casing
        row["token_type_ids"] = types
    return row


def _add_pair(
    feature: dict, starts: list[int], ends: list[int], h: int, t: int, pair: dict
) -> None:
    """Append ``pair`` to a shared feature: the start markers of marked entities
    ``h`` and ``t``, the tokens between them (none when they overlap or touch),
    its label and its place among the candidates."""
    first, second = (h, t) if starts[h] <= starts[t] else (t, h)
    low, high = ends[first], starts[second]
    if high <= low:
        low = high = 0
    for key, value in zip(
        ROW_LISTS, (starts[h], starts[t], low, high, pair["labels"], pair["window"])
    ):
        feature[key].append(value)
