"""``workbench kg ask "Where does Aiko Karimi live?"``: questions in plain language.

Offline, with the graph's own sentence encoder, in three steps a person can follow:

1. **Entities**: the longest word runs of the question that are an entity's
   name (or a name merged into one); then, for capitalised words no name
   matches whole, the name search (every word a name's prefix).
2. **Relation**: every chain of one or two relations that leaves the entity's
   type is described in words (its relation names, the phrasings its evidence
   sentences use between the two entities, and a question-like line with the
   answer's type); the chain whose description is nearest in meaning to the
   question (the entity's words replaced by its type) wins, nudged by the
   question word (who, where, which company). Below a floor: "I don't know".
3. **Answer**: the entities at the end of that chain in the graph, each with
   its evidence sentences (or, for a triple a person accepted or reasoning
   proposed, its explanation); when the chain leads nowhere: "I don't know",
   with what was understood.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from workbench.errors import WorkbenchError
from workbench.kg import ask_support
from workbench.kg.normalize import normalize_name, relation_words

MAX_QUESTION = 1000  # characters
MAX_NGRAM = 6
FLOOR = 0.45  # below this similarity no relation is meant (measured on the question set)
TWO_HOP_MARGIN = 0.03  # a two-relation chain must beat the best single one by this
RERANK_MARGIN = 0.1  # readings this close to the best may answer in its place
WORD_BONUS = 0.05  # per relation of the chain the question's words name
UNNAMED_FLOOR = 0.75  # a reading none of whose relations the question names needs this
_TOKENS = re.compile(r"[\w’'.-]+")
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at to for by with from and or is are was were be been do does did "
        "who whom whose what which where when why how that this these those there it its he she "
        "they his her their him them me my i you your we our us",
    )
)
# The question words that say what kind of answer is wanted, by the type names
# NER label sets use (CoNLL, OntoNotes, the demo's).
TYPE_CUES = {
    "person": ({"who", "whom", "whose", "person", "people", "someone"}, {"PER", "PERSON"}),
    "place": (
        {"where", "city", "country", "place", "town", "location", "cities", "countries"},
        {"LOC", "GPE", "LOCATION", "CITY", "COUNTRY", "FAC"},
    ),
    "company": (
        {
            "company",
            "companies",
            "firm",
            "firms",
            "organisation",
            "organization",
            "employer",
            "business",
            "group",
        },
        {"ORG", "ORGANIZATION", "ORGANISATION", "COMPANY"},
    ),
    "product": ({"product", "products", "device", "devices"}, {"PRODUCT"}),
}


def type_word(entity_type: str) -> str:
    """A noun for a type: PER -> person, ORG -> company, LOC -> place."""
    for word, (_, types) in TYPE_CUES.items():
        if entity_type.upper() in types:
            return word
    return entity_type.lower()


@dataclass
class Step:
    """One relation of a chain, walked from the head (``forward``) or back."""

    relation: str
    forward: bool


@dataclass
class Reply:
    """What ``ask`` understood and found; ``answers`` empty means "I don't know"."""

    question: str
    entity: dict | None = None
    chain: list[Step] = field(default_factory=list)
    similarity: float = 0.0
    answers: list[dict] = field(default_factory=list)
    confidence: float = 0.0
    reason: str = ""

    @property
    def known(self) -> bool:
        return bool(self.answers)

    def to_dict(self) -> dict[str, Any]:
        return {
            "question": self.question,
            "entity": self.entity,
            "chain": [{"relation": s.relation, "forward": s.forward} for s in self.chain],
            "similarity": round(self.similarity, 4),
            "answers": self.answers,
            "confidence": round(self.confidence, 4),
            "known": self.known,
            "reason": self.reason,
        }


def check_question(question: str) -> str:
    """The question stripped; an empty or over-long one is a WorkbenchError."""
    question = " ".join(str(question or "").split())
    if not question:
        raise WorkbenchError("ask: the question is empty (ask about an entity in the graph)")
    if len(question) > MAX_QUESTION:
        raise WorkbenchError(
            f"ask: the question is {len(question):,} characters; ask in at most {MAX_QUESTION:,}"
        )
    return question


def find_entities(graph, question: str) -> list[dict]:
    """Entities named in the question, longest names first, no two overlapping:
    {"id","name","type","mentions","span": (start, end)}."""
    tokens = [(m.start(), m.end(), m.group().strip(".")) for m in _TOKENS.finditer(question)]
    taken = [False] * len(tokens)
    found: list[dict] = []
    for n in range(min(MAX_NGRAM, len(tokens)), 0, -1):
        for i in range(len(tokens) - n + 1):
            if any(taken[i : i + n]):
                continue
            words = [t[2] for t in tokens[i : i + n]]
            if all(_stopword(w) for w in words):
                continue
            text = question[tokens[i][0] : tokens[i + n - 1][1]]
            hits = graph.queries.by_name(normalize_name(text))
            if not hits:
                continue
            for hit in hits:
                found.append({**hit, "span": (tokens[i][0], tokens[i + n - 1][1]), "how": "name"})
            taken[i : i + n] = [True] * n
    if not found:
        found = _by_partial_name(graph, question, tokens)
    found.sort(key=lambda e: (e["span"][0], -e["mentions"]))
    return found


def _stopword(word: str) -> bool:
    """A function word, unless written in capitals (WHO, US, IT are names)."""
    return word.lower() in STOPWORDS and not (len(word) > 1 and word.isupper())


def _by_partial_name(graph, question: str, tokens) -> list[dict]:
    """Runs of capitalised words (not the first word, unless it is not a
    question word) that no name matches whole, looked up by name search."""
    runs, run = [], []
    for index, (start, end, word) in enumerate(tokens):
        capital = word[:1].isupper() and not _stopword(word)
        if capital and not (index == 0 and word.lower() in STOPWORDS):
            run.append((start, end))
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    found = []
    for run in runs:
        text = question[run[0][0] : run[-1][1]]
        wanted = set(re.findall(r"\w+", normalize_name(text)))
        try:
            hits = graph.queries.search(text, limit=5)
        except WorkbenchError:
            continue
        hits = [h for h in hits if wanted <= set(re.findall(r"\w+", normalize_name(h["match"])))]
        if len(hits) == 1:  # an abbreviation that fits several names is not a guess to make
            found.append({**hits[0], "span": (run[0][0], run[-1][1]), "how": "partial name"})
    return found


def signatures(graph) -> dict[str, set[tuple[str, str]]]:
    """relation -> the (head type, tail type) pairings the graph holds for it."""
    sig: dict[str, set[tuple[str, str]]] = {}
    for relation, head_type, tail_type in ask_support.relation_signatures(graph):
        sig.setdefault(relation, set()).add((head_type, tail_type))
    return sig


def chains_from(
    sig: dict[str, set[tuple[str, str]]], entity_type: str
) -> list[tuple[list[Step], list[str]]]:
    """Every chain of one or two relations the graph's types (``signatures``) allow
    from an entity of ``entity_type``, with the types it passes (start, [middle,] end)."""
    steps: list[tuple[Step, str, str]] = []  # (step, from type, to type)
    for relation, pairs in sig.items():
        for head_type, tail_type in pairs:
            steps.append((Step(relation, True), head_type, tail_type))
            steps.append((Step(relation, False), tail_type, head_type))
    unique: dict[tuple, tuple[list[Step], list[str]]] = {}
    for step, a, b in steps:
        if a != entity_type:
            continue
        unique[((step.relation, step.forward), b)] = ([step], [a, b])
        for second, c, d in steps:
            if c == b and not (second.relation == step.relation and second.forward != step.forward):
                key = ((step.relation, step.forward), (second.relation, second.forward), b, d)
                unique[key] = ([step, second], [a, b, d])
    return list(unique.values())


def _base_form(words: str) -> str:
    """``"lives in"`` -> ``"live in"``: the verb as a question asks it ("does X live in")."""
    first, _, rest = words.partition(" ")
    if first.endswith("s") and not first.endswith("ss") and len(first) > 3:
        first = first[:-1]
    return f"{first} {rest}".strip()


def _stem(word: str) -> str:
    """A crude stem, enough to see "make" in "makes" and "found" in "founded"."""
    word = word.lower()
    for suffix in ("ing", "ed", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:4]


def _vocabulary(relation: str, phrasings) -> set[str]:
    """Stems of the words a relation is named and written with in the documents."""
    words = relation_words(relation).split()
    for forward in (True, False):
        for phrase in phrasings.get((relation, forward), []):
            words += phrase.split()
    return {_stem(w) for w in words if w.lower() not in STOPWORDS}


def describe(chain: list[Step], types: list[str], phrasings) -> list[str]:
    """Sentences that say what the chain asks, to compare with the question."""
    x, answer = type_word(types[0]), type_word(types[-1])
    wh = "who" if answer == "person" else "where" if answer == "place" else f"which {answer}"
    if len(chain) == 1:
        step = chain[0]
        words = relation_words(step.relation)
        lines = (
            [
                f"{wh} does the {x} {_base_form(words)}?",
                f"the {x} {words} which {answer}?",
            ]
            if step.forward
            else [f"{wh} {words} the {x}?", f"which {answer} {words} the {x}?"]
        )
        for middle in phrasings.get((step.relation, step.forward), [])[:6]:
            lines.append(f"the {x} {middle} which {answer}?")
        return lines
    first, second = chain
    mid = type_word(types[1])
    a, b = relation_words(first.relation), relation_words(second.relation)
    # "the company that the person works for", "the company that makes the product"
    phrase = f"the {mid} that the {x} {a}" if first.forward else f"the {mid} that {a} the {x}"
    if second.forward:
        return [f"{wh} is {phrase} {b}?", f"{phrase} {b} which {answer}?"]
    return [f"{wh} {b} {phrase}?", f"which {answer} {b} {phrase}?"]


def ask(graph, question: str, embedder, limit: int = 20) -> Reply:
    """Answer ``question`` from the graph (see the module's docstring)."""
    question = check_question(question)
    reply = Reply(question)
    entities = find_entities(graph, question)
    if not entities:
        reply.reason = "no entity of the graph is named in the question"
        return reply
    masked = _masked(question, entities)  # "Where does the person live?"
    wanted = wanted_kind(masked)  # "Kestrel Group" asks for no group
    if wanted in ("time", "quantity"):
        reply.entity = _brief(entities[0])
        reply.reason = (
            f"the question asks for a {'date' if wanted == 'time' else 'number'}; "
            f"the graph holds entities and the relations between them"
        )
        return reply
    phrasings, sig = ask_support.relation_phrasings(graph), signatures(graph)
    ranked: list[tuple[float, dict, list[Step], str, int]] = []
    options: list[tuple[dict, list[Step], str, list[str]]] = []
    for entity in entities:
        for chain, types in chains_from(sig, entity["type"]):
            options.append((entity, chain, types[-1], describe(chain, types, phrasings)))
    if not options:
        reply.entity = _brief(entities[0])
        reply.reason = f"the graph has no relations for a {entities[0]['type']}"
        return reply
    asked = {
        _stem(w)
        for w in re.findall(r"\w+", masked)
        if w.lower() not in STOPWORDS and not any(w.lower() in c for c, _ in TYPE_CUES.values())
    }
    vocabulary = {
        r: _vocabulary(r, phrasings) for r in {s.relation for _, c, _, _ in options for s in c}
    }
    texts = [d for *_, descriptions in options for d in descriptions]
    vectors = embedder.encode([masked] + texts, batch_size=64)
    q, rest = vectors[0], vectors[1:]
    at = 0
    for entity, chain, end, descriptions in options:
        sims = rest[at : at + len(descriptions)] @ q
        at += len(descriptions)
        score = float(np.max(sims)) + _cue_bonus(wanted, end)
        if len(chain) == 2:
            score -= TWO_HOP_MARGIN
        # Words of the question that name the chain's relations ("make" for makes).
        named = sum(bool(vocabulary[s.relation] & asked) for s in chain)
        score += WORD_BONUS * named
        unnamed = len(chain) - named
        ranked.append((score, entity, chain, end, unnamed))
    ranked.sort(key=lambda r: -r[0])
    score, entity, chain, end, unnamed = ranked[0]
    reply.entity, reply.chain, reply.similarity = _brief(entity), chain, score
    # Near in meaning is not enough when the question's own words name none of the
    # relations and something else is asked ("Where was she born?" is not "lives in").
    content = bool(asked)
    if score < FLOOR or (content and unnamed == len(chain) and score < UNNAMED_FLOOR):
        reply.reason = (
            f"no relation of the graph is near the question (the nearest reading, "
            f"{_pattern(entity['name'], chain)}, scores {score:.2f})"
        )
        return reply
    # The best reading that leads somewhere, if it is nearly as good as the best and
    # uses its relation: "Which cities are in Portugal?" read the wrong way round
    # (Portugal located in?) gives way to the other direction, which answers.
    best_relations = {s.relation for s in ranked[0][2]}
    for score, entity, chain, _end, _unnamed in ranked:
        if score < ranked[0][0] - RERANK_MARGIN:
            break
        if not best_relations & {s.relation for s in chain}:
            continue  # another relation altogether is another question, not another reading
        answers = ask_support.follow(
            graph, entity["id"], [(s.relation, s.forward) for s in chain], limit
        )
        if answers:
            reply.entity, reply.chain, reply.similarity = _brief(entity), chain, score
            reply.answers = answers
            break
    if not reply.answers:
        reply.reason = f"nothing in the graph fits {_pattern(reply.entity['name'], reply.chain)}"
        return reply
    reply.confidence = min(1.0, max(0.0, score)) * max(a["confidence"] for a in reply.answers)
    reply.reason = _pattern(reply.entity["name"], reply.chain)
    return reply


def _masked(question: str, entities: list[dict]) -> str:
    """The question with each entity's words replaced by its type's noun."""
    out, last = [], 0
    for e in sorted(entities, key=lambda e: e["span"][0]):
        start, end = e["span"]
        if start < last:
            continue
        out += [question[last:start], f"the {type_word(e['type'])}"]
        last = end
    out.append(question[last:])
    return "".join(out)


def wanted_kind(question: str) -> str | None:
    """What the question asks for, from its first cue word: "person", "place",
    "company", "product", "time" or "quantity" (None when it does not say)."""
    words = [w.lower() for w in re.findall(r"\w+", question)]
    for i, word in enumerate(words):
        if word == "how" and i + 1 < len(words) and words[i + 1] in ("many", "much", "old", "long"):
            return "quantity"
        if word in ("when", "year", "date"):
            return "time"
        for kind, (cues, _) in TYPE_CUES.items():
            if word in cues:
                return kind
    return None


def _cue_bonus(wanted: str | None, end_type: str) -> float:
    """+0.1 when the question asks for the chain's end type, -0.1 when it asks
    for another type, 0 when it does not say. "Who" fits a company too ("Who
    makes the Lark S?")."""
    if wanted is None:
        return 0.0
    fits = {"person", "company"} if wanted == "person" else {wanted}
    return 0.1 if type_word(end_type) in fits else -0.1


def _pattern(name: str, chain: list[Step]) -> str:
    """``Osaka ←lives_in— ?`` / ``Fatima Iyer —works_for→ ? —based_in→ ?``: what was
    asked, in the arrows `kg path` draws (the answer is the last ?)."""
    return name + "".join(
        f" —{s.relation}→ ?" if s.forward else f" ←{s.relation}— ?" for s in chain
    )


def _brief(entity: dict) -> dict:
    return {k: entity[k] for k in ("id", "name", "type")}
