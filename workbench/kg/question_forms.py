"""Training questions for ``kg ask``, written from a graph's own schema.

The graph says which relations join which types (``ask_support.relation_signatures``)
and how its documents word each relation (``relation_phrasings``). From those,
this module writes questions for every chain of one to three relations, in the
forms people ask them: wh-words, ``does``/``did``/``is`` questions, the perfect
and the progressive ("which firms has the person set up", "where is the person
living"), statements ending in a wh-word, the passive, "of", possessive and
reduced phrasings of a middle entity ("the employer of the person", "the
person's company", "people living in the place", "the city where the company is
based"), imperatives ("list the ...", "give me ..."), keywords ("the product
maker country"), lower case and typos. A question names its entity by its
type's noun ("Where does the person live?"), as ``kg ask`` masks the entity it found.

Half the time a relation is worded as the graph words it, half in common
English for that kind of relation (SENSES: "is employed by", "set up", "is
headquartered in"; nouns such as "employer", "founder", "residents"), picked
by the relation's name, so that questions in words the documents never use
still find their chain. One-relation chains get the most questions, three the
fewest (HOP_SHARE): the short ones are asked most and in the most ways.

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
SYNONYM_SHARE = 0.5  # of a relation's wordings, how often a common synonym (dev)
# Questions a chain of one, two, three relations gets, as shares of ``per_chain``:
# the short ones are asked most, in the most ways (dev).
HOP_SHARE = (2.5, 1.6, 0.5)
ROLE_SHARE = 0.3  # of the questions for a step a noun names, how often with the noun (dev)
PREPOSITIONS = frozenset(["in", "at", "to", "for", "by", "of", "from", "on", "with", "into"])
AUX = frozenset(["is", "was", "are", "were", "has", "have", "had"])
FUNCTION_WORDS = frozenset(["the", "a", "an", "its", "his", "her", "their", "up", "out", "over"])
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
    "went": "go",
    "took": "take",
    "set": "set",
    "has": "have",
    "had": "have",
}
NOT_PAST = frozenset(["run", "has", "have"])  # IRREGULAR forms that are not past tense
PARTICLES = frozenset(["up", "out", "down", "off", "over"])  # "set up": passive "was set up by"
PARTICIPLE = {"make": "made", "build": "built", "buy": "bought", "sell": "sold", "lead": "led"}
PARTICIPLE.update({"write": "written", "hold": "held", "teach": "taught", "run": "run"})
PARTICIPLE.update({"go": "gone", "take": "taken", "set": "set", "have": "had"})

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
    "what nationality does {s} hold",
    "what passport does {s} carry",
    "what is the religion of {s}",
    "who is the father of {s}",
    "what is the address of {s}",
    "what is the website of {s}",
    "who are the competitors of {s}",
    "how expensive is {s}",
    "what is the capital of {s}",
    "what currency is used in {s}",
    "what is {s} famous for",
    "what is the area of {s}",
    "what is the motto of {s}",
    "who designed the logo of {s}",
    "what is {s}'s favourite food",
]

# How English words a few common kinds of relation, beyond a graph's own
# relation names and evidence: general vocabulary, as a thesaurus lists it.
# Each: the word stems that name the relation head first (works_for, founder,
# lives_in) and, after "~", tail first (employs, a relation named after its
# tail's role); other phrases for it, "~" where the tail is their subject; nouns
# for its head and for its tail ("singular/plural").
SENSES: list[tuple[str, str, str, str]] = [
    (
        "work employee staff job ~employ ~employer ~hire",
        "works for|works at|is employed by|is on the payroll of|has a job at|is an employee of|"
        "is on the staff of|~employs|~hires",
        "employee/employees|staff member/staff members|worker/workers",
        "employer/employers",
    ),
    (
        "found co-found start establish launch",
        "founded|set up|started|established|co-founded|launched|created|is the founder of",
        "founder/founders|co-founder/co-founders|creator/creators",
        "",
    ),
    (
        "base headquarter seat",
        "is based in|is headquartered in|has its headquarters in|has its head office in|"
        "has its main office in|is based out of|operates from",
        "",
        "headquarters/headquarters|head office/head offices|base/bases|main office/main offices",
    ),
    (
        "live reside resident inhabit dwell",
        "lives in|resides in|is living in|is a resident of|has a home in|makes a home in|"
        "stays in|dwells in",
        "resident/residents|inhabitant/inhabitants",
        "home/homes|home city/home cities|home town/home towns|residence/residences",
    ),
    (
        "locat situat lie part ~contain ~include",
        "is located in|is in|lies in|is part of|is situated in|belongs to|~contains|~includes",
        "",
        "",
    ),
    (
        "make produce manufactur build maker",
        "makes|produces|manufactures|builds|develops|is the maker of|is the manufacturer of|"
        "~comes from",
        "maker/makers|manufacturer/manufacturers|producer/producers",
        "",
    ),
    ("own ~belong", "owns|is the owner of|~belongs to", "owner/owners", ""),
    (
        "acquir buy bought purchas",
        "acquired|bought|purchased|took over",
        "buyer/buyers|acquirer/acquirers",
        "",
    ),
    (
        "lead head run manag ceo chief direct",
        "leads|heads|runs|manages|is the head of|is in charge of|directs",
        "leader/leaders|head/heads|boss/bosses|manager/managers",
        "",
    ),
    (
        "stud attend alum graduat",
        "studied at|attended|graduated from|went to|is an alumnus of",
        "student/students|alumnus/alumni|graduate/graduates",
        "alma mater/alma maters",
    ),
    (
        "born birth native",
        "was born in|is a native of|comes from",
        "native/natives",
        "birthplace/birthplaces|place of birth/places of birth",
    ),
    ("member join", "is a member of|belongs to|joined|is part of", "member/members", ""),
    (
        "marri spouse wed husband wife",
        "is married to|is the spouse of|wed|is the partner of",
        "spouse/spouses|partner/partners",
        "spouse/spouses|partner/partners",
    ),
    (
        "wrot writ author",
        "wrote|is the author of|authored|penned",
        "author/authors|writer/writers",
        "",
    ),
    (
        "subsidiar ~parent",
        "is a subsidiary of|is owned by|is a unit of|~owns",
        "subsidiary/subsidiaries",
        "parent company/parent companies|parent/parents",
    ),
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


def _gerund(base: str) -> str:
    """live -> living, set -> setting, work -> working."""
    if base.endswith("ie"):
        return base[:-2] + "ying"
    if base.endswith("e") and not base.endswith("ee") and len(base) > 2:
        return base[:-1] + "ing"
    if (
        len(base) in (3, 4)
        and base[-1] not in "aeiouwxy"
        and base[-2] in "aeiou"
        and base[-3] not in "aeiou"
    ):
        return base + base[-1] + "ing"
    return base + "ing"


def _participle_like(word: str) -> bool:
    return word.endswith("ed") or word in IRREGULAR or word in PARTICIPLE.values()


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
        have = words[0] in ("has", "have", "had")  # "has its head office in": the verb
        if words[0] in AUX and len(words) > 1 and not (have and not _participle_like(words[1])):
            return cls(phrase, words[0], words[1], " ".join(words[2:]), words[0] in ("was", "were"))
        past = (words[0].endswith("ed") or words[0] in IRREGULAR) and words[0] not in NOT_PAST
        return cls(phrase, None, words[0], " ".join(words[1:]), past)

    def with_rest(self, rest: str) -> Verb:
        return Verb(self.phrase, self.aux, self.head, rest, self.past)

    def third(self) -> str:
        """The phrase as a statement: "works for", "is based in"."""
        return " ".join(w for w in (self.aux, self.head, self.rest) if w)

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

    def perfect(self, subject: str, wh: str) -> str | None:
        """ "which companies has S founded"; None after an auxiliary or for "has"."""
        if self.aux or self.head in ("has", "have", "had"):
            return None
        done = _participle(_base(self.head))
        return " ".join(w for w in (wh, "has", subject, done, self.rest) if w)

    def progressive(self, subject: str, wh: str) -> str | None:
        """ "where is S living"; None for a past or an auxiliary's phrase."""
        if self.aux or self.past or self.head in ("has", "have", "had"):
            return None
        return " ".join(w for w in (wh, "is", subject, _gerund(_base(self.head)), self.rest) if w)

    def reduced(self) -> str | None:
        """The phrase after a noun without "that": "living in", "based in"."""
        if self.aux:
            return f"{self.head} {self.rest}".strip() if _participle_like(self.head) else None
        if self.past or self.head in ("has", "have", "had"):
            return None
        return " ".join(w for w in (_gerund(_base(self.head)), self.rest) if w)

    def passive(self) -> str | None:
        """ "is made by", "was set up by"; None for phrases that have no passive."""
        if self.aux or self.head in ("is", "was", "has", "have", "had"):
            return None
        if self.rest and self.rest not in PARTICLES:
            return None
        aux = "was" if self.past else "is"
        return " ".join(w for w in (aux, _participle(_base(self.head)), self.rest, "by") if w)


