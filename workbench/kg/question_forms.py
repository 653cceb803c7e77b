"""Training questions for ``kg ask``, written from a graph's own schema.

The graph says which relations join which types (``ask_support.relation_signatures``)
and how its documents word each relation (``relation_phrasings``). From those,
this module writes questions for every chain of one to three relations, in the
forms people ask them: wh-words, ``does``/``did``/``is`` questions, statements
ending in a wh-word, the passive, "of" and possessive phrasings of a middle
entity ("the employer of the person", "the person's company"), imperatives
("list the ..."), lower case and typos. A question names its entity by its type's
noun ("Where does the person live?"), as ``kg ask`` masks the entity it found.

Questions about relations the graph does not hold (where someone was born,
a price) are written too, as the ``none`` label, so that the model learns to
say so; those whose words name one of the graph's relations are left out.

Only English grammar is built in (a few verb forms and nouns for the common
entity types); every relation, type and phrasing comes from the graph.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

from workbench.kg.normalize import relation_words

NONE = "none"  # the label of a question about no relation of the graph
MAX_HOPS = 3
NONE_SHARE = 0.1  # questions about no relation, as a share of the others (chosen on dev)
PREPOSITIONS = frozenset(["in", "at", "to", "for", "by", "of", "from", "on", "with", "into"])
AUX = frozenset(["is", "was", "are", "were", "has", "have", "had"])
# Participles and past forms the suffix rules get wrong.
IRREGULAR = {
    "made": "make",
    "built": "build",
    "bought": "buy",
    "sold": "sell",
    "led": "lead",
    "run": "run",
    "ran": "run",
    "wrote": "write",
    "written": "write",
    "held": "hold",
    "met": "meet",
    "taught": "teach",
    "grew": "grow",
    "began": "begin",
    "begun": "begin",
}
PARTICIPLE = {"make": "made", "build": "built", "buy": "bought", "sell": "sold", "lead": "led"}
PARTICIPLE.update({"write": "written", "hold": "held", "teach": "taught", "run": "run"})

# Nouns a question uses for an entity of a type (singular, plural), by the type
# names NER label sets use; "upper"/"lower" are the places a containment
# relation of the graph (a city located in a country) puts above and below.
NOUNS = {
    "person": [("person", "people"), ("individual", "individuals")],
    "company": [
        ("company", "companies"),
        ("firm", "firms"),
        ("organisation", "organisations"),
        ("organization", "organizations"),
        ("business", "businesses"),
    ],
    "product": [("product", "products"), ("device", "devices"), ("model", "models")],
    "place": [("place", "places"), ("location", "locations")],
    "lower": [("city", "cities"), ("town", "towns")],
    "upper": [("country", "countries"), ("nation", "nations"), ("region", "regions")],
}
TYPE_KINDS = {
    "person": {"PER", "PERSON", "PEOP", "PEOPLE"},
    "place": {"LOC", "GPE", "LOCATION", "CITY", "COUNTRY", "FAC"},
    "company": {"ORG", "ORGANIZATION", "ORGANISATION", "COMPANY"},
    "product": {"PRODUCT"},
}
# Relations no graph schema here is likely to hold in these words: questions
# about them teach the model to say "I don't know". {s}: the entity.
UNKNOWN = [
    "when was {s} born",
    "where was {s} born",
    "in which year was {s} born",
    "how old is {s}",
    "who is {s} married to",
    "what did {s} study",
    "which university did {s} attend",
    "where did {s} go to school",
    "what is the salary of {s}",
    "when did {s} die",
    "how tall is {s}",
    "what is the name of {s}'s dog",
    "who are the children of {s}",
    "what is the phone number of {s}",
    "how many employees does {s} have",
    "when was {s} established",
    "in what year was {s} set up",
    "what is the revenue of {s}",
    "how much is {s} worth",
    "what is the population of {s}",
    "what language is spoken in {s}",
    "what is the weather like in {s}",
    "how much does {s} cost",
    "when was {s} released",
    "what colour is {s}",
    "how big is {s}",
    "what awards has {s} won",
    "who is the mayor of {s}",
    "what is the stock price of {s}",
    "what is {s}'s email address",
    "what does {s} look like",
    "how many people visit {s} each year",
]


def kind_of(entity_type: str) -> str:
    """The noun for a type, which questions use for it: PER -> person, ORG ->
    company, LOC -> place, PRODUCT -> product; any other type lower-cased."""
    for kind, types in TYPE_KINDS.items():
        if entity_type.upper() in types:
            return kind
    return entity_type.lower()


@dataclass(frozen=True)
class Chain:
    """Relations walked from a start type: ((relation, forward), ...), with the
    types they pass (start, ..., end)."""

    steps: tuple[tuple[str, bool], ...]
    types: tuple[str, ...]

    @property
    def label(self) -> str:
        """``"PER lives_in> located_in>"``: start type, then each step."""
        return label_of(self.types[0], self.steps)


def label_of(start: str, steps) -> str:
    """The label of the chain of ``steps`` ((relation, forward) pairs) from ``start``."""
    return " ".join([start] + [f"{r}{'>' if f else '<'}" for r, f in steps])


def parse_label(label: str) -> tuple[str, list[tuple[str, bool]]]:
    """The start type and steps of a ``Chain.label``."""
    start, *steps = label.split()
    return start, [(s[:-1], s.endswith(">")) for s in steps]


def chains(signatures: list[tuple[str, str, str]], max_hops: int = MAX_HOPS) -> list[Chain]:
    """Every chain of 1..``max_hops`` relations the signatures (relation, head
    type, tail type) allow, never walking a relation straight back."""
    moves = [(r, True, h, t) for r, h, t in signatures] + [
        (r, False, t, h) for r, h, t in signatures
    ]
    found: dict[str, Chain] = {}
    frontier = [Chain((), (t,)) for t in sorted({m[2] for m in moves})]
    for _ in range(max_hops):
        grown = []
        for chain in frontier:
            for relation, forward, a, b in moves:
                if a != chain.types[-1]:
                    continue
                if chain.steps and chain.steps[-1] == (relation, not forward):
                    continue
                new = Chain(chain.steps + ((relation, forward),), chain.types + (b,))
                if new.label not in found:
                    found[new.label] = new
                    grown.append(new)
        frontier = grown
    return list(found.values())


# --------------------------------------------------------------- verb phrases


@dataclass(frozen=True)
class Phrase:
    """A verb phrase between two entities, ``subject_is_head`` telling which
    end is its subject: "works for" (head first), "hired" (tail first)."""

    words: str
    subject_is_head: bool


def _base(verb: str) -> str:
    """works -> work, founded -> found, based -> base (roughly; noise is
    tolerable in training questions)."""
    if verb in IRREGULAR:
        return IRREGULAR[verb]
    if verb.endswith("ies") and len(verb) > 4:
        return verb[:-3] + "y"
    if verb.endswith(("sses", "shes", "ches", "xes")):
        return verb[:-2]
    if verb.endswith("ed") and len(verb) > 4:
        stem = verb[:-2]
        if stem[-1] == stem[-2] and stem[-1] not in "ls":  # stopped -> stop
            return stem[:-1]
        # hired -> hire, located -> locate; founded -> found, joined -> join
        if (
            len(stem) >= 3
            and stem[-1] not in "aeiouwxy"
            and stem[-2] in "aeiou"
            and stem[-3] not in "aeiou"
        ):
            return stem + "e"
        return stem
    if verb.endswith("s") and not verb.endswith("ss") and len(verb) > 3:
        return verb[:-1]
    return verb


def _participle(base: str) -> str:
    if base in PARTICIPLE:
        return PARTICIPLE[base]
    return base + ("d" if base.endswith("e") else "ed")


@dataclass
class Verb:
    """One phrase in the forms a question needs."""

    phrase: Phrase
    aux: str | None  # "is" in "is based in"
    head: str  # the verb, or the participle after aux
    rest: str  # what follows it ("for", "in", "")
    past: bool

    @classmethod
    def of(cls, phrase: Phrase) -> Verb:
        words = phrase.words.split()
        if words[0] in AUX and len(words) > 1:
            return cls(phrase, words[0], words[1], " ".join(words[2:]), words[0] in ("was", "were"))
        past = words[0].endswith("ed") or words[0] in IRREGULAR
        return cls(phrase, None, words[0], " ".join(words[1:]), past)

    def third(self) -> str:
        """The phrase as a statement: "works for", "is based in"."""
        return self.phrase.words

    def plural(self) -> str:
        """ "work for", "are based in" (after "which people")."""
        if self.aux:
            aux = {"is": "are", "was": "were", "has": "have"}.get(self.aux, self.aux)
            return " ".join(w for w in (aux, self.head, self.rest) if w)
        verb = self.head if self.past else _base(self.head)
        return " ".join(w for w in (verb, self.rest) if w)

    def asked(self, subject: str, wh: str) -> str:
        """The object asked with a wh-word: "where does S live in", "which
        company did S found", "where is S based in"."""
        if self.aux:
            return " ".join(w for w in (wh, self.aux, subject, self.head, self.rest) if w)
        do = "did" if self.past else "does"
        return " ".join(w for w in (wh, do, subject, _base(self.head), self.rest) if w)

    def passive(self) -> str | None:
        """ "is made by", "was founded by"; None for phrases that have no passive."""
        if self.aux or self.rest or self.head in ("is", "was"):
            return None
        aux = "was" if self.past else "is"
        return f"{aux} {_participle(_base(self.head))} by"


