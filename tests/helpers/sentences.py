"""Eight NER sentences of very different lengths, for tests of how batches are
cut and laid out (accumulation, packing, several processes)."""

from __future__ import annotations

# Eight sentences of very different lengths: micro-batches hold different numbers of
# labelled words, which is where averaging per micro-batch goes wrong.
SENTENCES = [
    "Jon visited Lisbon .",
    "Maria Lindqvist of Kestrel Analytics met Jon Berg in Porto and then flew home to Oslo .",
    "Nordwind opened .",
    "Kestrel Analytics hired Maria .",
    "Aiko Sato , who lives in Lisbon , founded Nordwind Labs with Jon Berg last year .",
    "Porto .",
    "Jon Berg and Maria Rossi visited Oslo , Porto and Lisbon .",
    "Nordwind Labs is based in Oslo .",
]
TAGS = {
    "Jon": "B-PER",
    "Maria": "B-PER",
    "Aiko": "B-PER",
    "Lindqvist": "I-PER",
    "Sato": "I-PER",
    "Berg": "I-PER",
    "Rossi": "I-PER",
    "Lisbon": "B-LOC",
    "Porto": "B-LOC",
    "Oslo": "B-LOC",
    "Kestrel": "B-ORG",
    "Analytics": "I-ORG",
    "Nordwind": "B-ORG",
    "Labs": "I-ORG",
}


def conll(sentences: list[str]) -> str:
    return "\n".join(
        "\n".join(f"{w} {TAGS.get(w, 'O')}" for w in s.split()) + "\n" for s in sentences
    )