def _sense(relation: str) -> tuple[tuple[str, str, str, str], bool] | None:
    """The SENSES entry with the longest stem that begins the relation's first
    word, and whether the relation names it tail first ("employs", "founded_by")."""
    words = [w for w in relation_words(relation).split() if w not in AUX]
    if not words:
        return None
    passive = len(words) > 1 and words[1] == "by" and _participle_like(words[0])
    best: tuple[int, tuple[str, str, str, str], bool] | None = None
    for sense in SENSES:
        for stem in sense[0].split():
            flipped = stem.startswith("~")
            stem = stem.lstrip("~")
            if words[0].startswith(stem) and (best is None or len(stem) > best[0]):
                best = (len(stem), sense, flipped != passive)
    return None if best is None else (best[1], best[2])


def common_phrases(
    relation: str, taken: set[str]
) -> tuple[list[Phrase], dict[bool, list[tuple[str, str]]]]:
    """Phrases English commonly uses for the relation (SENSES), but those in
    ``taken`` (the graph's own wordings of its relations); and nouns for the
    entity at each end, {True: the tail's ("employer"), False: the head's}."""
    found = _sense(relation)
    if found is None:
        return [], {}
    (_, phrases, heads, tails), flipped = found
    out: list[Phrase] = []
    for text in phrases.split("|"):
        words = text.lstrip("~")
        phrase = Phrase(words, text.startswith("~") == flipped)
        if words not in taken and phrase not in out:
            out.append(phrase)

    def nouns(spec: str) -> list[tuple[str, str]]:
        return [(n.split("/")[0], n.split("/")[1]) for n in spec.split("|") if n]

    head_nouns, tail_nouns = nouns(heads), nouns(tails)
    if flipped:
        head_nouns, tail_nouns = tail_nouns, head_nouns
    return out, {True: tail_nouns, False: head_nouns}


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
    # Common English for each relation beyond its own wordings (common_phrases),
    # and nouns for the entity a step reaches ("employer": works_for, forward).
    synonyms: dict[str, list[Phrase]] = field(default_factory=dict)
    roles: dict[tuple[str, bool], list[tuple[str, str]]] = field(default_factory=dict)

    def phrase(self, relation: str, rng: random.Random) -> Verb:
        """One way to word ``relation``: its own (name, documents) or, for
        SYNONYM_SHARE of the questions, a common synonym."""
        other = self.synonyms.get(relation)
        own = self.phrases[relation]
        return Verb.of(rng.choice(other if other and rng.random() < SYNONYM_SHARE else own))

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
        return "where", _where(rest)
    if kind == "company" and rest and rest.split()[-1] in ("at", "in") and rng.random() < 0.3:
        return "where", _where(rest)  # "where does the person work"
    if kind == "product" and rng.random() < 0.4:
        return "what", rest or ""
    return rng.choice(["which", "what"]) + f" {noun}", rest or ""


