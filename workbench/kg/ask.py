"""``workbench kg ask "Where does Aiko Karimi live?"``: questions in plain language.

Offline, with the graph's own sentence encoder, in three steps a person can follow:

1. **Entities**: the longest word runs of the question that are an entity's
   name (or a name merged into one); then runs no whole name matches, looked up
   by name search (a surname, a company without its last word, initials), then
   a place's adjective ("Portuguese cities"); an entity described instead of
   named, by what the text says of it ("the firm whose shares rose 18 percent",
   kg/descriptions.py). A run or a description that fits several entities is
   not guessed: "I don't know which company you mean" with the candidates.
2. **Chain**: the question, the entity's words replaced by its type's noun
   ("Where does the person live?"), is read by a model trained on questions
   written from the graph's own schema (kg/question_forms.py,
   kg/question_model.py): which chain of one to three relations it asks, from
   the entity's type, or none, averaged over a few rewritings of the question
   that mean the same. A chain whose answer is not the kind the question asks
   for ("which country", "where") passes its likelihood on to the chains that
   go on from it to that kind. "I don't know" when the model says none, or
   when no chain is likely enough.
3. **Answer**: the entities at the end of that chain in the graph, each with
   its evidence sentences (or, for a triple a person accepted or reasoning
   proposed, its explanation); when the chain leads nowhere: "I don't know",
   with what was understood.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from workbench.errors import WorkbenchError
from workbench.kg import ask_support, question_model
from workbench.kg import question_forms as forms
from workbench.kg.descriptions import described, said_beyond
from workbench.kg.normalize import normalize_name
from workbench.kg.question_words import ADJECTIVE_ENDINGS, ADJECTIVES

MAX_QUESTION = 1000  # characters
MAX_NGRAM = 6
FLOOR = 0.3  # a chain less likely than this is no reading (chosen on the dev questions)
RUNNER_UP = 0.5  # a second reading this share of the first's probability may answer (dev)
_TOKENS = re.compile(r"[\w’'.]+")  # hyphens split: "Porto-based" names Porto
STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an the of in on at to for by with from and or is are was were be been do does did "
        "who whom whose what which where when why how that this these those there it its he she "
        "they his her their him them me my i you your we our us",
    )
)


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
    similarity: float = 0.0  # the chain's probability
    answers: list[dict] = field(default_factory=list)
    confidence: float = 0.0
    reason: str = ""
    candidates: list[dict] = field(default_factory=list)  # when the entity is unclear
    readings: list[dict] = field(default_factory=list)  # the likeliest chains
    described: str = ""  # the words that described the entity, when not named

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
            "candidates": self.candidates,
            "readings": self.readings,
            "described": self.described,
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


def find_entities(graph, question: str) -> tuple[list[dict], list[dict]]:
    """Entities named in the question, longest names first, no two overlapping:
    {"id","name","type","mentions","span": (start, end),"how"}; and, when none
    is named whole and a part fits several, those candidates."""
    tokens = [_token(question, m.start(), m.end()) for m in _TOKENS.finditer(question)]
    tokens = [t for t in tokens if t[2]]
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
    candidates: list[dict] = []
    if not found:
        found, candidates = _by_partial_name(graph, question, tokens)
    if not found and not candidates:
        found = _by_adjective(graph, tokens)
    found, candidates = _by_description(graph, question, found, candidates)
    found.sort(key=lambda e: (e["span"][0], -e["mentions"]))
    return found, candidates


def _by_description(
    graph, question: str, found: list[dict], candidates: list[dict]
) -> tuple[list[dict], list[dict]]:
    """An entity described rather than named ("the firm whose shares rose 18
    percent", kg/descriptions.py) takes the place of the names inside its
    description, which are what is said of it; several alike are candidates.
    A description that says no more than a name ("the company Kestrel Group")
    or a relation of the graph to a name in it ("the maker of the Helix Plus",
    "the city where Saffron Labs is based") is read as a chain from that name,
    and so is one of a set ("the employees of Northgate")."""
    got = described(graph, question)
    if got is None or not (got.entity or got.candidates):
        return found, candidates
    start, end = got.description.span
    inside = [e for e in found if start <= e["span"][0] and e["span"][1] <= end]
    named = [e["name"] for e in inside if e["how"] != "adjective"]  # "the Swiss city" describes
    if inside and not said_beyond(graph, got.description, named):
        return found, candidates
    outside = [e for e in found if e not in inside]
    if got.entity:
        return [*outside, got.entity], []
    return (found, candidates) if outside else ([], got.candidates)


def _token(question: str, start: int, end: int) -> tuple[int, int, str]:
    """A word's span without dots around it or a possessive ("Iyer's" -> Iyer,
    so the masked question keeps "'s": "the person's employer")."""
    while start < end and question[start] == ".":
        start += 1
    while end > start and question[end - 1] == ".":
        end -= 1
    if question[start:end].lower().endswith(("'s", "’s")):
        end -= 2
    elif end > start and question[end - 1] in "'’":
        end -= 1
    return start, end, question[start:end]


def _stopword(word: str) -> bool:
    """A function word, unless written in capitals (WHO, US, IT are names)."""
    return word.lower() in STOPWORDS and not (len(word) > 1 and word.isupper())


def _runs(question: str, tokens, capitals: bool) -> list[list[tuple[int, int, str]]]:
    """Runs of words that may be part of a name: capitalised ones (not a first
    question word), or, with ``capitals`` False, any that is not a function word."""
    runs, run = [], []
    for index, (start, end, word) in enumerate(tokens):
        initial = len(word) == 1 and word.isupper() and question[end : end + 1] == "."
        if capitals:
            fits = initial or (word[:1].isupper() and not _stopword(word))
            fits = fits and not (index == 0 and word.lower() in STOPWORDS)
        else:
            fits = not _stopword(word) and word.lower() not in _COMMON
        if fits:
            run.append((start, end, word))
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    return runs


def _fits(asked: list[str], name: str) -> bool:
    """Every word asked is a word of the name, or a letter and a dot for one
    (initials): "Karimi" and "A. Karimi" fit "Aiko Karimi"; "Northgate
    Analytics" fits "Northgate Analytics Group"."""
    words = re.findall(r"\w+", normalize_name(name))
    return all(a in words or (len(a) == 1 and any(w.startswith(a) for w in words)) for a in asked)


