"""Write the bundled demo datasets under data/demo/ (deterministic; rerun to regenerate).

Everything here is synthetic and the project's own: English sentences built
from templates with invented people, organisations and products and real place
names (NER, BIO tags PER / ORG / LOC / PRODUCT), and short invented product
reviews labelled negative / neutral / positive (classification). A share of
the names is held out of training so the test split measures generalisation;
a few long sentences exercise the windowing of long inputs.

Relations (relations/*.jsonl): sentences from the same name pools, with the
same names held out, with their entities as token spans and the directed
relations between them (works_for, founded, based_in, lives_in, located_in,
makes); the other pairs are no_relation. The corpus (corpus/*.txt, the same
documents in corpus.jsonl): about 40 short news stories in plain prose about one
small invented world whose facts recur across stories; corpus_facts.json lists
that world's facts, each stated in at least one story, to check a knowledge
graph built from the corpus against.

    python scripts/demo_data.py
"""

from __future__ import annotations

import csv
import json
import random
import re
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "data" / "demo"

FIRST = [
    "Maria",
    "Jonas",
    "Aiko",
    "Kwame",
    "Elena",
    "Tomasz",
    "Priya",
    "Lars",
    "Fatima",
    "Diego",
    "Ingrid",
    "Mateo",
    "Yusuf",
    "Chloe",
    "Rahul",
    "Sofia",
    "Henrik",
    "Amara",
    "Luca",
    "Mei",
    "Olga",
    "Tariq",
    "Nadia",
    "Pieter",
    "Leila",
    "Bruno",
    "Hana",
    "Emeka",
    "Clara",
    "Viktor",
    "Zara",
    "Anders",
    "Ines",
    "Kenji",
    "Marta",
    "Samuel",
    "Freya",
    "Omar",
    "Lucia",
    "Ravi",
]
LAST = [
    "Lindqvist",
    "Okafor",
    "Tanaka",
    "Mensah",
    "Petrova",
    "Kowalski",
    "Sharma",
    "Eriksen",
    "Haddad",
    "Alvarez",
    "Berg",
    "Rossi",
    "Demir",
    "Dubois",
    "Iyer",
    "Moreau",
    "Novak",
    "Adeyemi",
    "Conti",
    "Zhang",
    "Ivanova",
    "Rahman",
    "Farouk",
    "de Vries",
    "Karimi",
    "Santos",
    "Sato",
    "Nwosu",
    "Weber",
    "Horvat",
    "Malik",
    "Holm",
    "Ferreira",
    "Mori",
    "Garcia",
    "Osei",
    "Nilsson",
    "Aziz",
    "Romano",
    "Patel",
    "Ford",
    "Lisbon",
]
ORG_HEAD = [
    "Kestrel",
    "Nordwind",
    "Halvorsen",
    "Bluefin",
    "Aldous",
    "Corvid",
    "Meridian",
    "Tessellate",
    "Ironbark",
    "Quillon",
    "Marlowe",
    "Saffron",
    "Brightwater",
    "Obsidian",
    "Lumen",
    "Harrow",
    "Verdant",
    "Copperline",
    "Northgate",
    "Altamira",
    "Ford",
    "Lisbon",
]
ORG_TAIL = [
    ["Analytics"],
    ["Logistics"],
    ["Bank"],
    ["Capital", "Partners"],
    ["Group"],
    ["Systems"],
    ["Foods"],
    ["Energy"],
    ["Analytics", "Group"],
    ["Motors"],
    ["Health"],
    ["Labs"],
    ["Insurance"],
    ["Media"],
    ["Robotics"],
    ["Pharma"],
]
CITIES = [
    "Porto",
    "Lisbon",
    "Oslo",
    "Nairobi",
    "Osaka",
    "Krakow",
    "Pune",
    "Lagos",
    "Lyon",
    "Monterrey",
    "Bergen",
    "Turin",
    "Izmir",
    "Accra",
    "Hamburg",
    "Valencia",
    "Busan",
    "Cape Town",
    "Rotterdam",
    "Montreal",
    "Sao Paulo",
    "Kuala Lumpur",
    "Geneva",
    "Austin",
    "Tbilisi",
    "Leeds",
    "Chennai",
    "Perth",
    "Cork",
    "Seville",
]
COUNTRIES = [
    "Portugal",
    "Norway",
    "Kenya",
    "Japan",
    "Poland",
    "India",
    "Nigeria",
    "France",
    "Mexico",
    "Italy",
    "Turkey",
    "Ghana",
    "Germany",
    "Spain",
    "South Korea",
    "Canada",
    "Brazil",
    "Malaysia",
    "Switzerland",
    "Georgia",
    "Ireland",
    "Chile",
    "Vietnam",
]
PRODUCT_HEAD = [
    "Aurora",
    "Quill",
    "Nimbus",
    "Vela",
    "Orbit",
    "Sable",
    "Pico",
    "Tundra",
    "Helix",
    "Lark",
    "Cinder",
    "Atlas",
    "Mosaic",
    "Zephyr",
    "Fable",
    "Ember",
]
PRODUCT_TAIL = [
    ["X2"],
    ["Pro"],
    ["Mini"],
    ["3"],
    ["Air"],
    ["Max"],
    ["One"],
    ["S"],
    ["Lite"],
    ["Studio"],
    ["2.0"],
    ["Plus"],
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

# Templates: {PER} {ORG} {LOC} {PRODUCT} {CITY} {COUNTRY} fill with entities, {KIND:Words}
# is a fixed entity (the same name as a person, a company or a car); {DAY}, {NUM} and
# {YEAR} fill with plain words. Tokens are separated by spaces, punctuation included.
TEMPLATES = [
    "{PER} , chief executive of {ORG} , said on {DAY} that the company will open an office in "
    "{LOC} .",
    "{ORG} hired {PER} as head of research .",
    "Shares of {ORG} rose {NUM} percent after the launch of the {PRODUCT} .",
    "{PER} visited {LOC} last week to meet officials from {ORG} .",
    "The {PRODUCT} will go on sale in {COUNTRY} in the spring , {ORG} said .",
    "{ORG} agreed to buy {ORG} for {NUM} million euros .",
    "{PER} and {PER} founded {ORG} in {CITY} in {YEAR} .",
    "Analysts at {ORG} expect the {PRODUCT} to outsell its rivals .",
    "{PER} told reporters in {LOC} that talks with {ORG} had stalled .",
    "A spokesperson for {ORG} declined to comment .",
    "Dr. {PER} presented the results at a conference in {LOC} .",
    "{ORG} recalled {NUM} thousand units of the {PRODUCT} on {DAY} .",
    "The mayor of {CITY} , {PER} , opened the new {ORG} plant .",
    "{PER} , who joined {ORG} in {YEAR} , will step down next month .",
    "Flights between {LOC} and {LOC} were cancelled on {DAY} .",
    "{ORG} moved its headquarters from {LOC} to {LOC} .",
    "Reviewers praised the battery life of the {PRODUCT} .",
    "{PER} of {ORG} said demand in {COUNTRY} remained strong .",
    "{ORG} and {ORG} will jointly develop the {PRODUCT} .",
    "In {CITY} , {PER} unveiled the {PRODUCT} to a crowd of investors .",
    "The {PRODUCT} , made by {ORG} , costs {NUM} dollars .",
    "{PER} said the {PRODUCT} would be assembled in {LOC} .",
    "Regulators in {COUNTRY} fined {ORG} {NUM} million euros .",
    "{PER} left {ORG} to join {ORG} as finance director .",
    "Police in {CITY} arrested a man on {DAY} , {PER} said .",
    "{ORG} reported a loss of {NUM} million in {YEAR} .",
    "Customers in {LOC} queued overnight for the {PRODUCT} .",
    "{PER} was born in {LOC} and studied in {LOC} .",
    "The board of {ORG} elected {PER} as chair .",
    "Sales of the {PRODUCT} fell in {COUNTRY} , according to {ORG} .",
    "{PER} met {PER} in {LOC} on {DAY} .",
    "{ORG} opened a research lab in {CITY} , {COUNTRY} .",
    "Engineers at {ORG} spent {NUM} months building the {PRODUCT} .",
    "{PER} thanked the people of {LOC} for their support .",
    "The {PRODUCT} replaces the older {PRODUCT} .",
    "{ORG} said {PER} would lead its expansion into {COUNTRY} .",
    "Heavy rain closed roads across {LOC} on {DAY} .",
    "Investors in {ORG} welcomed the appointment of {PER} .",
    "{PER} , a former {ORG} executive , now advises {ORG} .",
    "Trading in {ORG} shares was halted in {CITY} .",
    "the {PRODUCT} sold out within hours , {PER} said .",
    "{PER} plans to run for office in {LOC} .",
    "{ORG} cut {NUM} jobs at its factory in {LOC} .",
    "Visitors to {CITY} can try the {PRODUCT} at the {ORG} store .",
    "{PER} criticised {ORG} for delays to the {PRODUCT} .",
    "{COUNTRY} and {COUNTRY} signed a trade agreement in {CITY} .",
    "The {PRODUCT} is the first phone {ORG} has built in {COUNTRY} .",
    "{PER} said on {DAY} she would leave {LOC} .",
    "{ORG} sponsors the marathon in {CITY} every year .",
    "{PER} , the {ORG} founder , sold {NUM} percent of the company .",
    "Prices rose sharply in {COUNTRY} last quarter .",
    "The weather stayed mild for most of the week .",
    "Officials said the meeting would resume on {DAY} .",
    "Nobody was hurt in the incident , police said .",
    "The company expects growth to slow next year .",
    "markets were quiet ahead of the holiday .",
    "{PER} scored twice as {ORG} beat {ORG} .",
    "{ORG} fans travelled from {LOC} to watch the final .",
    "A new bridge will link {LOC} with {LOC} by {YEAR} .",
    "{PER} wrote a book about growing up in {LOC} .",
    "{ORG} uses the {PRODUCT} in its {CITY} warehouse .",
    "{PER} ( {ORG} ) and {PER} ( {ORG} ) shared the prize .",
    "{ORG:Ford} said the {PRODUCT} would ship in {COUNTRY} .",
    "{PER} drove a {PRODUCT:Ford} to {LOC} .",
    "{PER} joined {ORG:Lisbon_Capital_Partners} after years in {LOC:Lisbon} .",
]
CLAUSE_JOINERS = [", while", ", and", "; meanwhile ,", ", although", "; separately ,"]


def pools(rng: random.Random):
    """Split each name pool into shared names and names held out for test only."""
    out = {}
    for key, items in {
        "first": FIRST,
        "last": LAST,
        "org": ORG_HEAD,
        "city": CITIES,
        "country": COUNTRIES,
        "product": PRODUCT_HEAD,
    }.items():
        items = list(items)
        rng.shuffle(items)
        cut = max(2, int(len(items) * 0.3))
        out[key] = {"test": items, "train": items[cut:]}
    return out


def entity(kind: str, split: str, rng: random.Random, p) -> tuple[list[str], str]:
    side = "test" if split == "test" else "train"
    if kind == "PER":
        last = rng.choice(p["last"][side]).split()
        words = last if rng.random() < 0.15 else rng.choice(p["first"][side]).split() + last
        return words, "PER"
    if kind == "ORG":
        return [rng.choice(p["org"][side])] + rng.choice(ORG_TAIL), "ORG"
    if kind == "PRODUCT":
        return [rng.choice(p["product"][side])] + rng.choice(PRODUCT_TAIL), "PRODUCT"
    if kind == "CITY" or (kind == "LOC" and rng.random() < 0.6):
        return rng.choice(p["city"][side]).split(), "LOC"
    return rng.choice(p["country"][side]).split(), "LOC"


def fill(template: str, split: str, rng: random.Random, p) -> tuple[list[str], list[str]]:
    tokens: list[str] = []
    tags: list[str] = []
    for piece in template.split():
        slot = piece[1:-1] if piece.startswith("{") and piece.endswith("}") else None
        if slot and ":" in slot:  # a fixed entity, e.g. {ORG:Ford}
            kind, text = slot.split(":")
            words = text.split("_")
            tokens += words
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        elif slot in ("PER", "ORG", "LOC", "PRODUCT", "CITY", "COUNTRY"):
            words, kind = entity(slot, split, rng, p)
            tokens += words
            tags += [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        else:
            word = {
                "DAY": lambda: rng.choice(DAYS),
                "NUM": lambda: str(rng.randint(2, 950)),
                "YEAR": lambda: str(rng.randint(1975, 2025)),
            }.get(slot, lambda: piece)()  # noqa: B023 - called at once, in this iteration
            tokens.append(word)
            tags.append("O")
    return tokens, tags


def ner_split(split: str, count: int, rng: random.Random, p) -> list[tuple[list, list]]:
    sentences = []
    for _ in range(count):
        if rng.random() < 0.02:  # a long sentence, joined from several clauses
            tokens, tags = [], []
            while len(tokens) < 160:
                t, g = fill(rng.choice(TEMPLATES), split, rng, p)
                if tokens:
                    joiner = rng.choice(CLAUSE_JOINERS).split()
                    tokens, tags = tokens[:-1] + joiner, tags[:-1] + ["O"] * len(joiner)
                tokens, tags = tokens + t, tags + g
        else:
            tokens, tags = fill(rng.choice(TEMPLATES), split, rng, p)
            if rng.random() < 0.05:
                tokens = [t.lower() for t in tokens]
        sentences.append((tokens, tags))
    return sentences


REVIEW = {
    "positive": [
        "I love this {item} .",
        "The {item} works perfectly .",
        "Great {item} , would buy again .",
        "Not bad at all , the {item} is {good} .",
        "Honestly the {item} is {good} and {good2} .",
        "{good} {item} , fast delivery .",
        "I was worried , but the {item} turned out {good} .",
        "Five stars : the {item} is {good} .",
        "Could not be happier with the {item} .",
        "The {item} exceeded my expectations .",
        "I didn't expect much , yet the {item} is {good} .",
        "It is not {bad} , the {item} is actually {good} .",
        "My old {item} was {bad} ; this one is {good} .",
    ],
    "negative": [
        "The {item} broke after a week .",
        "Terrible {item} , do not buy .",
        "I want a refund , the {item} is {bad} .",
        "The {item} is {bad} and {bad2} .",
        "Not worth the money : a {bad} {item} .",
        "Never again , the {item} is {bad} .",
        "I wouldn't call the {item} good ; it is {bad} .",
        "The {item} looked nice but it is {bad} .",
        "Worst {item} I have owned .",
        "Support ignored me when the {item} stopped working .",
        "It is not {good} at all , the {item} is {bad} .",
        "Everyone says the {item} is {good} , but mine is {bad} .",
        "I hoped the {item} would be {good} ; it is not .",
    ],
    "neutral": [
        "The {item} arrived on {day} .",
        "It is an ordinary {item} .",
        "The {item} does what it says , nothing more .",
        "I bought the {item} for work .",
        "The {item} is okay , neither {good} nor {bad} .",
        "Average {item} for the price .",
        "The {item} comes in three colours .",
        "Delivery of the {item} took four days .",
        "Some parts of the {item} are {good} , others are {bad} .",
        "The {item} is fine I guess .",
        "No strong feelings about the {item} .",
        "The {item} is not {good} , but not {bad} either .",
        "I returned the {item} because I ordered the wrong size .",
    ],
}
ITEMS = [
    "phone",
    "kettle",
    "blender",
    "laptop",
    "jacket",
    "chair",
    "lamp",
    "headset",
    "backpack",
    "printer",
    "vacuum",
    "camera",
    "watch",
    "tent",
    "keyboard",
    "speaker",
    "mattress",
    "bike",
    "router",
    "charger",
]
GOOD = ["excellent", "sturdy", "great", "reliable", "comfortable", "brilliant", "solid", "quiet"]
BAD = ["flimsy", "useless", "awful", "noisy", "unreliable", "disappointing", "cheap", "slow"]


NOISE = 0.06  # share of labels flipped at random, as annotators disagree on real reviews


def reviews(counts: dict[str, int], rng: random.Random) -> dict[str, list[tuple[str, str]]]:
    seen: set[str] = set()
    out: dict[str, list[tuple[str, str]]] = {}
    for split, count in counts.items():
        rows = []
        while len(rows) < count:
            label = ["negative", "neutral", "positive"][len(rows) % 3]
            gold = label
            text = rng.choice(REVIEW[gold]).format(
                item=rng.choice(ITEMS),
                good=rng.choice(GOOD),
                bad=rng.choice(BAD),
                good2=rng.choice(GOOD),
                bad2=rng.choice(BAD),
                day=rng.choice(DAYS),
            )
            if rng.random() < 0.3:
                text = text[0].lower() + text[1:]
            if text not in seen:
                seen.add(text)
                if rng.random() < NOISE:
                    label = rng.choice([other for other in REVIEW if other != label])
                rows.append(
                    (
                        text.replace(" .", ".")
                        .replace(" ,", ",")
                        .replace(" :", ":")
                        .replace(" ;", ";"),
                        label,
                    )
                )
        rng.shuffle(rows)
        out[split] = rows
    return out


# Relation extraction: the same name pools (and the same held-out names) as the NER demo,
# so the demo NER model's entities can feed the demo relation model. Relations are directed
# (head -> tail) between the entities of one sentence; pairs not listed are no_relation.
RELATION_TYPES = {
    "works_for": ("PER", "ORG"),
    "founded": ("PER", "ORG"),
    "based_in": ("ORG", "LOC"),
    "lives_in": ("PER", "LOC"),
    "located_in": ("LOC", "LOC"),
    "makes": ("ORG", "PRODUCT"),
}
CITY_COUNTRY = {
    "Porto": "Portugal",
    "Lisbon": "Portugal",
    "Oslo": "Norway",
    "Bergen": "Norway",
    "Nairobi": "Kenya",
    "Osaka": "Japan",
    "Krakow": "Poland",
    "Pune": "India",
    "Chennai": "India",
    "Lagos": "Nigeria",
    "Lyon": "France",
    "Monterrey": "Mexico",
    "Turin": "Italy",
    "Izmir": "Turkey",
    "Accra": "Ghana",
    "Hamburg": "Germany",
    "Valencia": "Spain",
    "Seville": "Spain",
    "Busan": "South Korea",
    "Montreal": "Canada",
    "Sao Paulo": "Brazil",
    "Kuala Lumpur": "Malaysia",
    "Geneva": "Switzerland",
    "Tbilisi": "Georgia",
    "Cork": "Ireland",
}

ROLES = [
    "chief executive",
    "research director",
    "finance director",
    "sales director",
    "chief technology officer",
    "design director",
]
# {A:PER} names entity A of a kind (PER ORG PRODUCT, CITY COUNTRY or LOC = either);
# {B:COUNTRY@A} is the country of city A. "type A>B" lists the relations, head first;
# every other pair in the sentence is no_relation. {DAY} {NUM} {YEAR} {ROLE} are plain words.
RELATION_TEMPLATES = [
    # works_for and founded: the same type pair, told apart by the wording
    ("{A:PER} works for {B:ORG} .", "works_for A>B"),
    ("{A:PER} , an engineer at {B:ORG} , presented the results on {DAY} .", "works_for A>B"),
    ("{B:ORG} hired {A:PER} as head of research .", "works_for A>B"),
    ("{A:PER} joined {B:ORG} in {YEAR} .", "works_for A>B"),
    ("{A:PER} , chief executive of {B:ORG} , said on {DAY} that profits rose .", "works_for A>B"),
    ("{A:PER} , {ROLE} of {B:ORG} , said on {DAY} that profits rose .", "works_for A>B"),
    ("{B:ORG} hired {A:PER} as {ROLE} in {YEAR} .", "works_for A>B"),
    ("The board of {B:ORG} elected {A:PER} as finance director .", "works_for A>B"),
    ("{A:PER} founded {B:ORG} in {YEAR} .", "founded A>B"),
    ("{B:ORG} was founded by {A:PER} in {YEAR} .", "founded A>B"),
    (
        "{A:PER} , who started {B:ORG} in a garage , sold {NUM} percent of the company .",
        "founded A>B",
    ),
    ("{A:PER} , who started {B:ORG} in {YEAR} , spoke to investors on {DAY} .", "founded A>B"),
    ("{A:PER} set up {B:ORG} after leaving university .", "founded A>B"),
    ("{B:ORG} , the company {A:PER} set up in {YEAR} , reported a loss .", "founded A>B"),
    ("{A:PER} , the {B:ORG} founder , stepped down on {DAY} .", "founded A>B"),
    ("{A:PER} , who founded {B:ORG} , now works for {C:ORG} .", "founded A>B, works_for A>C"),
    ("Before joining {B:ORG} , {A:PER} founded {C:ORG} .", "works_for A>B, founded A>C"),
    ("{B:ORG} hired {A:PER} , who founded {C:ORG} in {YEAR} .", "works_for A>B, founded A>C"),
    ("{A:PER} left {B:ORG} to join {C:ORG} .", "works_for A>C"),
    ("{A:PER} , a former {B:ORG} executive , now runs {C:ORG} .", "works_for A>C"),
    (
        "{A:PER} and {B:PER} founded {C:ORG} , which is based in {D:CITY} .",
        "founded A>C, founded B>C, based_in C>D",
    ),
    (
        "{A:PER} , who co-founded {B:ORG} with {C:PER} , lives in {D:LOC} .",
        "founded A>B, founded C>B, lives_in A>D",
    ),
    # based_in, lives_in, located_in
    ("{A:ORG} is based in {B:LOC} .", "based_in A>B"),
    ("Based in {B:LOC} , {A:ORG} employs {NUM} people .", "based_in A>B"),
    ("{A:ORG} , headquartered in {B:CITY} , reported record sales .", "based_in A>B"),
    ("{A:ORG} moved its headquarters to {B:CITY} in {YEAR} .", "based_in A>B"),
    (
        "{A:ORG} , headquartered in {B:CITY} , {C:COUNTRY@B} , reported record sales on {DAY} .",
        "based_in A>B, located_in B>C",
    ),
    ("{A:ORG} , based in {B:LOC} , announced a partnership with {C:ORG} .", "based_in A>B"),
    ("{A:PER} lives in {B:LOC} .", "lives_in A>B"),
    ("{A:PER} lives in {B:CITY} , {C:COUNTRY@B} .", "lives_in A>B, located_in B>C"),
    ("{A:PER} , who lives in {B:CITY} , spoke to reporters on {DAY} .", "lives_in A>B"),
    ("{B:CITY} resident {A:PER} won the prize .", "lives_in A>B"),
    ("{A:PER} moved from {B:CITY} to {C:CITY} to join {D:ORG} .", "lives_in A>C, works_for A>D"),
    (
        "{A:PER} , who grew up in {B:CITY} , {C:COUNTRY@B} , now lives in {D:CITY} .",
        "located_in B>C, lives_in A>D",
    ),
    ("{A:CITY} is a city in {B:COUNTRY@A} .", "located_in A>B"),
    ("{A:CITY} , in {B:COUNTRY@A} , will host the summit .", "located_in A>B"),
    ("The summit in {A:CITY} , {B:COUNTRY@A} , drew {NUM} delegates .", "located_in A>B"),
    ("{A:ORG} opened a research lab in {B:CITY} , {C:COUNTRY@B} .", "located_in B>C"),
    ("{A:ORG} cut {NUM} jobs at its plant in {B:CITY} , {C:COUNTRY@B} .", "located_in B>C"),
    ("{A:PER} was born in {B:CITY} , {C:COUNTRY@B} .", "located_in B>C"),
    # makes
    ("{A:ORG} makes the {B:PRODUCT} .", "makes A>B"),
    ("The {B:PRODUCT} , made by {A:ORG} , costs {NUM} dollars .", "makes A>B"),
    ("{A:ORG} launched the {B:PRODUCT} on {DAY} .", "makes A>B"),
    ("The {B:PRODUCT} from {A:ORG} goes on sale in {C:COUNTRY} on {DAY} .", "makes A>B"),
    ("Customers in {C:LOC} queued overnight for the {B:PRODUCT} from {A:ORG} .", "makes A>B"),
    ("{A:ORG} agreed to buy {B:ORG} , the maker of the {C:PRODUCT} .", "makes B>C"),
    ("{A:ORG} , based in {B:CITY} , makes the {C:PRODUCT} .", "based_in A>B, makes A>C"),
    (
        "{A:ORG} , the maker of the {B:PRODUCT} , is based in {C:CITY} , {D:COUNTRY@C} .",
        "makes A>B, based_in A>C, located_in C>D",
    ),
    # several entities, some pairs related and others not
    ("{A:PER} , who lives in {B:CITY} , met {C:PER} of {D:ORG} .", "lives_in A>B, works_for C>D"),
    ("{A:PER} , who lives in {B:CITY} , works for {C:ORG} .", "lives_in A>B, works_for A>C"),
    ("Based in {B:CITY} , {A:ORG} hired {C:PER} to lead sales .", "based_in A>B, works_for C>A"),
    ("{A:PER} of {B:ORG} visited {C:LOC} on {DAY} .", "works_for A>B"),
    ("{A:PER} of {B:ORG} said demand in {C:COUNTRY} remained strong .", "works_for A>B"),
    ("{B:ORG} , where {A:PER} works , is based in {C:LOC} .", "works_for A>B, based_in B>C"),
    ("In {A:CITY} , {B:PER} of {C:ORG} opened a new office .", "works_for B>C"),
    (
        "{A:PER} of {B:ORG} met {C:PER} of {D:ORG} in {E:CITY} on {DAY} .",
        "works_for A>B, works_for C>D",
    ),
]
# Entities and no relation at all: visits, birthplaces, factories, rival products.
NO_RELATION_TEMPLATES = [
    "{A:PER} visited {B:LOC} last week .",
    "{A:PER} was born in {B:LOC} .",
    "{A:PER} told reporters in {B:CITY} that talks with {C:ORG} had stalled .",
    "Analysts at {A:ORG} expect the {B:PRODUCT} to outsell its rivals .",
    "{A:ORG} uses the {B:PRODUCT} in its warehouses .",
    "Flights between {A:CITY} and {B:CITY} were cancelled on {DAY} .",
    "Officials from {A:CITY} travelled to {B:COUNTRY} on {DAY} .",
    "{A:PER} met {B:PER} in {C:LOC} on {DAY} .",
    "{A:ORG} cut {NUM} jobs at its factory in {B:LOC} .",
    "{A:ORG} and {B:ORG} are competing to supply parts for the {C:PRODUCT} .",
    "{A:ORG} sponsors the marathon in {B:CITY} every year .",
]
NO_RELATION_SHARE = 0.1
SLOT = re.compile(r"\{(\w+):(PER|ORG|LOC|PRODUCT|CITY|COUNTRY)(?:@(\w+))?\}")


def parse_relations(spec: str) -> list[tuple[str, str, str]]:
    return [
        (kind, *pair.split(">"))
        for kind, pair in (item.split() for item in spec.split(",") if item.strip())
    ]


def check_templates() -> None:
    """Each listed relation joins slots of the right types, city -> its country for located_in."""
    for template, spec in RELATION_TEMPLATES + [(t, "") for t in NO_RELATION_TEMPLATES]:
        slots = {m[1]: (m[2], m[3]) for m in SLOT.finditer(template)}
        for kind, head, tail in parse_relations(spec):
            types = tuple(
                "LOC" if slots[s][0] in ("CITY", "COUNTRY") else slots[s][0] for s in (head, tail)
            )
            assert types == RELATION_TYPES[kind], (template, kind)
            if kind == "located_in":
                assert slots[head][0] == "CITY" and slots[tail] == ("COUNTRY", head), template


def fill_relation(template: str, spec: str, split: str, rng: random.Random, p) -> dict | None:
    """One sentence from a template, or None when the names drawn break a rule."""
    side = "test" if split == "test" else "train"
    relations = parse_relations(spec)
    tokens: list[str] = []
    spans: dict[str, tuple[int, int, str, str]] = {}  # slot -> start, end, type, text
    for piece in template.split():
        match = SLOT.fullmatch(piece)
        if match:
            name, kind, of = match.groups()
            if of:  # the country of an earlier city slot
                country = CITY_COUNTRY.get(spans[of][3])
                if country not in p["country"][side]:
                    return None
                words, etype = country.split(), "LOC"
            else:
                words, etype = entity(kind, split, rng, p)
            spans[name] = (len(tokens), len(tokens) + len(words), etype, " ".join(words))
            tokens += words
        else:
            tokens += {
                "DAY": lambda: rng.choice(DAYS),
                "NUM": lambda: str(rng.randint(2, 950)),
                "YEAR": lambda: str(rng.randint(1975, 2025)),
                "ROLE": lambda: rng.choice(ROLES),
            }.get(piece[1:-1], lambda: piece)().split()  # noqa: B023 - called at once
    texts = [s[3] for s in spans.values()]
    surnames = [s[3].split()[-1] for s in spans.values() if s[2] == "PER"]
    if len(set(texts)) < len(texts) or len(set(surnames)) < len(surnames):
        return None
    located = {(spans[h][3], spans[t][3]) for kind, h, t in relations if kind == "located_in"}
    if any(CITY_COUNTRY.get(a) == b and (a, b) not in located for a in texts for b in texts):
        return None  # a city and its own country, unannotated: that would be a wrong label
    names = list(spans)
    return {
        "tokens": tokens,
        "entities": [
            {"type": spans[n][2], "start": spans[n][0], "end": spans[n][1]} for n in names
        ],
        "relations": sorted(
            (
                {"type": kind, "head": names.index(h), "tail": names.index(t)}
                for kind, h, t in relations
            ),
            key=lambda r: (r["head"], r["tail"]),
        ),
    }


def relation_splits(counts: dict[str, int], rng: random.Random, p) -> dict[str, list[dict]]:
    check_templates()
    seen: set[tuple[str, ...]] = set()
    out = {}
    for split, count in counts.items():
        rows: list[dict] = []
        while len(rows) < count:
            if rng.random() < NO_RELATION_SHARE:
                template, spec = rng.choice(NO_RELATION_TEMPLATES), ""
            else:
                template, spec = rng.choice(RELATION_TEMPLATES)
            row = fill_relation(template, spec, split, rng, p)
            if row and tuple(row["tokens"]) not in seen:
                seen.add(tuple(row["tokens"]))
                rows.append(row)
        out[split] = rows
    return out


# The corpus: short news documents in ordinary prose about one small invented world, whose
# facts recur across documents (a graph built from it has hubs and paths such as person ->
# company -> city -> country). The sentences use the relation templates' wordings; each lists
# the facts it states, every fact of the world is stated at least once, and no sentence
# states a relation of these types that is not a fact.
FILLERS = [
    "Analysts expect growth to slow next year.",
    "Investors welcomed the news.",
    "The results will be published in the spring.",
    "Prices rose sharply last quarter.",
    "Demand remained strong in the first quarter.",
    "The interview took place on {day}.",
    "Officials said the talks would resume on {day}.",
    "The weather stayed mild for most of the week.",
]
COMPANY_FILLERS = [
    "Shares rose {num} percent on {day}.",
    "The company declined to comment further.",
    "The company expects sales to double within two years.",
    "A spokesperson said the plans had been approved by the board.",
]


def corpus_world(rng: random.Random) -> dict:
    """Companies, people, products, cities and countries, and who is what to whom."""
    two_city = ["Portugal", "Norway", "India", "Spain"]
    rng.shuffle(two_city)
    cities = [c for c, k in CITY_COUNTRY.items() if k in two_city[:3]]
    cities += rng.sample([c for c, k in CITY_COUNTRY.items() if k not in two_city], 4)
    rng.shuffle(cities)
    heads = rng.sample([h for h in ORG_HEAD if h not in ("Ford", "Lisbon")], 15)
    companies = [" ".join([h] + rng.choice(ORG_TAIL)) for h in heads]
    # headquarters: 4, 3, 2, 2 and 1 companies in the first cities, none in the last two
    hq = [city for city, n in zip(cities, [4, 3, 2, 2, 1, 1, 1, 1]) for _ in range(n)]
    based = dict(zip(companies, hq))
    tails = [t for t in PRODUCT_TAIL if t != ["2.0"]]  # no full stop inside a name in prose
    products = [" ".join([h] + rng.choice(tails)) for h in rng.sample(PRODUCT_HEAD, 14)]
    makes: dict[str, list[str]] = {c: [] for c in companies}
    for i, n in zip((0, 1, 2, 3, 4, 5, 6, 7, 13, 14), (3, 2, 2, 1, 1, 1, 1, 1, 1, 1)):
        makes[companies[i]], products = products[:n], products[n:]
    people = [
        f"{first} {last}"
        for first, last in zip(
            rng.sample(FIRST, 20), rng.sample([n for n in LAST if n not in ("Ford", "Lisbon")], 20)
        )
    ]
    # founders: person 0 founded two companies, companies 0 and 1 have two founders each
    founded = {
        people[0]: [companies[0], companies[3]],
        people[10]: [companies[0]],
        people[11]: [companies[1]],
    }
    for person, company in zip(people[1:10], companies[1:3] + companies[4:11]):
        founded[person] = [company]
    # employees: the rest, and two founders who now work elsewhere; company 0 is the hub
    works = dict(zip(people[12:], [companies[i] for i in (0, 0, 0, 1, 1, 2, 11, 12)]))
    works[people[5]], works[people[8]] = companies[0], companies[2]
    year = {c: rng.randint(1978, 2015) for c in companies}
    roles, joined = {}, {}
    for company in companies:
        staff = [p for p, c in works.items() if c == company]
        for person, role in zip(staff, rng.sample(ROLES, len(staff))):
            roles[person], joined[person] = role, year[company] + rng.randint(1, 9)
    lives = {}
    for person in people:
        work = works.get(person) or founded[person][0]
        lives[person] = based[work] if rng.random() < 0.7 else rng.choice(cities)
    return {
        "cities": cities,
        "companies": companies,
        "people": people,
        "based": based,
        "makes": makes,
        "founded": founded,
        "works": works,
        "roles": roles,
        "joined": joined,
        "lives": lives,
        "year": year,
        "introduced": set(),
        "staff": {c: rng.randint(3, 90) * 10 for c in companies},
        "price": {x: rng.randint(5, 120) * 10 - 1 for xs in makes.values() for x in xs},
        "born": {p: rng.choice([c for c in CITIES if c != lives[p]]) for p in people},
    }


def world_facts(w: dict) -> list[tuple[str, str, str]]:
    facts = [(p, "works_for", c) for p, c in w["works"].items()]
    facts += [(p, "founded", c) for p, cs in w["founded"].items() for c in cs]
    facts += [(c, "based_in", city) for c, city in w["based"].items()]
    facts += [(p, "lives_in", city) for p, city in w["lives"].items()]
    places = set(w["based"].values()) | set(w["lives"].values())
    facts += [(city, "located_in", CITY_COUNTRY[city]) for city in places]
    facts += [(c, "makes", x) for c, xs in w["makes"].items() for x in xs]
    return sorted(facts, key=lambda f: (f[1], f[0], f[2]))


class Doc:
    """The sentences of one document and the facts they state."""

    def __init__(self, w: dict, rng: random.Random):
        self.w, self.rng, self.sentences, self.facts = w, rng, [], set()

    def say(self, options: list[tuple[str, list[tuple[str, str, str]]]], **names) -> None:
        text, facts = self.rng.choice(options)
        names.setdefault("day", self.rng.choice(DAYS))
        names.setdefault("num", self.rng.randint(2, 40))
        if "city" in names:
            names.setdefault("country", CITY_COUNTRY.get(names["city"]))
        self.sentences.append(text.format(**names))
        for head, kind, tail in facts:
            self.facts.add((names[head], kind, names[tail]))
            if kind == "located_in":
                self.w["introduced"].add(names[head])

    def place(self, options: list, with_country: list, **names) -> None:
        """Name the city with its country the first time the corpus names it."""
        self.say(options if names["city"] in self.w["introduced"] else with_country, **names)

    def fill(self, extra: list[str] = (), least: int = 4, more: float = 0.3) -> None:
        while len(self.sentences) < least or (len(self.sentences) < 8 and self.rng.random() < more):
            self.say([(f, []) for f in FILLERS + list(extra)])


P, C, CITY_, COUNTRY_, X = "p", "c", "city", "country", "x"  # template field names
WORKS = [
    ("{p} works for {c}.", [(P, "works_for", C)]),
    ("{p}, {role} of {c}, said on {day} that profits rose.", [(P, "works_for", C)]),
    ("{c} hired {p} as {role} in {year}.", [(P, "works_for", C)]),
    ("{p} joined {c} in {year}.", [(P, "works_for", C)]),
    ("{p}, an engineer at {c}, presented the results on {day}.", [(P, "works_for", C)]),
]
FOUNDED = [
    ("{p} founded {c} in {year}.", [(P, "founded", C)]),
    ("{c} was founded by {p} in {year}.", [(P, "founded", C)]),
    ("{p}, who started {c} in {year}, spoke to investors on {day}.", [(P, "founded", C)]),
    ("{c}, the company {p} set up in {year}, reported a loss.", [(P, "founded", C)]),
]
BASED = [
    ("{c} is based in {city}.", [(C, "based_in", CITY_)]),
    ("Based in {city}, {c} employs {staff} people.", [(C, "based_in", CITY_)]),
]
BASED_COUNTRY = [
    (
        "{c}, headquartered in {city}, {country}, reported record sales on {day}.",
        [(C, "based_in", CITY_), (CITY_, "located_in", COUNTRY_)],
    ),
    (
        "{c}, the maker of the {x}, is based in {city}, {country}.",
        [(C, "makes", X), (C, "based_in", CITY_), (CITY_, "located_in", COUNTRY_)],
    ),
]
LIVES = [
    ("{p} lives in {city}.", [(P, "lives_in", CITY_)]),
    ("{p}, who lives in {city}, spoke to reporters on {day}.", [(P, "lives_in", CITY_)]),
    ("{city} resident {p} won the prize.", [(P, "lives_in", CITY_)]),
]
LIVES_COUNTRY = [
    ("{p} lives in {city}, {country}.", [(P, "lives_in", CITY_), (CITY_, "located_in", COUNTRY_)])
]
LIVES_WORKS = [
    ("{p}, who lives in {city}, works for {c}.", [(P, "lives_in", CITY_), (P, "works_for", C)])
]
MAKES = [
    ("{c} makes the {x}.", [(C, "makes", X)]),
    ("The {x}, made by {c}, costs {price} dollars.", [(C, "makes", X)]),
    ("{c} launched the {x} on {day}.", [(C, "makes", X)]),
]
LOCATED = [
    ("{city}, in {country}, will host the summit.", [(CITY_, "located_in", COUNTRY_)]),
    ("The summit in {city}, {country}, drew {num}0 delegates.", [(CITY_, "located_in", COUNTRY_)]),
]


def company_doc(w: dict, company: str, rng: random.Random) -> Doc:
    doc = Doc(w, rng)
    city, products = w["based"][company], list(w["makes"][company])
    if products and city not in w["introduced"]:
        doc.say(BASED_COUNTRY[1:], c=company, city=city, x=products.pop(0))
    else:
        doc.place(BASED, BASED_COUNTRY[:1], c=company, city=city, staff=w["staff"][company])
    founders = [p for p, cs in w["founded"].items() if company in cs]
    if len(founders) == 2:
        doc.say(
            [
                (
                    "{p} and {q} founded {c}, which is based in {city}.",
                    [(P, "founded", C), ("q", "founded", C), (C, "based_in", CITY_)],
                )
            ],
            p=founders[0],
            q=founders[1],
            c=company,
            city=city,
        )
    elif founders:
        doc.say(FOUNDED, p=founders[0], c=company, year=w["year"][company])
    for product in products:
        doc.say(MAKES, c=company, x=product, price=w["price"][product])
    for person in [p for p, c in w["works"].items() if c == company][:2]:
        doc.say(WORKS, p=person, c=company, role=w["roles"][person], year=w["joined"][person])
    other = rng.choice([c for c in w["cities"] if c != city])
    doc.say(
        [
            ("{c} opened a research lab in {city}.", []),
            ("{c} cut {num}0 jobs at its factory in {city}.", []),
            ("{c} sponsors the marathon in {city} every year.", []),
        ],
        c=company,
        city=other,
    )
    doc.fill(COMPANY_FILLERS)
    return doc


def person_doc(w: dict, person: str, rng: random.Random) -> Doc:
    doc = Doc(w, rng)
    home, job = w["lives"][person], w["works"].get(person)
    if job and home in w["introduced"] and rng.random() < 0.5:
        doc.say(LIVES_WORKS, p=person, city=home, c=job)
    else:
        doc.place(LIVES, LIVES_COUNTRY, p=person, city=home)
        if job:
            doc.say(WORKS, p=person, c=job, role=w["roles"][person], year=w["joined"][person])
    for company in w["founded"].get(person, []):
        if job:
            doc.say(
                [
                    (
                        "{p}, who founded {f}, now works for {c}.",
                        [(P, "founded", "f"), (P, "works_for", C)],
                    ),
                    (
                        "Before joining {c}, {p} founded {f}.",
                        [(P, "founded", "f"), (P, "works_for", C)],
                    ),
                ],
                p=person,
                f=company,
                c=job,
            )
        else:
            doc.say(FOUNDED, p=person, c=company, year=w["year"][company])
    doc.say([("{p} was born in {city}.", [])], p=person, city=w["born"][person])
    doc.say(
        [("{p} met {q} in {city} on {day}.", []), ("{p} visited {city} last week.", [])],
        p=person,
        q=rng.choice([p for p in w["people"] if p != person]),
        city=rng.choice([c for c in w["cities"] if c != home]),
    )
    doc.fill(more=0.25)
    return doc


def city_doc(w: dict, city: str, rng: random.Random) -> Doc:
    doc = Doc(w, rng)
    doc.say(LOCATED, city=city)
    for company in [c for c, where in w["based"].items() if where == city][:4]:
        doc.say(BASED, c=company, city=city, staff=w["staff"][company])
    for person in [p for p, where in w["lives"].items() if where == city][:2]:
        doc.say(LIVES, p=person, city=city)
    doc.say(
        [("Flights between {city} and {other} were cancelled on {day}.", [])],
        city=city,
        other=rng.choice([c for c in w["cities"] if c != city]),
    )
    doc.fill(more=0)
    return doc


def launch_doc(w: dict, companies: list[str], rng: random.Random) -> Doc:
    doc = Doc(w, rng)
    for company in companies:
        product = rng.choice(w["makes"][company])
        doc.say(MAKES, c=company, x=product, price=w["price"][product])
        staff = [p for p, c in w["works"].items() if c == company]
        if staff:
            doc.say(
                [("{p} of {c} said demand in {country} remained strong.", [(P, "works_for", C)])],
                p=staff[0],
                c=company,
                country=CITY_COUNTRY[w["based"][company]],
            )
    rival = rng.choice([c for c in w["companies"] if c not in companies])
    doc.say(
        [("Analysts at {c} expect the {x} to outsell its rivals.", [])],
        c=rival,
        x=w["makes"][companies[0]][0],
    )
    doc.fill(COMPANY_FILLERS, more=0)
    return doc


def corpus_documents(w: dict, rng: random.Random) -> list[tuple[str, Doc]]:
    docs = [(c, company_doc(w, c, rng)) for c in w["companies"]]
    docs += [(p, person_doc(w, p, rng)) for p in w["people"]]
    docs += [(f"business in {c}", city_doc(w, c, rng)) for c in w["cities"][:3]]
    makers = [c for c in w["companies"] if w["makes"][c]]
    docs += [(f"product launches {i + 1}", launch_doc(w, makers[i::2][:3], rng)) for i in range(2)]
    rng.shuffle(docs)
    return docs


def write_corpus(rng: random.Random) -> None:
    w = corpus_world(rng)
    facts = world_facts(w)
    docs = corpus_documents(w, rng)
    stated = set().union(*(d.facts for _, d in docs))
    assert stated == set(facts), sorted(set(facts) ^ stated)
    assert all(3 <= len(d.sentences) <= 8 for _, d in docs)
    folder = ROOT / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.txt"):
        old.unlink()
    rows = []
    for i, (title, doc) in enumerate(docs, 1):
        doc_id = f"{i:02d}-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
        half = (len(doc.sentences) + 1) // 2 if len(doc.sentences) >= 6 else len(doc.sentences)
        text = "\n\n".join(
            " ".join(part) for part in (doc.sentences[:half], doc.sentences[half:]) if part
        )
        (folder / f"{doc_id}.txt").write_text(text + "\n", encoding="utf-8")
        rows.append({"id": doc_id, "text": text})
    with open(ROOT / "corpus.jsonl", "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    (ROOT / "corpus_facts.json").write_text(
        json.dumps([{"head": h, "type": t, "tail": x} for h, t, x in facts], indent=1) + "\n",
        encoding="utf-8",
    )
    sentences = sum(len(d.sentences) for _, d in docs)
    words = sum(len(row["text"].split()) for row in rows)
    statements = Counter(kind for _, d in docs for _, kind, _ in d.facts)
    print(
        f"corpus/: {len(rows)} documents, {sentences} sentences, {words} words (also "
        f"corpus.jsonl); corpus_facts.json: {len(facts)} facts "
        f"{dict(Counter(t for _, t, _ in facts))}, stated {dict(statements)} times"
    )


def main() -> None:
    rng = random.Random(20261122)
    p = pools(rng)
    ner_dir = ROOT / "ner"
    ner_dir.mkdir(parents=True, exist_ok=True)
    for split, count, name in (("train", 800, "train"), ("dev", 200, "dev"), ("test", 200, "test")):
        sentences = ner_split(split, count, rng, p)
        with open(ner_dir / f"{name}.conll", "w", encoding="utf-8") as handle:
            for tokens, tags in sentences:
                handle.writelines(f"{t} {g}\n" for t, g in zip(tokens, tags))
                handle.write("\n")
        counts = Counter(g[2:] for _, tags in sentences for g in tags if g.startswith("B-"))
        longest = max(len(t) for t, _ in sentences)
        print(
            f"ner/{name}.conll: {len(sentences)} sentences, entities {dict(counts)}, "
            f"longest {longest} tokens"
        )
    sentiment_dir = ROOT / "sentiment"
    sentiment_dir.mkdir(parents=True, exist_ok=True)
    for split, rows in reviews({"train": 900, "dev": 210, "test": 210}, rng).items():
        with open(sentiment_dir / f"{split}.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        counts = dict(Counter(label for _, label in rows))
        print(f"sentiment/{split}.csv: {len(rows)} reviews, {counts}")
    # separate generators, so the outputs above stay as they were; the NER demo's pools
    relations_dir = ROOT / "relations"
    relations_dir.mkdir(parents=True, exist_ok=True)
    splits = relation_splits({"train": 800, "dev": 200, "test": 200}, random.Random(20261123), p)
    held_out = {
        kind: {f" {n} " for key in keys for n in set(p[key]["test"]) - set(p[key]["train"])}
        for kind, keys in (
            ("PER", ("first", "last")),
            ("ORG", ("org",)),
            ("LOC", ("city", "country")),
            ("PRODUCT", ("product",)),
        )
    }
    for split, rows in splits.items():
        with open(relations_dir / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
        counts = Counter(r["type"] for row in rows for r in row["relations"])
        bare = sum(not row["relations"] for row in rows)
        names = [
            (e["type"], f" {' '.join(row['tokens'][e['start'] : e['end']])} ")
            for row in rows
            for e in row["entities"]
        ]
        unseen = sum(any(h in name for h in held_out[kind]) for kind, name in names)
        print(
            f"relations/{split}.jsonl: {len(rows)} sentences, relations "
            f"{dict(sorted(counts.items()))}, {bare} without one; {len(names)} entities, "
            f"{unseen} with a name held out of train"
        )
    write_corpus(random.Random(20261124))


if __name__ == "__main__":
    main()
