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

from workbench.kg import question_forms as forms
from workbench.kg.question_forms import common_phrases, sense_of
from workbench.kg.question_words import ADJECTIVES

# Nouns a description is built on, by the kind of entity they name (the
# question model's nouns and the roles the text gives entities).
ROLE_NOUNS = {
    "person": "person people individual founder cofounder co-founder employee worker "
    "entrepreneur director engineer resident executive manager owner chief staffer "
    "man woman businessman businesswoman",
    "company": "company firm organisation organization business employer maker "
    "manufacturer producer start-up startup group carmaker outfit",
    "product": "product device model item gadget phone car machine",
    "place": "place location city town country nation region",
}
# Nouns that only say the kind ("the company ..."); the others say something of
# the entity too ("the founder": it founded something) and count as its words.
PLAIN_NOUNS = frozenset(
    [
        "person",
        "people",
        "individual",
        "company",
        "firm",
        "organisation",
        "organization",
        "business",
        "group",
        "product",
        "device",
        "model",
        "item",
        "place",
        "location",
        "city",
        "town",
        "country",
        "nation",
        "region",
    ]
)
_UPPER = frozenset(["country", "countries", "nation", "nations", "region", "regions"])
_LOWER = frozenset(["city", "cities", "town", "towns"])
_NOUN_KIND = {
    noun: kind
    for kind, nouns in ROLE_NOUNS.items()
    for noun in nouns.split()
    for noun in (noun, noun + "s", noun[:-1] + "ies" if noun.endswith("y") else noun + "es")
}
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
_AUX = frozenset(["is", "are", "was", "were", "does", "do", "did", "has", "have", "had"])
_STOP = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at to for by with from and or is are was were be been that "
        "which who whose whom where its his her their it this these those as s",
    )
)
_WORD = re.compile(r"[\w’'$]+")
MAX_MODIFIERS = 4  # words between "the" and the noun: "the Indian robotics start-up"
LEAD = 0.1  # the best entity's lead over the second, as a share of the best (dev: 0.02-0.1 alike)
FLOOR = 0.5  # share of the description's weight the best must hold (dev: 0.4-0.6 alike)


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
                continue
            if tokens[j][2][:1].isupper():  # "the Falcon Group": a name, known or not
                break
            before = tokens[i + 1 : j]
            after = tokens[j + 1 :]
            if (
                after and after[0][2].lower() in _AUX
            ):  # "the maker was founded by ...": the question's
                after = []
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
            if said_noun not in PLAIN_NOUNS and said_noun.rstrip("s") not in PLAIN_NOUNS:
                words.append(said_noun)  # "the founder": it founded something
            end = (after or [tokens[j]])[-1][1]
            plural = said_noun == "people" or said_noun not in ROLE_NOUNS[noun].split()
            return Description((start, end), noun, said_noun, words, keys, plural)
        # "the" with no noun of a kind close after it: look further on
    return None