def relation_phrases(
    relation: str, phrasings: dict[tuple[str, bool], list[str]], name_words: set[str]
) -> list[Phrase]:
    """The relation's name as a phrase ("works_for" -> "works for", "based_in" ->
    "is based in") and the document phrasings that read as one (without a
    name's words in them, at most four words)."""
    words = relation_words(relation)
    first, *rest = words.split()
    if first.endswith("ed") and rest and rest[0] in PREPOSITIONS:
        words = f"is {words}"
    found = [Phrase(words, True)]
    for forward in (True, False):
        for text in phrasings.get((relation, forward), []):
            parts = text.split()
            while parts and parts[0] in ("who", "which", "that", "and", "the", "a", "an", "s"):
                parts = parts[1:]
            while parts and parts[-1] in ("the", "a", "an"):
                parts = parts[:-1]
            if not parts or len(parts) > 4 or name_words & set(parts):
                continue
            if parts[0] in PREPOSITIONS or not re.fullmatch(r"[a-z' ]+", " ".join(parts)):
                continue
            verb = parts[0] in AUX or parts[0] in IRREGULAR or parts[0].endswith(("s", "ed"))
            if parts[-1] in PREPOSITIONS and not verb:
                parts = ["is", "the", *parts]  # "maker of" -> "is the maker of"
            elif not verb:
                continue  # a noun ("the company"), not a way of saying the relation
            elif parts[0].endswith("ed") and len(parts) > 1 and parts[1] in PREPOSITIONS:
                parts = ["is", *parts]  # "made by", "headquartered in": "is made by"
            elif parts[0] in IRREGULAR and len(parts) > 1 and parts[1] == "by":
                parts = ["is", *parts]
            phrase = Phrase(" ".join(parts), forward)
            if phrase not in found:
                found.append(phrase)
    return found


