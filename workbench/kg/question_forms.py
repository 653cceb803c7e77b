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
from workbench.kg.question_words import (
    AUX,
    FUNCTION_WORDS,
    IRREGULAR,
    NOUNS,
    PREPOSITIONS,
    SENSES,
    TYPE_KINDS,
    UNKNOWN,
    Phrase,
    Verb,
    _participle_like,
)

NONE = "none"  # the label of a question about no relation of the graph
MAX_HOPS = 3
NONE_SHARE = 0.1  # questions about no relation, as a share of the others (chosen on dev)
SYNONYM_SHARE = 0.5  # of a relation's wordings, how often a common synonym (dev)
# Questions a chain of one, two, three relations gets, as shares of ``per_chain``:
# the short ones are asked most, in the most ways (dev).
HOP_SHARE = (2.5, 1.6, 0.5)
ROLE_SHARE = 0.3  # of the questions for a step a noun names, how often with the noun (dev)


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


def sense_of(relation: str) -> tuple[tuple[str, str, str, str], bool] | None:
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
    found = sense_of(relation)
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