def _by_partial_name(graph, question: str, tokens) -> tuple[list[dict], list[dict]]:
    """Runs no whole name matches, looked up by name search, capitalised runs
    first (then any, for a question typed in lower case); a run that fits one
    entity names it, one that fits several gives candidates."""
    candidates: list[dict] = []
    for capitals in (True, False):
        found = []
        for run in _runs(question, tokens, capitals):
            # The longest part of the run that fits a name: "Where is Northgate
            # Analytics headquartered" -> "northgate analytics".
            for size in range(min(len(run), MAX_NGRAM), 0, -1):
                hit = None
                for i in range(len(run) - size + 1):
                    part = run[i : i + size]
                    asked = [w.lower() for _, _, w in part]
                    if all(len(a) == 1 for a in asked):
                        continue
                    text = question[part[0][0] : part[-1][1]]
                    try:
                        hits = graph.queries.search(text, limit=8)
                    except WorkbenchError:
                        continue
                    hits = [h for h in hits if _fits(asked, h["match"]) or _fits(asked, h["name"])]
                    if len(hits) == 1:
                        span = _span(run, i, i + size - 1, hits[0]["name"])
                        hit = {**hits[0], "span": span, "how": "partial name"}
                        break
                    if len(hits) > 1 and not candidates:
                        candidates = hits
                if hit:
                    found.append(hit)
                    break
        if found:
            return found, []
    # A slip of the keyboard in a name ("Karimy", "Northgaet Analytics") may name
    # one entity where a part of it ("Analytics") fitted several.
    found, near = _by_fuzzy_name(graph, question, tokens)
    return (found, []) if found else ([], candidates or near)