# ------------------------------------------------------------------ writing


@dataclass
class Schema:
    """What the questions are written from."""

    signatures: list[tuple[str, str, str]]
    phrases: dict[str, list[Phrase]]
    # (relation, forward) -> "upper" / "lower" / None: where a place reached by
    # that step sits in the graph's containment relation (a city, a country).
    levels: dict[tuple[str, bool], str]
    # The chains some entity of the graph walks (others are never an answer).
    walked: list[Chain] = field(default_factory=list)
    # Relations that put a place inside another (located_in): "who lives in
    # Spain" walks one to the cities in Spain.
    containers: list[str] = field(default_factory=list)

    def end_type(self, steps: list[tuple[str, bool]]) -> str | None:
        """The type a chain's last step reaches (None when the graph has two)."""
        relation, forward = steps[-1]
        ends = {t if forward else h for r, h, t in self.signatures if r == relation}
        return next(iter(ends)) if len(ends) == 1 else None

    def level(self, chain_steps: list[tuple[str, bool]]) -> str | None:
        """Where the place a chain ends at sits ("upper", "lower"), if known."""
        return self.levels.get(chain_steps[-1]) if chain_steps else None


def _nouns(entity_type: str, level: str | None = None) -> list[tuple[str, str]]:
    kind = kind_of(entity_type)
    if kind == "place":  # a place reached where the graph does not say: any word for one
        return NOUNS["place"] + (NOUNS[level] if level else NOUNS["lower"] + NOUNS["upper"])
    if kind in NOUNS:
        return NOUNS[kind]
    word = entity_type.lower()
    return [(word, word + "s")]


