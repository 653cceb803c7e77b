"""Pairs of entities the graph's text names together, for ``kg infer``
(kg/proposals.py): which sentences and documents name both, the words between
the two in each sentence, and how the graph's evidence words each relation
against pairs that hold none (a naive Bayes over those words, and exact
patterns). Read from the mentions, sentences and evidence of a graph file.
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter, defaultdict
from dataclasses import dataclass

from workbench.kg.sql import chunks, marks

Triple = tuple[int, str, int]

TOKEN = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|\w+|[^\w\s]")
GAP_TOKENS = 12  # words kept between two mentions (the first and last six)
SENTENCE_ENTITIES = 30  # a sentence naming more entities gives no pairs
DOCUMENT_ENTITIES = 60  # nor a document naming more (a list, a table)
SMOOTHING = 2.0  # pseudo-pairs of the rate over all pairs in each class's word rates


def tokens_of(text: str) -> list[str]:
    """Lower-cased words and punctuation; a character a word in unspaced scripts."""
    return TOKEN.findall(text.lower())


@dataclass
class Occurrence:
    """Two entities one sentence names: the one named first, the one after, and
    the words between (other entities as their type)."""

    sentence: int
    first: int
    second: int
    words: tuple[str, ...]

    def pattern(self, head: int) -> frozenset[str]:
        """The words as seen from ``head``: marked > when the head comes first."""
        mark = ">" if head == self.first else "<"
        return frozenset([mark] + [mark + w for w in self.words])


def _document_pairs(entities: set[int]) -> list[tuple[int, int]]:
    """The pairs (a < b) of a document's entities; none when it names too many."""
    if len(entities) > DOCUMENT_ENTITIES:
        return []
    ordered = sorted(entities)
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :]]