def _by_adjective(graph, tokens) -> list[dict]:
    """A place named by its adjective ("Portuguese cities", "Swiss firms"): the
    one place whose name shares the longest start (four letters or more) with
    a capitalised word ending as such adjectives do, or an irregular one."""
    for start, end, word in tokens:
        lower = word.lower()
        if not word[:1].isupper() or _stopword(word) or len(lower) < 5:
            continue
        if lower in ADJECTIVES:
            hits = graph.queries.by_name(normalize_name(ADJECTIVES[lower]))
        elif lower.endswith(ADJECTIVE_ENDINGS):
            try:
                hits = graph.queries.search(lower[:4], limit=20)
            except WorkbenchError:
                continue
            shared = {
                h["id"]: len(os.path.commonprefix([lower, normalize_name(h["name"])])) for h in hits
            }
            hits = [h for h in hits if shared[h["id"]] >= 4]
            best = max((shared[h["id"]] for h in hits), default=0)
            hits = [h for h in hits if shared[h["id"]] == best]
        else:
            continue
        hits = [h for h in hits if forms.kind_of(h["type"]) == "place"]
        if len(hits) == 1:
            return [{**hits[0], "span": (start, end), "how": "adjective"}]
    return []


def _span(run, first: int, last: int, name: str) -> tuple[int, int]:
    """The characters of ``run[first..last]``, with the words beside it that are
    the name's, slips and all ("bolt motros"): the name is not left in the question."""
    while first > 0 and _near(run[first - 1][2].lower(), name):
        first -= 1
    while last + 1 < len(run) and _near(run[last + 1][2].lower(), name):
        last += 1
    return run[first][0], run[last][1]


def _by_fuzzy_name(graph, question: str, tokens) -> tuple[list[dict], list[dict]]:
    """Capitalised runs (then any) whose every word of four letters or more is one
    edit from a word of one entity's name (found by the name search on the
    words' first three letters)."""
    for capitals in (True, False):
        for run in _runs(question, tokens, capitals):
            asked = [w.lower() for _, _, w in run if len(w) >= 4]
            if not asked:
                continue
            try:
                hits = graph.queries.search(" ".join(a[:3] for a in asked), limit=20)
            except WorkbenchError:
                continue
            fits = [h for h in hits if all(_near(a, h["name"]) for a in asked)]
            if len(fits) == 1:
                return [{**fits[0], "span": (run[0][0], run[-1][1]), "how": "fuzzy name"}], []
            if len(fits) > 1:
                return [], fits
    return [], []


def _near(word: str, name: str) -> bool:
    """``word`` is a word of ``name``, or (four letters or more) one insertion,
    deletion, substitution or swap from one."""
    for w in re.findall(r"\w+", normalize_name(name)):
        if w == word or (len(word) >= 4 and abs(len(w) - len(word)) <= 1 and _one_edit(word, w)):
            return True
    return False