def _where(rest: str) -> str:
    """What follows a verb asked with "where": "where does the person live" (in
    dropped), "where is the company based"."""
    words = rest.split()
    if words and words[-1] in ("in", "at", "to"):
        words = words[:-1]
    return " ".join(words)


def masked(entity_type: str) -> str:
    """An entity as ``kg ask`` masks it in a question: "the person"."""
    return f"the {kind_of(entity_type)}"


def _simple(subject: str) -> bool:
    """ "the person", "the company": a masked entity with nothing said of it yet."""
    return subject.startswith("the ") and " " not in subject[4:]


def _describe(schema: Schema, chain: Chain, rng: random.Random) -> str:
    """A phrase for the entity at the end of ``chain``: the masked start, or
    "the company that the person works for", "the person's employer", "the
    people living in the place", "the product maker"..."""
    subject = masked(chain.types[0])
    for i, step in enumerate(chain.steps):
        relation, forward = step
        singular, plural = rng.choice(_nouns(chain.types[i + 1], schema.levels.get(step)))
        roles = schema.roles.get(step, [])
        verb = schema.phrase(relation, rng)
        many = rng.random() < 0.3  # "the people who live in ...", "the founders of ..."
        noun = plural if many else singular
        the = "" if many and rng.random() < 0.4 else "the "
        role = rng.choice(roles)[many] if roles and rng.random() < 0.6 else None
        # Is the entity described (the step's far end) the phrase's subject?
        far_is_subject = verb.phrase.subject_is_head != forward
        roll = rng.random()
        if roll < (0.2 if roles else 0.15):
            subject = f"the {role or noun} of {subject}"
        elif roll < (0.4 if roles else 0.25) and _simple(subject):
            if role and rng.random() < 0.35:
                subject = f"{subject} {role}"  # "the product maker", "the place residents"
            else:
                subject = f"{subject}'s {role or noun}"
        elif far_is_subject:
            reduced = verb.reduced()
            if reduced and rng.random() < 0.3:
                subject = f"{the}{noun} {reduced} {subject}"  # "people living in the place"
            else:
                that = rng.choice(
                    ["that", "which", "who"]
                    if kind_of(chain.types[i + 1]) == "person"
                    else ["that", "which"]
                )
                said = verb.plural() if many else verb.third()
                subject = f"{the}{noun} {that} {said} {subject}"
        else:
            passive = verb.passive()
            if passive and rng.random() < 0.35:
                by = passive.split(" ", 1)[1]
                subject = f"{the}{noun} {by} {subject}"  # "the products made by the company"
            elif kind_of(chain.types[i + 1]) == "place" and rng.random() < 0.3:
                # "the city where the company is based"
                said = verb.with_rest(_where(verb.rest)).third()
                subject = f"{the}{noun} where {subject} {said}"
            else:
                that = rng.choice(["that ", "which ", ""])
                subject = f"{the}{noun} {that}{subject} {verb.third()}"
    return subject


