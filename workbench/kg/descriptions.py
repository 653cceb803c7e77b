"""Entities by meaning: "the company that cut 130 jobs at its factory in Geneva".

A question may name no entity at all and describe one instead. ``kg ask`` finds
such a description (a noun of an entity kind with words said of it: "the
Rotterdam-born founder", "the firm whose shares rose 18 percent", "the $499
item") and looks for the one entity of that kind the text says it of: each word
of the description is looked for in what the graph holds about an entity (the
sentences it is mentioned in, the names of the entities it is related to and
of the places around those), weighted by how rare the word is in the graph.
Numbers and capitalised words must all be there ("130", "Geneva"): a company
that cut 900 jobs in Madrid is no company of the graph, whatever else fits.

Three outcomes, so that a description is never guessed at: one entity clearly
ahead (taken), several alike (candidates: "I don't know which company you
mean"), or none (the question goes on as if there were no description).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field

from workbench.kg import journal
from workbench.kg import question_forms as forms
from workbench.kg.question_forms import common_phrases, sense_of
from workbench.kg.question_words import ADJECTIVE_ENDINGS, ADJECTIVES, AUX, NOUNS, PREPOSITIONS

# Nouns a description is built on, by the kind of entity they name: the
# question model's nouns for each kind (which only say the kind: "the company
# ..."), and roles the text gives entities, which also say something of the
# entity ("the founder": it founded something) and count among its words.
ROLES = {
    "person": "founder cofounder co-founder employee worker entrepreneur director engineer "
    "resident executive manager owner chief staffer man woman businessman businesswoman",
    "company": "employer maker manufacturer producer start-up startup carmaker outfit",
    "product": "gadget phone car machine",
}
_KINDS = {"lower": "place", "upper": "place"}  # a city, a country: places of a level
PLAIN_NOUNS = frozenset(
    [form for pairs in NOUNS.values() for pair in pairs for form in pair] + ["group", "item"]
)
_UPPER = frozenset(form for pair in NOUNS["upper"] for form in pair)
_LOWER = frozenset(form for pair in NOUNS["lower"] for form in pair)


def _plural(noun: str) -> str:
    irregular = {"man": "men", "woman": "women", "businessman": "businessmen"}
    irregular["businesswoman"] = "businesswomen"
    if noun in irregular:
        return irregular[noun]
    if noun.endswith("y") and noun[-2:-1] not in "aeiou":
        return noun[:-1] + "ies"
    return noun + ("es" if noun.endswith(("s", "x", "ch", "sh")) else "s")


_NOUN_KIND = {
    form: _KINDS.get(kind, kind) for kind, pairs in NOUNS.items() for pair in pairs for form in pair
}
_NOUN_KIND.update({"group": "company", "groups": "company", "item": "product", "items": "product"})
_PLURALS = {plural for pairs in NOUNS.values() for _, plural in pairs} | {"groups", "items"}
for _kind, _nouns in ROLES.items():
    for _noun_word in _nouns.split():
        _NOUN_KIND[_noun_word] = _NOUN_KIND[_plural(_noun_word)] = _kind
        _PLURALS.add(_plural(_noun_word))
# Words around a description that belong to the question, not to what is said
# of the entity: a subject's description ends before the question's verb
# ("Where is the firm that ... based?").
FRAME = frozenset(
    re.findall(
        r"\w+",
        "based headquartered located situated live lives reside work works employed "
        "make makes made produce build start found set up run own lead have has its "
        "their headquarters for in at of by from to do",
    )
)
_AUX = AUX | {"does", "do", "did"}
_STOP = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at to for by with from and or is are was were be been that "
        "which who whose whom where its his her their it this these those as s",
    )
)
_WORD = re.compile(r"[\w’'$]+")
MAX_MODIFIERS = 4  # words between "the" and the noun: "the Indian robotics start-up"
MAX_WORDS = 16  # a description longer than this is not one a person writes
_ENDS = frozenset(["and", "or", "but", "then", "the"])  # where a description stops
LEAD = 0.1  # the best entity's lead over the second, as a share of the best (dev: 0.02-0.1 alike)
FLOOR = 0.35  # share of the description's weight the best must hold (dev: 0.25-0.45 alike)


@dataclass
class Description:
    """A description found in a question: its characters, the kind it names
    and the words said of the entity (lower-cased; ``keys`` must all be found)."""

    span: tuple[int, int]
    kind: str
    noun: str
    words: list[str]
    keys: list[str]
    plural: bool = False


@dataclass
class Described:
    """What a description picked out: ``entity`` (one, with the span), or
    ``candidates`` (several alike); both empty when nothing fits."""

    description: Description
    entity: dict | None = None
    candidates: list[dict] = field(default_factory=list)


def find_description(question: str) -> Description | None:
    """The first "the ... NOUN ..." of the question that says something of the
    entity it names (a bare "the company" is no description)."""
    tokens = [(m.start(), m.end(), m.group()) for m in _WORD.finditer(question)]
    for i, (start, _end, word) in enumerate(tokens):
        if word.lower() != "the":
            continue
        for j in range(i + 1, min(i + 2 + MAX_MODIFIERS, len(tokens))):
            noun = _noun(tokens[j][2])
            if noun is None:
                if tokens[j][2].lower() in _ENDS | PREPOSITIONS:
                    break  # "the CEO of the company": the CEO is not said of the company
                continue
            if tokens[j][2][:1].isupper():  # "the Falcon Group": a name, known or not
                break
            before = tokens[i + 1 : j]
            after = _clause(question, tokens, j + 1)
            if after and after[0][2].lower() in _AUX:  # "the maker was founded by ...":
                after = []  # what follows is the question's, not the description's
            subject = i > 0 and tokens[i - 1][2].lower() in _AUX
            if subject:  # "Where does the founder who ... live?": the verb is not said of it
                while after and after[-1][2].lower() in FRAME:
                    after = after[:-1]
            said = [(_plain(w), w) for _, _, w in before + after]
            words = [w for w, _ in said if len(w) > 2 and w not in _STOP and w not in _NOUN_KIND]
            if not words:
                break
            # Numbers and names must all be found; a place's adjective is its place's name.
            keys = [
                ADJECTIVES.get(w, w)
                for w, raw in said
                if len(w) > 1 and (any(c.isdigit() for c in w) or raw[:1].isupper())
            ]
            words = [ADJECTIVES.get(w, w) for w in words]
            said_noun = tokens[j][2].lower()
            if said_noun not in PLAIN_NOUNS:
                words.append(said_noun)  # "the founder": it founded something
            end = (after or [tokens[j]])[-1][1]
            plural = said_noun in _PLURALS
            return Description((start, end), noun, said_noun, words, keys, plural)
        # "the" with no noun of a kind close after it: look further on
    return None


def said_beyond(graph, description: Description, names: list[str]) -> bool:
    """Whether the description says more of its entity than the ``names`` in it
    and a relation of the graph to them: "the company that cut 130 jobs in
    Geneva" does; "the company Kestrel Group", "the city where Saffron Labs is
    headquartered" do not (a chain from the name reads those). Words the graph
    never uses say nothing it could check ("the successful company in Valencia")."""
    index = _index(graph)
    named = {w for name in names for w in _words(name)}
    return any(
        w not in named
        and w not in FRAME
        and w not in _NOUN_KIND
        and (w in description.keys or bool(index.forms(w)))
        and not any(_near(w, s) for s in index.senses)
        for w in description.words + description.keys
    )


def _sense_words(relations: list[str]) -> set[str]:
    """The words English uses for the graph's kinds of relation (its names and
    their SENSES: "employees", "headquartered", "founder")."""
    words = {w for r in relations for w in re.findall(r"[a-z]+", r.lower()) if len(w) > 2}
    for relation in relations:
        found = sense_of(relation)
        if found is not None:
            parts = " ".join(found[0])
            words |= {w for w in re.findall(r"[a-z]+", parts) if len(w) > 2}
    return words


def _clause(question: str, tokens, first: int) -> list:
    """The words after a description's noun that belong to it: up to a
    punctuation mark, "and"/"or", or another "the" that starts a noun of its
    own ("the founder who met the chief executive"), at most MAX_WORDS."""
    out = []
    for k in range(first, min(len(tokens), first + MAX_WORDS)):
        start, _end, word = tokens[k]
        between = question[tokens[k - 1][1] : start]
        if any(mark in between for mark in ",;:?!()") or word.lower() in ("and", "or", "but"):
            break
        if word.lower() == "the" and any(
            _noun(w) and w[:1].islower() for _, _, w in tokens[k + 1 : k + 2 + MAX_MODIFIERS]
        ):
            break
        out.append(tokens[k])
    return out


def _noun(word: str) -> str | None:
    return _NOUN_KIND.get(word.lower())


def _plain(word: str) -> str:
    """A word as descriptions and the graph's text are compared: lower case,
    without quotes, a dollar sign or a possessive "'s"."""
    word = word.lower().replace("’", "'")
    return word.removesuffix("'s").strip("'$")


def described(graph, question: str) -> Described | None:
    """The entity a description in ``question`` picks out (see the module), or
    None when the question holds no description of one entity (a plural one,
    "the employees of Northgate", names a set, which a chain reads)."""
    description = find_description(question)
    if description is None or description.plural:
        return None
    index = _index(graph)
    found = Described(description)
    keys = list(dict.fromkeys(description.keys))
    words = [w for w in dict.fromkeys(description.words) if w not in keys][:MAX_WORDS]
    key_forms = [index.forms(k, key=True) for k in keys]
    if any(not f for f in key_forms):  # a name or number the graph never uses
        return found
    forms_of = {w: index.forms(w) for w in words + keys}
    seen = [w for w in words if forms_of[w]]
    if not seen and not keys:  # nothing the graph could hold it to: no guess
        return found
    weights = {w: index.idf(w) for w in seen + keys}
    # A word the graph never uses ("tallest") cannot be found, and counts
    # against every entity alike, at a middling weight.
    unseen = sorted(weights.values())[len(weights) // 2]
    asked = [(w, weights.get(w, unseen)) for w in words + keys]
    total = sum(w for _, w in asked)
    noun = description.noun
    level = "upper" if noun in _UPPER else "lower" if noun in _LOWER else None
    holding = {w: index.holding(f) for w, f in forms_of.items()}
    # Only the entities that hold every key, or some word when there is none.
    pool = set.intersection(*(holding[k] for k in keys)) if keys else set()
    if not keys:
        for w in seen:
            pool |= holding[w]
    scored = []
    for entity_id in pool:
        about = index.entities[entity_id]
        if about.kind != description.kind or (level and about.level not in (level, None)):
            continue
        # A description names other entities, not its own ("the founder who met
        # Ingrid Sharma" is not Ingrid Sharma).
        if about.name & set(keys):
            continue
        held = frozenset(w for w, _ in asked if entity_id in holding[w])
        # What one sentence says counts more than words scattered over several:
        # "sponsors the marathon in Lisbon", not a sponsor of a marathon that is
        # also based in Lisbon.
        together = max(
            (
                sum(x for w, x in asked if not forms_of.get(w, _NONE).isdisjoint(sentence))
                for sentence in about.sentences
            ),
            default=0.0,
        )
        share = (sum(x for w, x in asked if w in held) + together) / (2 * total)
        related = sum(not f.isdisjoint(about.related) for f in key_forms)
        scored.append((share, related, held, entity_id))
    scored.sort(key=lambda s: (-s[0], -s[1], s[3]))
    if not scored or scored[0][0] < FLOOR:
        return found
    best, _, top, _ = scored[0]
    # Alike: nearly as much of the description, and not only a part of what the
    # best holds ("Rotterdam-born" but not "founder").
    near = [(r, e) for s, r, held, e in scored if s >= best * (1 - LEAD) and not held < top]
    # Alike in words, but the names said are related to one of them in the graph
    # ("the city where Saffron Labs is headquartered": Porto, not a city it is
    # only mentioned with).
    most = max(r for r, _ in near)
    alike = [e for r, e in near if r == most]
    briefs = graph.queries.briefs(alike[:8])
    hits = [{**briefs[e], "mentions": 0} for e in alike[:8] if e in briefs]
    if len(alike) == 1 and hits:
        found.entity = {**hits[0], "span": description.span, "how": "description"}
    else:
        found.candidates = hits
    return found


_NONE: frozenset[str] = frozenset()


def _near(word: str, other: str) -> bool:
    """``other`` is ``word`` or shares its start ("founded" for "founder",
    "employs" for "employer"), four letters at least."""
    if word == other:
        return True
    if len(word) < 4 or len(other) < 4:
        return False
    return len(os.path.commonprefix([word, other])) >= max(4, min(len(word), len(other)) - 2)


def _near_key(key: str, other: str) -> bool:
    """A name or number is found as itself; a place's adjective as its place
    ("indian" for "india", "portuguese" for "portugal"), never "austin" for
    "austria" or "1300" for "13000"."""
    if key == other:
        return True
    if not key.isalpha() or not key.endswith(ADJECTIVE_ENDINGS) or len(other) < 4:
        return False
    return len(os.path.commonprefix([key, other])) >= max(4, len(other) - 2)


@dataclass
class _About:
    """What the graph holds about one entity: its kind (and, for a place, its
    level: "upper" holds others, "lower" is held), the words of its name, the
    words of the names around it, and the sentences it is in (each a set of
    words, shared with the sentence's other entities). Which entities hold a
    word at all (name, sentences, names around, roles) is the index's."""

    kind: str
    level: str | None
    name: frozenset[str]
    related: frozenset[str]
    sentences: list[frozenset[str]]


@dataclass
class _Index:
    entities: dict[int, _About]
    frequency: dict[str, int]  # how many entities hold each word
    total: int
    by_start: dict[str, list[str]]  # the words, by their first four letters
    holders: dict[str, set[int]]  # the entities that hold each word
    senses: set[str]  # the words English uses for the graph's relations

    def idf(self, word: str) -> float:
        return math.log((1 + self.total) / (1 + self.frequency.get(word, 0))) + 1.0

    def forms(self, word: str, key: bool = False) -> frozenset[str]:
        """The graph's words that count as ``word`` (``_near``, or ``_near_key``
        for a name or number); looked up among those sharing its first letters."""
        near = _near_key if key else _near
        if len(word) < 4:
            return frozenset([word]) if word in self.frequency else _NONE
        return frozenset(w for w in self.by_start.get(word[:4], []) if near(word, w))

    def holding(self, forms: frozenset[str]) -> set[int]:
        return set().union(*(self.holders.get(w, set()) for w in forms)) if forms else set()


_INDEXES: dict[str, tuple[tuple, _Index]] = {}


def _index(graph) -> _Index:
    """Built once per graph state (kept in the process until a build, a change
    of documents, a decision or an undo)."""
    state = _state(graph)
    known = _INDEXES.get(str(graph.path))
    if known is not None and known[0] == state:
        return known[1]
    index = _build(graph)
    _INDEXES[str(graph.path)] = (state, index)
    return index


def _state(graph) -> tuple:
    """What moves with every change the index reads: the journal's epoch (the
    last build and the count of document changes) and the decisions made and
    undone (ids are never reused there)."""
    return (
        journal.epoch(graph.core.conn),
        *graph.core.q(
            "SELECT (SELECT coalesce(max(id), 0) FROM decision_log), "
            "(SELECT count(*) FROM decision_log WHERE undone IS NOT NULL)"
        )[0],
    )


def _words(text: str) -> set[str]:
    return {_plain(w) for w in _WORD.findall(text)} - {""}


def _build(graph) -> _Index:
    names = {i: (t, n) for i, t, n in graph.core.q("SELECT id, type, name FROM entities")}
    own = {i: frozenset(_words(n)) for i, (_t, n) in names.items()}
    place = {i for i, (t, _n) in names.items() if forms.kind_of(t) == "place"}
    said: dict[int, set[str]] = {i: set(w) for i, w in own.items()}
    sentences: dict[int, list[frozenset[str]]] = {}
    # A sentence that names no entity ("Shares rose 18 percent.") is about the
    # entities of the sentence just before it (not the places it names).
    rows = graph.core.q(
        "SELECT s.document_id, s.position, s.text, m.entity_id FROM sentences s "
        "LEFT JOIN mentions m ON m.sentence_id = s.id ORDER BY s.document_id, s.position"
    )
    last: tuple = (None, None)  # (document, position) of the sentence read before
    before: set[int] = set()  # the entities it named
    here: set[int] = set()
    bag: frozenset[str] = frozenset()
    for document, position, text, entity_id in rows:
        if (document, position) != last:
            follows = last[0] == document and last[1] == position - 1
            before, here = (here if follows else set()), set()
            bag = frozenset(_words(text))  # one set a sentence, shared by its entities
            if entity_id is None:
                for e in before - place:
                    said[e] |= bag
                    sentences.setdefault(e, []).append(bag)
            last = (document, position)
        if entity_id is not None and entity_id in said and entity_id not in here:
            here.add(entity_id)
            said[entity_id] |= bag
            sentences.setdefault(entity_id, []).append(bag)
    neighbours: dict[int, set[int]] = {}
    level: dict[int, str] = {}
    roles: dict[int, set[str]] = {}
    nouns_of: dict[str, dict] = {}  # by relation type
    for head, kind, tail in graph.core.q("SELECT head_id, type, tail_id FROM relations"):
        neighbours.setdefault(head, set()).add(tail)
        neighbours.setdefault(tail, set()).add(head)
        if head in place and tail in place:  # a city located in a country
            level.setdefault(head, "lower")
            level[tail] = "upper"
        # The nouns English has for each end of a relation: a person who works
        # for a company is an "employee", one who founded it a "founder".
        if kind not in nouns_of:
            nouns_of[kind] = common_phrases(kind, set())[1]
        for entity_id, tail_side in ((head, False), (tail, True)):
            for singular, _plural in nouns_of[kind].get(tail_side, []):
                roles.setdefault(entity_id, set()).update(singular.replace("-", " ").split())
    related: dict[int, set[str]] = {}
    for entity_id, around in neighbours.items():
        # The names around an entity and the places around those: "the Indian
        # firm" is in Chennai, Chennai in India; "a Geneva firm's product".
        reach = set(around)
        for other in around:
            reach |= neighbours.get(other, set()) & place
        reach.discard(entity_id)
        related[entity_id] = {w for o in reach if o in own for w in own[o]}
    holders: dict[str, set[int]] = {}
    for entity_id, words in said.items():
        words |= related.get(entity_id, set()) | roles.get(entity_id, set())
        for w in words:
            holders.setdefault(w, set()).add(entity_id)
    by_start: dict[str, list[str]] = {}
    for w in holders:
        by_start.setdefault(w[:4], []).append(w)
    entities = {
        i: _About(
            forms.kind_of(names[i][0]),
            level.get(i),
            own[i],
            frozenset(related.get(i, ())),
            sentences.get(i, []),
        )
        for i in said
    }
    frequency = {w: len(ids) for w, ids in holders.items()}
    senses = _sense_words(list(nouns_of))
    return _Index(entities, frequency, len(entities), by_start, holders, senses)