def _wh(
    entity_type: str, noun: str, rng: random.Random, rest: str | None = None
) -> tuple[str, str]:
    """(wh-phrase, the phrase's trailing preposition kept or dropped); ``rest``
    None when the answer is the verb's subject ("which city is in ...", never
    "where is in ...")."""
    kind = kind_of(entity_type)
    if kind == "person":
        return rng.choice(["who", "who", f"which {noun}", f"what {noun}"]), rest or ""
    if kind == "place" and rest is not None and rng.random() < 0.5:
        # "where does the person live" (in dropped); "where is the company based"
        words = rest.split()
        if words and words[-1] in ("in", "at", "to"):
            words = words[:-1]
        return "where", " ".join(words)
    if kind == "product" and rng.random() < 0.4:
        return "what", rest or ""
    return rng.choice(["which", "what"]) + f" {noun}", rest or ""


def masked(entity_type: str) -> str:
    """An entity as ``kg ask`` masks it in a question: "the person"."""
    return f"the {kind_of(entity_type)}"


def _describe(schema: Schema, chain: Chain, rng: random.Random) -> str:
    """A phrase for the entity at the end of ``chain``: the masked start, or
    "the company that the person works for", "the person's employer"..."""
    subject = masked(chain.types[0])
    for i, step in enumerate(chain.steps):
        relation, forward = step
        noun = rng.choice(_nouns(chain.types[i + 1], schema.levels.get(step)))[0]
        verb = Verb.of(rng.choice(schema.phrases[relation]))
        # Is the entity described (the step's far end) the phrase's subject?
        far_is_subject = verb.phrase.subject_is_head != forward
        roll = rng.random()
        if roll < 0.15:
            subject = f"the {noun} of {subject}"
        elif roll < 0.25 and subject.startswith("the ") and " " not in subject[4:]:
            subject = f"{subject}'s {noun}"
        elif far_is_subject:
            that = rng.choice(
                ["that", "which", "who"]
                if kind_of(chain.types[i + 1]) == "person"
                else ["that", "which"]
            )
            subject = f"the {noun} {that} {verb.third()} {subject}"
        else:
            passive = verb.passive()
            if passive and rng.random() < 0.35:
                subject = (
                    f"the {noun} {passive.split(' ', 1)[1]} {subject}"  # "made by the company"
                )
            else:
                that = rng.choice(["that ", "which ", ""])
                subject = f"the {noun} {that}{subject} {verb.third()}"
    return subject


def _ask_last(schema: Schema, chain: Chain, subject: str, rng: random.Random) -> str:
    """A question for the last step of ``chain`` from ``subject``."""
    relation, forward = chain.steps[-1]
    end = chain.types[-1]
    singular, plural = rng.choice(_nouns(end, schema.levels.get(chain.steps[-1])))
    verb = Verb.of(rng.choice(schema.phrases[relation]))
    answer_is_subject = verb.phrase.subject_is_head != forward
    if answer_is_subject:  # "who works for S", "which companies make S"
        wh, _ = _wh(end, singular, rng)
        forms = [
            f"{wh} {verb.third()} {subject}",
            f"which {plural} {verb.plural()} {subject}",
            f"list the {plural} that {verb.plural()} {subject}",
            f"name every {singular} that {verb.third()} {subject}",
            f"tell me {wh} {verb.third()} {subject}",
            f"{verb.third()} {subject}",  # typed as keywords: "makes the product"
        ]
        passive = verb.passive()
        if passive:
            aux, participle = passive.split(" ", 1)
            forms += [f"{subject} {passive} {wh}", f"{wh} {aux} {subject} {participle}"]
        return rng.choice(forms)
    # the answer is the object: "which company does S work for"
    wh, rest = _wh(end, singular, rng, verb.rest)
    asked = Verb(verb.phrase, verb.aux, verb.head, rest, verb.past).asked(subject, wh)
    forms = [
        asked,
        asked,
        f"{subject} {verb.third()} {wh}",
        f"tell me {wh} {subject} {verb.third()}",
        f"list the {plural} {subject} {verb.third()}",
        f"{subject} {verb.third()} {singular}",  # keywords: "the person works for company"
    ]
    passive = verb.passive()
    if passive:
        forms.append(f"{wh} {passive} {subject}")  # "what is made by the company"
        forms.append(f"which {plural} are {passive.split(' ', 1)[1]} {subject}")
    return rng.choice(forms)