def said_beyond(description: Description, names: list[str], relations: list[str]) -> bool:
    """Whether the description says more of its entity than the ``names`` in it
    and a relation of the graph (of the types ``relations``) to them: "the
    company that cut 130 jobs in Geneva" does; "the company Kestrel Group",
    "the city where Saffron Labs is headquartered" do not (a chain from the
    name reads those)."""
    named = {w for name in names for w in _words(name)}
    senses = _sense_words(relations)
    return any(
        w not in named
        and w not in FRAME
        and w not in _NOUN_KIND
        and not any(_present(w, frozenset([s])) for s in senses)
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


def _noun(word: str) -> str | None:
    return _NOUN_KIND.get(word.lower())


def _plain(word: str) -> str:
    """A word as descriptions and the graph's text are compared: lower case,
    without quotes, a dollar sign or a possessive "'s"."""
    word = word.lower().replace("’", "'")
    return word.removesuffix("'s").strip("'$")


def described(graph, question: str) -> Described | None:
    """The entity a description in ``question`` picks out (see the module), or
    None when the question holds no description."""
    description = find_description(question)
    if description is None:
        return None
    index = _index(graph)
    found = Described(description)
    keys = set(description.keys)
    # A word the graph never uses tells no entity from another ("tipping").
    asked = [w for w in description.words if w in keys or index.seen(w)]
    weights = [index.idf(w) for w in asked]
    noun = description.noun
    level = "upper" if noun in _UPPER else "lower" if noun in _LOWER else None
    scored = []
    for entity_id, about in index.entities.items():
        if about.kind != description.kind or (level and about.level not in (level, None)):
            continue
        # A description names other entities, not its own ("the founder who met
        # Ingrid Sharma" is not Ingrid Sharma).
        if keys & about.name or not all(_present(k, about.words) for k in keys):
            continue
        held = frozenset(word for word in asked if _present(word, about.words))
        share = 1.0  # nothing but names and numbers, all found
        if weights:
            # What one sentence says counts more than words scattered over
            # several: "sponsors the marathon in Lisbon", not a sponsor of a
            # marathon that is also based in Lisbon.
            together = max(
                (
                    _share(asked, weights, lambda w, b=bag: _present(w, b))
                    for bag in about.sentences
                ),
                default=0.0,
            )
            share = (_share(asked, weights, held.__contains__) + together) / 2
        related = sum(_present(k, about.related) for k in keys)
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


def _share(asked: list[str], weights: list[float], holds) -> float:
    """The weight of the asked words ``holds`` accepts, as a share of all."""
    return sum(w for word, w in zip(asked, weights) if holds(word)) / sum(weights)


def _present(word: str, words: frozenset[str]) -> bool:
    """``word`` or a word sharing its start ("founded" for "founder", "India"
    for "Indian") is among ``words``."""
    if word in words:
        return True
    if len(word) < 4:
        return False
    for other in words:
        if len(other) >= 4:
            shared = len(os.path.commonprefix([word, other]))
            if shared >= max(4, min(len(word), len(other)) - 2):
                return True
    return False


@dataclass
class _About:
    """What the graph holds about one entity: its kind (and, for a place, its
    level: "upper" holds others, "lower" is held), the words of its name, of the
    sentences it is in and of the names around it, and those names alone."""

    kind: str
    level: str | None
    name: frozenset[str]
    words: frozenset[str]
    related: frozenset[str]
    sentences: list[frozenset[str]]


@dataclass
class _Index:
    entities: dict[int, _About]
    frequency: dict[str, int]
    total: int

    def idf(self, word: str) -> float:
        return math.log((1 + self.total) / (1 + self.frequency.get(word, 0))) + 1.0

    def seen(self, word: str) -> bool:
        return word in self.frequency


_INDEXES: dict[str, tuple[tuple, _Index]] = {}


def _index(graph) -> _Index:
    """Built once per graph state (kept in the process while the graph's
    entities, mentions and relations are unchanged)."""
    state = tuple(
        graph.core.q(
            "SELECT (SELECT max(id) FROM mentions), (SELECT count(*) FROM mentions), "
            "(SELECT max(id) FROM relations), (SELECT count(*) FROM relations), "
            "(SELECT count(*) FROM merges)"
        )[0]
    )
    known = _INDEXES.get(str(graph.path))
    if known is not None and known[0] == state:
        return known[1]
    index = _build(graph)
    _INDEXES[str(graph.path)] = (state, index)
    return index


def _words(text: str) -> set[str]:
    return {_plain(w) for w in _WORD.findall(text)} - {""}


def _build(graph) -> _Index:
    names = {i: (t, n) for i, t, n in graph.core.q("SELECT id, type, name FROM entities")}
    own = {i: _words(n) for i, (_t, n) in names.items()}
    said: dict[int, set[str]] = {i: set(w) for i, w in own.items()}
    sentences: dict[int, list[frozenset[str]]] = {}
    # A sentence that names no entity ("Shares rose 18 percent.") is about the
    # entities of the sentence before it.
    rows = graph.core.q(
        "SELECT s.document_id, s.position, s.text, m.entity_id FROM sentences s "
        "LEFT JOIN mentions m ON m.sentence_id = s.id ORDER BY s.document_id, s.position"
    )
    previous: tuple[int, int, set[int]] = (-1, -1, set())
    current: tuple[int, int, set[int]] = (-1, -1, set())
    for document, position, text, entity_id in rows:
        if (document, position) != current[:2]:
            if current[2]:
                previous = current
            current = (document, position, set())
            if entity_id is None and previous[0] == document:
                for e in previous[2]:
                    if e in said:
                        said[e] |= _words(text)
                        sentences.setdefault(e, []).append(frozenset(_words(text)))
        if entity_id is not None and entity_id in said and entity_id not in current[2]:
            current[2].add(entity_id)
            said[entity_id] |= _words(text)
            sentences.setdefault(entity_id, []).append(frozenset(_words(text)))
    neighbours: dict[int, set[int]] = {}
    place = {i for i, (t, _n) in names.items() if forms.kind_of(t) == "place"}
    level: dict[int, str] = {}
    roles: dict[int, set[str]] = {}
    nouns_of: dict[str, dict] = {}
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
        nouns = nouns_of[kind]
        for entity_id, tail_side in ((head, False), (tail, True)):
            for singular, _plural in nouns.get(tail_side, []):
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
    frequency: dict[str, int] = {}
    for entity_id in said:
        said[entity_id] |= related.get(entity_id, set()) | roles.get(entity_id, set())
        for w in said[entity_id]:
            frequency[w] = frequency.get(w, 0) + 1
    entities = {
        i: _About(
            forms.kind_of(names[i][0]),
            level.get(i),
            frozenset(own[i]),
            frozenset(said[i]),
            frozenset(related.get(i, ())),
            sentences.get(i, []),
        )
        for i in said
    }
    return _Index(entities, frequency, len(entities))
