"""Write the bundled demo datasets under data/demo/ (deterministic; rerun to regenerate).

Everything here is synthetic and the project's own: English sentences built
from templates with invented people, organisations and products and real place
names (NER, BIO tags PER / ORG / LOC / PRODUCT), and short invented product
reviews labelled negative / neutral / positive (classification). A share of
the names is held out of training so the test split measures generalisation;
a few long sentences exercise the windowing of long inputs.

    python scripts/demo_data.py
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "data" / "demo"

FIRST = ["Maria", "Jonas", "Aiko", "Kwame", "Elena", "Tomasz", "Priya", "Lars", "Fatima", "Diego",
         "Ingrid", "Mateo", "Yusuf", "Chloe", "Rahul", "Sofia", "Henrik", "Amara", "Luca", "Mei",
         "Olga", "Tariq", "Nadia", "Pieter", "Leila", "Bruno", "Hana", "Emeka", "Clara", "Viktor",
         "Zara", "Anders", "Ines", "Kenji", "Marta", "Samuel", "Freya", "Omar", "Lucia", "Ravi"]
LAST = ["Lindqvist", "Okafor", "Tanaka", "Mensah", "Petrova", "Kowalski", "Sharma", "Eriksen",
        "Haddad", "Alvarez", "Berg", "Rossi", "Demir", "Dubois", "Iyer", "Moreau", "Novak",
        "Adeyemi", "Conti", "Zhang", "Ivanova", "Rahman", "Farouk", "de Vries", "Karimi",
        "Santos", "Sato", "Nwosu", "Weber", "Horvat", "Malik", "Holm", "Ferreira", "Mori",
        "Garcia", "Osei", "Nilsson", "Aziz", "Romano", "Patel", "Ford", "Lisbon"]
ORG_HEAD = ["Kestrel", "Nordwind", "Halvorsen", "Bluefin", "Aldous", "Corvid", "Meridian",
            "Tessellate", "Ironbark", "Quillon", "Marlowe", "Saffron", "Brightwater", "Obsidian",
            "Lumen", "Harrow", "Verdant", "Copperline", "Northgate", "Altamira", "Ford", "Lisbon"]
ORG_TAIL = [["Analytics"], ["Logistics"], ["Bank"], ["Capital", "Partners"], ["Group"],
            ["Systems"], ["Foods"], ["Energy"], ["Analytics", "Group"], ["Motors"],
            ["Health"], ["Labs"], ["Insurance"], ["Media"], ["Robotics"], ["Pharma"]]
CITIES = ["Porto", "Lisbon", "Oslo", "Nairobi", "Osaka", "Krakow", "Pune", "Lagos", "Lyon",
          "Monterrey", "Bergen", "Turin", "Izmir", "Accra", "Hamburg", "Valencia", "Busan",
          "Cape Town", "Rotterdam", "Montreal", "Sao Paulo", "Kuala Lumpur", "Geneva", "Austin",
          "Tbilisi", "Leeds", "Chennai", "Perth", "Cork", "Seville"]
COUNTRIES = ["Portugal", "Norway", "Kenya", "Japan", "Poland", "India", "Nigeria", "France",
             "Mexico", "Italy", "Turkey", "Ghana", "Germany", "Spain", "South Korea", "Canada",
             "Brazil", "Malaysia", "Switzerland", "Georgia", "Ireland", "Chile", "Vietnam"]
PRODUCT_HEAD = ["Aurora", "Quill", "Nimbus", "Vela", "Orbit", "Sable", "Pico", "Tundra",
                "Helix", "Lark", "Cinder", "Atlas", "Mosaic", "Zephyr", "Fable", "Ember"]
PRODUCT_TAIL = [["X2"], ["Pro"], ["Mini"], ["3"], ["Air"], ["Max"], ["One"], ["S"], ["Lite"],
                ["Studio"], ["2.0"], ["Plus"]]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]

# Templates: {PER} {ORG} {LOC} {PRODUCT} {CITY} {COUNTRY} fill with entities, {KIND:Words}
# is a fixed entity (the same name as a person, a company or a car); {DAY}, {NUM} and
# {YEAR} fill with plain words. Tokens are separated by spaces, punctuation included.
TEMPLATES = [
    "{PER} , chief executive of {ORG} , said on {DAY} that the company will open an office in {LOC} .",
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
    for key, items in {"first": FIRST, "last": LAST, "org": ORG_HEAD, "city": CITIES,
                       "country": COUNTRIES, "product": PRODUCT_HEAD}.items():
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
            word = {"DAY": lambda: rng.choice(DAYS), "NUM": lambda: str(rng.randint(2, 950)),
                    "YEAR": lambda: str(rng.randint(1975, 2025))}.get(slot, lambda: piece)()
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
    "positive": ["I love this {item} .", "The {item} works perfectly .",
                 "Great {item} , would buy again .", "Not bad at all , the {item} is {good} .",
                 "Honestly the {item} is {good} and {good2} .", "{good} {item} , fast delivery .",
                 "I was worried , but the {item} turned out {good} .",
                 "Five stars : the {item} is {good} .", "Could not be happier with the {item} .",
                 "The {item} exceeded my expectations .",
                 "I didn't expect much , yet the {item} is {good} .",
                 "It is not {bad} , the {item} is actually {good} .",
                 "My old {item} was {bad} ; this one is {good} ."],
    "negative": ["The {item} broke after a week .", "Terrible {item} , do not buy .",
                 "I want a refund , the {item} is {bad} .", "The {item} is {bad} and {bad2} .",
                 "Not worth the money : a {bad} {item} .", "Never again , the {item} is {bad} .",
                 "I wouldn't call the {item} good ; it is {bad} .",
                 "The {item} looked nice but it is {bad} .", "Worst {item} I have owned .",
                 "Support ignored me when the {item} stopped working .",
                 "It is not {good} at all , the {item} is {bad} .",
                 "Everyone says the {item} is {good} , but mine is {bad} .",
                 "I hoped the {item} would be {good} ; it is not ."],
    "neutral": ["The {item} arrived on {day} .", "It is an ordinary {item} .",
                "The {item} does what it says , nothing more .", "I bought the {item} for work .",
                "The {item} is okay , neither {good} nor {bad} .", "Average {item} for the price .",
                "The {item} comes in three colours .", "Delivery of the {item} took four days .",
                "Some parts of the {item} are {good} , others are {bad} .",
                "The {item} is fine I guess .", "No strong feelings about the {item} .",
                "The {item} is not {good} , but not {bad} either .",
                "I returned the {item} because I ordered the wrong size ."],
}
ITEMS = ["phone", "kettle", "blender", "laptop", "jacket", "chair", "lamp", "headset",
         "backpack", "printer", "vacuum", "camera", "watch", "tent", "keyboard", "speaker",
         "mattress", "bike", "router", "charger"]
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
                item=rng.choice(ITEMS), good=rng.choice(GOOD), bad=rng.choice(BAD),
                good2=rng.choice(GOOD), bad2=rng.choice(BAD),
                day=rng.choice(DAYS))
            if rng.random() < 0.3:
                text = text[0].lower() + text[1:]
            if text not in seen:
                seen.add(text)
                if rng.random() < NOISE:
                    label = rng.choice([l for l in REVIEW if l != label])
                rows.append((text.replace(" .", ".").replace(" ,", ",").replace(" :", ":")
                             .replace(" ;", ";"), label))
        rng.shuffle(rows)
        out[split] = rows
    return out


def main() -> None:
    rng = random.Random(20261122)
    p = pools(rng)
    ner_dir = ROOT / "ner"
    ner_dir.mkdir(parents=True, exist_ok=True)
    for split, count, name in (("train", 800, "train"), ("dev", 200, "dev"),
                               ("test", 200, "test")):
        sentences = ner_split(split, count, rng, p)
        with open(ner_dir / f"{name}.conll", "w", encoding="utf-8") as handle:
            for tokens, tags in sentences:
                handle.writelines(f"{t} {g}\n" for t, g in zip(tokens, tags))
                handle.write("\n")
        counts = Counter(g[2:] for _, tags in sentences for g in tags if g.startswith("B-"))
        longest = max(len(t) for t, _ in sentences)
        print(f"ner/{name}.conll: {len(sentences)} sentences, entities {dict(counts)}, "
              f"longest {longest} tokens")
    sentiment_dir = ROOT / "sentiment"
    sentiment_dir.mkdir(parents=True, exist_ok=True)
    for split, rows in reviews({"train": 900, "dev": 210, "test": 210}, rng).items():
        with open(sentiment_dir / f"{split}.csv", "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
        print(f"sentiment/{split}.csv: {len(rows)} reviews, {dict(Counter(l for _, l in rows))}")


if __name__ == "__main__":
    main()