def _typo(text: str, rng: random.Random) -> str:
    """One slip of the keyboard in a word that is not the masked entity's."""
    words = text.split()
    index = [i for i, w in enumerate(words) if len(w) > 3 and w.isalpha()]
    if not index:
        return text
    i = rng.choice(index)
    w = words[i]
    j = rng.randrange(1, len(w) - 1)
    slip = rng.choice(["drop", "swap", "double"])
    if slip == "drop":
        w = w[:j] + w[j + 1 :]
    elif slip == "swap":
        w = w[: j - 1] + w[j] + w[j - 1] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _finish(text: str, rng: random.Random) -> str:
    """Case, punctuation and slips as people type them."""
    if rng.random() < 0.15:
        text = _typo(text, rng)
    if rng.random() < 0.6:
        text = text[:1].upper() + text[1:]
    if not text.startswith(("list", "name", "tell", "List", "Name", "Tell")) and rng.random() < 0.7:
        text += "?"
    return text


def questions(schema: Schema, per_chain: int = 30, seed: int = 0) -> list[tuple[str, str]]:
    """(question, label) pairs: ``per_chain`` for each chain the graph walks
    (distinct where the forms allow), and NONE_SHARE of that many about
    relations it lacks."""
    rng = random.Random(seed)
    out: list[tuple[str, str]] = []
    for chain in sorted(schema.walked, key=lambda c: c.label):
        prefix = Chain(chain.steps[:-1], chain.types[:-1])

        def ask(chain: Chain = chain, prefix: Chain = prefix) -> str:
            return _finish(_ask_last(schema, chain, _describe(schema, prefix, rng), rng), rng)

        out += [(text, chain.label) for text in _distinct(ask, per_chain)]
    vocabulary = {_stem(w) for p in schema.phrases.values() for ph in p for w in ph.words.split()}
    vocabulary -= {_stem(w) for w in AUX | PREPOSITIONS}
    types = sorted({t for c in schema.walked for t in c.types})
    unknown = [u for u in UNKNOWN if not vocabulary & {_stem(w) for w in re.findall(r"[a-z]+", u)}]
    if unknown and types:

        def unknown_question() -> str:
            return _finish(rng.choice(unknown).format(s=masked(rng.choice(types))), rng)

        out += [(text, NONE) for text in _distinct(unknown_question, int(NONE_SHARE * len(out)))]
    return out


def _distinct(write, wanted: int) -> list[str]:
    """Up to ``wanted`` texts from ``write()`` that differ but for case, in at most
    four tries each."""
    seen: dict[str, str] = {}
    for _ in range(wanted * 4):
        if len(seen) >= wanted:
            break
        text = write()
        seen.setdefault(text.lower(), text)
    return list(seen.values())


def _stem(word: str) -> str:
    word = word.lower()
    for suffix in ("ing", "ed", "es", "s"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            return word[: -len(suffix)][:5]
    return word[:5]


def asked_noun(question: str) -> tuple[str, str | None] | None:
    """The kind (and place level) a question's wh-phrase names: "which country"
    -> ("place", "upper"), "in what city" -> ("place", "lower"), "which firm" ->
    ("company", None); None when it names no noun ("who", "where")."""
    words = re.findall(r"[a-z]+", question.lower())
    for i, word in enumerate(words[:-1]):
        if word not in ("which", "what"):
            continue
        noun = words[i + 1]
        for key, pairs in NOUNS.items():
            if any(noun in pair for pair in pairs):
                if key in ("upper", "lower"):
                    return "place", key
                return key, None
    return None