class Text:
    """What the graph's mentions say about pairs of entities: the sentences and
    documents naming both, and how each evidence sentence words its fact."""

    def __init__(self, graph, types: dict[int, str]):
        self.types = types
        self._core = graph.core
        rows = graph.core.q(
            "SELECT m.entity_id, m.sentence_id, m.start, m.end, s.document_id "
            "FROM mentions m JOIN sentences s ON s.id = m.sentence_id "
            "ORDER BY m.sentence_id, m.start"
        )
        by_sentence: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        self.document_of: dict[int, int] = {}
        by_document: dict[int, set[int]] = defaultdict(set)
        self.sentences_of: dict[int, list[int]] = defaultdict(list)
        for entity, sentence, start, end, document in rows:
            by_sentence[sentence].append((entity, start, end))
            self.document_of[sentence] = document
            by_document[document].add(entity)
            if not self.sentences_of[entity] or self.sentences_of[entity][-1] != sentence:
                self.sentences_of[entity].append(sentence)
        wanted = [
            s for s, ms in by_sentence.items() if 2 <= len({m[0] for m in ms}) <= SENTENCE_ENTITIES
        ]
        self.text: dict[int, str] = {}
        for chunk in chunks(wanted):
            for sid, text in graph.core.q(
                f"SELECT id, text FROM sentences WHERE id IN ({marks(chunk)})", chunk
            ):
                self.text[sid] = text
        self.document_key = {r[0]: r[1] for r in graph.core.q("SELECT id, doc_key FROM documents")}
        self._mentions = by_sentence
        self._sentences_in: dict[int, list[int]] = defaultdict(list)
        for sentence, document in self.document_of.items():
            self._sentences_in[document].append(sentence)
        # unordered pair (a < b) -> its occurrences, one per sentence naming both
        self.occurrences: dict[tuple[int, int], list[Occurrence]] = defaultdict(list)
        for sentence in wanted:
            self._pairs_in(sentence)
        self._by_document = by_document
        self.documents: Counter[tuple[int, int]] = Counter()
        for entities in by_document.values():
            self.documents.update(_document_pairs(entities))
        # (sentence, head, type, tail) -> the evidence's pattern as seen from its head
        self.evidence: dict[tuple[int, int, str, int], frozenset[str]] = {}
        for h, r, t, sentence, hs, he, ts, te in graph.core.q(
            "SELECT rel.head_id, rel.type, rel.tail_id, e.sentence_id, hm.start, hm.end, "
            "tm.start, tm.end FROM evidence e JOIN relations rel ON rel.id = e.relation_id "
            "JOIN mentions hm ON hm.id = e.head_mention_id "
            "JOIN mentions tm ON tm.id = e.tail_mention_id"
        ):
            if sentence not in self.text:
                continue
            first, second = ((h, (hs, he)), (t, (ts, te)))
            if ts < hs:
                first, second = second, first
            words = self._words(sentence, first[1][1], second[1][0])
            occ = Occurrence(sentence, first[0], second[0], words)
            self.evidence[(sentence, h, r, t)] = occ.pattern(h)

    def said_in(self) -> dict[Triple, set[int]]:
        """fact -> the sentences its evidence is in."""
        found: dict[Triple, set[int]] = defaultdict(set)
        for sentence, h, r, t in self.evidence:
            found[(h, r, t)].add(sentence)
        return found

    def without(self, sentences: set[int]) -> Text:
        """The same text with no entity named in ``sentences`` (as if no model had
        read them): their pairs, their evidence and their share of the documents go."""
        if not sentences:
            return self
        other = copy.copy(self)
        pairs = {
            key
            for s in sentences
            for key in _document_pairs({m[0] for m in self._mentions.get(s, ())})
        }
        other.occurrences = dict(self.occurrences)
        for key in pairs:
            kept = [o for o in self.occurrences.get(key, ()) if o.sentence not in sentences]
            if kept:
                other.occurrences[key] = kept
            else:
                other.occurrences.pop(key, None)
        other.evidence = {k: v for k, v in self.evidence.items() if k[0] not in sentences}
        other.documents = Counter(self.documents)
        for document in {self.document_of[s] for s in sentences if s in self.document_of}:
            before = self._by_document[document]
            after = {
                m[0]
                for s in self._sentences_in[document]
                if s not in sentences
                for m in self._mentions[s]
            }
            other.documents.subtract(_document_pairs(before))
            other.documents.update(_document_pairs(after))
        other.documents = +other.documents  # drops the pairs counted down to nothing
        named = {m[0] for s in sentences for m in self._mentions.get(s, ())}
        other.sentences_of = dict(self.sentences_of)
        for entity in named:
            other.sentences_of[entity] = [
                s for s in self.sentences_of[entity] if s not in sentences
            ]
        return other

    def _words(self, sentence: int, start: int, end: int) -> tuple[str, ...]:
        """The words between ``start`` and ``end``, entities named there as their type."""
        text, words, at = self.text[sentence], [], start
        for entity, ms, me in self._mentions[sentence]:
            if ms >= at and me <= end:
                words += tokens_of(text[at:ms]) + [f"<{self.types.get(entity, '?')}>"]
                at = me
        words += tokens_of(text[at:end]) if end > at else []
        if not words:
            words = ["∅"]  # side by side: more often one name cut in two than a relation
        if len(words) > GAP_TOKENS:
            words = words[: GAP_TOKENS // 2] + words[-GAP_TOKENS // 2 :]
        return tuple(words)

    def _pairs_in(self, sentence: int) -> None:
        best: dict[tuple[int, int], tuple[int, tuple, tuple]] = {}
        mentions = self._mentions[sentence]
        for i, (a, _, a_end) in enumerate(mentions):
            for b, b_start, _ in mentions[i + 1 :]:
                if a == b or b_start < a_end:
                    continue  # the same entity, or overlapping mentions
                gap = b_start - a_end
                key = (min(a, b), max(a, b))
                if key not in best or gap < best[key][0]:
                    best[key] = (gap, (a, a_end), (b, b_start))
        for key, (_, (a, a_end), (b, b_start)) in best.items():
            words = self._words(sentence, a_end, b_start)
            self.occurrences[key].append(Occurrence(sentence, a, b, words))

    def named_in(self, head: int, tail: int) -> list[Occurrence]:
        return self.occurrences.get((min(head, tail), max(head, tail)), [])

    def documents_naming(self, head: int, tail: int) -> int:
        return self.documents.get((min(head, tail), max(head, tail)), 0)

    def sentence(self, sentence: int) -> str:
        """A sentence's text (read from the graph when no pair of it was)."""
        if sentence not in self.text:
            row = self._core.q("SELECT text FROM sentences WHERE id = ?", (sentence,))
            self.text[sentence] = row[0][0] if row else ""
        return self.text[sentence]

    def quote(self, sentence: int) -> str:
        document = self.document_key[self.document_of[sentence]]
        return f"“{self.sentence(sentence)}” ({document})"

    def first_sentence(self, entity: int, document: int) -> int | None:
        return next(
            (s for s in self.sentences_of.get(entity, ()) if self.document_of[s] == document), None
        )


class Wording:
    """How the graph's evidence words each relation, against pairs named together
    that hold none: word counts per relation (a naive Bayes over the words
    between the two mentions), and exact patterns."""

    def __init__(self, text: Text, facts: set[Triple], related: set[tuple[int, int]], fits):
        self.words: dict[str, Counter] = defaultdict(Counter)
        self.seen: Counter[str] = Counter()
        self.exact: dict[str, Counter] = defaultdict(Counter)
        for (_, h, r, t), pattern in text.evidence.items():
            if (h, r, t) in facts:
                self.words[r].update(pattern)
                self.seen[r] += 1
                self.exact[r][pattern] += 1
        self.all_words: Counter[str] = sum(self.words.values(), Counter())  # every relation
        self.none_words: Counter[str] = Counter()
        self.none_exact: Counter[frozenset] = Counter()
        self.none_seen = 0
        for (a, b), found in text.occurrences.items():
            if (a, b) in related:
                continue
            for head, tail in ((a, b), (b, a)):
                if fits(head, tail):
                    for occ in found:
                        pattern = occ.pattern(head)
                        self.none_words.update(pattern)
                        self.none_exact[pattern] += 1
                        self.none_seen += 1
        self.all_seen = self.none_seen + sum(self.seen.values())
        self._scores: dict[tuple[frozenset[str], str, bool], tuple[float, int, int]] = {}

    def score(self, pattern: frozenset[str], relation: str, own: bool) -> tuple[float, int, int]:
        key = (pattern, relation, own)
        if key not in self._scores:  # wordings repeat: "works for", "lives in"
            self._scores[key] = self._score(pattern, relation, own)
        return self._scores[key]

    def _score(self, pattern: frozenset[str], relation: str, own: bool) -> tuple[float, int, int]:
        """(log-odds of ``relation`` against no relation, evidence of the relation
        worded exactly so, pairs without a relation worded so); ``own``: this
        pattern is itself one of the counted pairs without a relation (left out).
        Each class's word rates are smoothed towards the rate over all pairs, so a
        word rare everywhere says little and a common one never seen with the
        relation speaks against it."""
        n_r, n_none = self.seen[relation], self.none_seen - own
        counts = self.words.get(relation, Counter())
        odds = 0.0
        for w in pattern:
            q = (self.none_words[w] + self.all_words[w] + 0.5) / (self.all_seen + 1.0)
            p_r = (counts[w] + SMOOTHING * q) / (n_r + SMOOTHING)
            p_none = (self.none_words[w] - own + SMOOTHING * q) / (n_none + SMOOTHING)
            odds += math.log(p_r) - math.log(p_none)
        exact = self.exact.get(relation, Counter())[pattern]
        return odds, exact, self.none_exact[pattern] - own