def _one_edit(a: str, b: str) -> bool:
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        return len(diff) == 1 or (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    if len(a) > len(b):
        a, b = b, a
    return any(a == b[:i] + b[i + 1 :] for i in range(len(b)))


# Words of questions that are not names, looked up only when capitalised.
_COMMON = frozenset(
    re.findall(
        r"\w+",
        "live lives living lived reside resides home work works working worked employ employs "
        "employed employer employee employees found founded founder started start set up based "
        "headquartered headquarters located make makes made maker produce produces company "
        "companies firm city country place town people person product products list name tell "
        "me all every everyone s",
    )
)


def ask(graph, question: str, embedder, limit: int = 20) -> Reply:
    """Answer ``question`` from the graph (see the module's docstring)."""
    question = check_question(question)
    reply = Reply(question)
    entities, candidates = find_entities(graph, question)
    if not entities:
        if candidates:
            reply.candidates = [_brief(c) for c in candidates]
            names = ", ".join(c["name"] for c in candidates[:5])
            kinds = {forms.kind_of(c["type"]) for c in candidates}
            which = kinds.pop() if len(kinds) == 1 else "one"
            reply.reason = f"I don't know which {which} you mean: {names}"
        else:
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
    model, schema = question_model.for_graph(graph, embedder)
    probabilities = _read(model, embedder, masked, entities)
    none = probabilities[model.labels.index(forms.NONE)] if forms.NONE in model.labels else 0.0
    # "Which country ..." wants a place that is a country: a chain that ends at
    # another kind (or a city) is not what was asked, however likely.
    noun = forms.asked_noun(masked)
    allowed = _coerce(
        [
            (float(p), *forms.parse_label(label))
            for label, p in zip(model.labels, probabilities)
            if label != forms.NONE
        ],
        noun,
        schema,
    )
    readings = [  # (probability, entity, chain)
        (p, entity, [Step(r, f) for r, f in steps])
        for entity in entities
        for p, start, steps in allowed
        if start == entity["type"]
    ]
    if not readings:
        reply.entity = _brief(entities[0])
        reply.reason = f"the graph has no relations for a {entities[0]['type']}"
        return reply
    # Probabilities among the readings the question allows (and "none").
    total = float(sum(r[0] for r in readings) + none)
    readings = sorted(((r[0] / total, r[1], r[2]) for r in readings), key=lambda r: -r[0])
    none /= total
    p, entity, chain = readings[0]
    reply.entity, reply.chain, reply.similarity = _brief(entity), chain, p
    reply.readings = [
        {"chain": _pattern(e["name"], c), "probability": round(q, 4)} for q, e, c in readings[:3]
    ]
    if none > p or p < FLOOR:
        reply.reason = (
            "the question asks about something the graph holds no relation for"
            if none > p
            else "no chain of the graph's relations reads like the question"
        ) + f" (the nearest reading, {_pattern(entity['name'], chain)}, {p:.0%})"
        return reply
    reply.answers = _follow(graph, entity, chain, limit)
    if not reply.answers:
        # "Who lives in Spain?": nobody lives in a country here, but in its cities.
        for wider in _through_containers(chain, schema, set(model.labels), entity["type"]):
            answers = _follow(graph, entity, wider, limit)
            if answers:
                reply.chain, chain, reply.answers = wider, wider, answers
                break
    if not reply.answers:
        # A reading nearly as likely that leads somewhere ("set up" read as works_for
        # first, founded a close second).
        for q, other, second in readings[1:]:
            if q < RUNNER_UP * p:
                break
            answers = _follow(graph, other, second, limit)
            if answers:
                entity, chain, p = other, second, q
                reply.entity, reply.chain, reply.similarity = _brief(other), second, q
                reply.answers = answers
                break
    if not reply.answers:
        reply.reason = f"nothing in the graph fits {_pattern(entity['name'], chain)}"
        return reply
    reply.confidence = p * max(a["confidence"] for a in reply.answers)
    reply.reason = _pattern(entity["name"], chain)
    if entity.get("how") == "description":
        start, end = entity["span"]
        reply.described = question[start:end]
        reply.reason += f", {entity['name']} being “{reply.described}”"
    return reply


def _read(model, embedder, masked: str, entities: list[dict]):
    """The model's probabilities for the masked question, averaged over small
    rewritings of it that mean the same: as typed, without its closing
    punctuation, and with the entity called by another noun of its kind ("the
    individual", "the firm"), so that a reading does not hang on one of them."""
    variants = [masked, re.sub(r"[?.!\s]+$", "", masked)]
    kind = forms.kind_of(entities[0]["type"])
    other = [noun for noun, _ in forms.NOUNS.get(kind, []) if noun != kind][:1]
    if other:
        variants.append(masked.replace(forms.masked(entities[0]["type"]), f"the {other[0]}", 1))
    return model.probabilities(embedder.encode(variants)).mean(axis=0)


def _follow(graph, entity: dict, chain: list[Step], limit: int) -> list[dict]:
    """The answers at the end of ``chain`` from ``entity`` (ask_support.follow)."""
    return ask_support.follow(graph, entity["id"], [(s.relation, s.forward) for s in chain], limit)


def _coerce(readings: list, noun, schema) -> list:
    """The (probability, start, steps) readings whose answer is the kind the
    question asks for; one that is not passes its probability on to the
    shortest chains that go on from it to that kind ("What country does the
    product come from?" reads makes< and asks for a country: makes< based_in>
    located_in>)."""
    fits = [_fits_noun(noun, steps, schema) for _, _, steps in readings]
    moved = [0.0] * len(readings)
    for (p, start, steps), ok in zip(readings, fits):
        if ok:
            continue
        longer = [
            i
            for i, (_, s, other) in enumerate(readings)
            if fits[i] and s == start and len(other) > len(steps) and other[: len(steps)] == steps
        ]
        if longer:
            shortest = min(len(readings[i][2]) for i in longer)
            targets = [i for i in longer if len(readings[i][2]) == shortest]
            for i in targets:
                moved[i] += p / len(targets)
    return [(p + m, s, steps) for (p, s, steps), ok, m in zip(readings, fits, moved) if ok]


def _fits_noun(noun: tuple[str, str | None] | None, steps: list[tuple[str, bool]], schema) -> bool:
    """Whether a chain ending with ``steps`` gives what ``noun`` (asked_noun) names."""
    if noun is None:
        return True
    kind, level = noun
    end = schema.end_type(steps)
    if kind == "where":  # a place, or an organisation ("where does she work")
        return end is None or forms.kind_of(end) in ("place", "company")
    if end is None or forms.kind_of(end) != kind:
        return end is None
    found = schema.level(steps)
    return level is None or found is None or found == level


def _through_containers(
    chain: list[Step], schema, labels: set[str], start: str
) -> list[list[Step]]:
    """The chain with one containment step added where a place is reached or
    left (lives_in from Spain -> located_in back to its cities, then lives_in),
    or taken out (a country's country), for the chains the graph walks."""
    found: list[list[Step]] = []
    for container in schema.containers:
        variants = [
            chain[:i] + chain[i + 1 :] for i, s in enumerate(chain) if s.relation == container
        ]
        for i in range(len(chain) + 1):
            for forward in (False, True):
                variants.append(chain[:i] + [Step(container, forward)] + chain[i:])
        for other in variants:
            label = forms.label_of(start, [(s.relation, s.forward) for s in other])
            if other and label in labels and other not in found:
                found.append(other)
    return found


def _masked(question: str, entities: list[dict]) -> str:
    """The question with each entity's words replaced by its type's noun."""
    out, last = [], 0
    for e in sorted(entities, key=lambda e: e["span"][0]):
        start, end = e["span"]
        if start < last:
            continue
        out += [question[last:start], forms.masked(e["type"])]
        last = end
    out.append(question[last:])
    return "".join(out)


def wanted_kind(question: str) -> str | None:
    """ "time" or "quantity" when the question asks for a date or a number (which
    a graph of entities does not hold), else None."""
    words = [w.lower() for w in re.findall(r"\w+", question)]
    for i, word in enumerate(words):
        if word == "how" and i + 1 < len(words) and words[i + 1] in ("many", "much", "old", "long"):
            return "quantity"
        if word in ("when", "year", "date"):
            return "time"
    return None


def _pattern(name: str, chain: list[Step]) -> str:
    """``Osaka ←lives_in— ?`` / ``Fatima Iyer —works_for→ ? —based_in→ ?``: what was
    asked, in the arrows `kg path` draws (the answer is the last ?)."""
    return name + "".join(
        f" —{s.relation}→ ?" if s.forward else f" ←{s.relation}— ?" for s in chain
    )


def _brief(entity: dict) -> dict:
    return {k: entity[k] for k in ("id", "name", "type")}