def _ask_role(end: str, noun: str, subject: str, role: tuple[str, str], rng: random.Random) -> str:
    """A question for the entity a noun of the relation names: "who is the
    founder of S", "name S's employer", "S manufacturer"."""
    one, many = role
    kind = kind_of(end)
    of, ofs = f"the {one} of {subject}", f"the {many} of {subject}"
    mine, mines = (f"{subject}'s {one}", f"{subject}'s {many}") if _simple(subject) else (of, ofs)
    wh = "who" if kind == "person" else rng.choice([f"which {noun}", f"what {noun}", "what"])
    forms = [
        f"{wh} is {of}",
        f"{wh} is {mine}",
        f"{'who' if kind == 'person' else 'what'} are {ofs}",
        f"name {mine}",
        f"list {mines}",
        f"list the {many} of {subject}",
        f"give me the names of {ofs}",
        f"tell me {of}",
        of,
        mine,
    ]
    if _simple(subject):
        forms.append(f"{subject} {rng.choice(role)}")  # keywords: "the product manufacturer"
    if kind == "place":
        forms += [f"where is {of}", f"{wh} is {mine} in", f"{wh} is {of} in"]
    return rng.choice(forms)


def _ask_last(schema: Schema, chain: Chain, subject: str, rng: random.Random) -> str:
    """A question for the last step of ``chain`` from ``subject``."""
    relation, forward = chain.steps[-1]
    end = chain.types[-1]
    singular, plural = rng.choice(_nouns(end, schema.levels.get(chain.steps[-1])))
    roles = schema.roles.get(chain.steps[-1], [])
    if roles and rng.random() < ROLE_SHARE:
        return _ask_role(end, singular, subject, rng.choice(roles), rng)
    verb = schema.phrase(relation, rng)
    answer_is_subject = verb.phrase.subject_is_head != forward
    passive = verb.passive()
    reduced = verb.reduced()
    if answer_is_subject:  # "who works for S", "which companies make S"
        wh, _ = _wh(end, singular, rng)
        forms = [
            f"{wh} {verb.third()} {subject}",
            f"which {plural} {verb.plural()} {subject}",
            f"list the {plural} that {verb.plural()} {subject}",
            f"name every {singular} that {verb.third()} {subject}",
            f"tell me {wh} {verb.third()} {subject}",
            f"give me the {plural} that {verb.plural()} {subject}",
            f"{verb.third()} {subject}",  # typed as keywords: "makes the product"
            f"{subject} {rng.choice([singular, plural])}",  # "the company head office city"
        ]
        if reduced:  # "list all firms headquartered in the place", "people living in"
            forms.append(
                f"{rng.choice(['list all', 'give me all', 'show me the'])} "
                f"{plural} {reduced} {subject}"
            )
        if passive:
            aux, participle = passive.split(" ", 1)
            forms += [f"{subject} {passive} {wh}", f"{wh} {aux} {subject} {participle}"]
            if kind_of(end) == "person":
                forms.append(f"{subject} {passive} whom")
        return rng.choice(forms)
    # the answer is the object: "which company does S work for"
    wh, rest = _wh(end, singular, rng, verb.rest)
    if wh.endswith(f" {singular}") and rng.random() < 0.3:
        wh = f"{wh.split()[0]} {plural}"  # "which companies did S found"
    said = verb.with_rest(rest)
    asked = said.asked(subject, wh)
    forms = [
        asked,
        asked,
        f"{subject} {said.third()} {wh}",
        f"tell me {wh} {subject} {verb.third()}",
        f"list the {plural} {subject} {verb.third()}",
        f"{subject} {verb.third()} {singular}",  # keywords: "the person works for company"
        f"{subject} {rng.choice([singular, plural])}",  # "the product maker country"
    ]
    forms += [f for f in (said.perfect(subject, wh), said.progressive(subject, wh)) if f]
    if passive:
        by = passive.split(" ", 1)[1]
        forms.append(f"{wh} {passive} {subject}")  # "what is made by the company"
        forms.append(f"which {plural} are {by} {subject}")
        forms.append(f"which {plural} have been {by} {subject}")
        forms.append(
            f"{rng.choice(['list the', 'give me every', 'show me the'])} "
            f"{plural if rng.random() < 0.6 else singular} {by} {subject}"
        )
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

        wanted = round(per_chain * HOP_SHARE[len(chain.steps) - 1])
        out += [(text, chain.label) for text in _distinct(ask, wanted)]
    wordings = [*schema.phrases.values(), *schema.synonyms.values()]
    vocabulary = {_stem(w) for p in wordings for ph in p for w in ph.words.split()}
    vocabulary -= {_stem(w) for w in AUX | PREPOSITIONS | FUNCTION_WORDS}
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
    ("company", None), "the company head office country" -> ("place", "upper"),
    "where ..." -> ("where", None) (a place or an organisation); None when it
    names no noun ("who")."""
    words = re.findall(r"[a-z]+", question.lower())
    if words and "where" in (words[0], words[-1]):  # "where is ...", "... lives where"
        return "where", None
    asked = [words[i + 1] for i, word in enumerate(words[:-1]) if word in ("which", "what")]
    if not asked and len(words) > 2 and words[0] == "the" and words[-2] != "the":
        asked = words[-1:]  # keywords ending in a noun: "the company head office country"
    for noun in asked:
        for key, pairs in NOUNS.items():
            if any(noun in pair for pair in pairs):
                if key in ("upper", "lower"):
                    return "place", key
                return key, None
    return None
