"""The words ``question_forms`` writes questions with: function words, irregular
verbs, nouns for entity types, questions no graph answers, the common senses of
relation names with their synonyms, and the verb phrases built from them (tense,
passive, participles)."""

from __future__ import annotations

from dataclasses import dataclass

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


# How adjectives of places end ("Portuguese", "Indian", "Swedish"), and common
# ones that do not start as their place's name does.
ADJECTIVE_ENDINGS = ("ese", "an", "ish", "i", "ic")
ADJECTIVES = {
    "swiss": "switzerland",
    "french": "france",
    "dutch": "netherlands",
    "spanish": "spain",
    "british": "united kingdom",
    "greek": "greece",
    "irish": "ireland",
    "welsh": "wales",
    "danish": "denmark",
    "finnish": "finland",
    "polish": "poland",
    "turkish": "turkey",
}
