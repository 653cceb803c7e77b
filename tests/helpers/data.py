"""Small data files' contents: NER (CoNLL), sentiment (CSV) and relation (JSONL)
examples the fixtures write per test."""

from __future__ import annotations

import json

NER_TRAIN = """\
-DOCSTART- -X- -X- O

Maria NNP B-NP B-PER
Lindqvist NNP I-NP I-PER
visited VBD B-VP O
Porto NNP B-NP B-LOC
. . O O

Kestrel NNP B-NP B-ORG
Analytics NNP I-NP I-ORG
hired VBD B-VP O
Jon NNP B-NP B-PER
. . O O

Nordwind NNP B-NP B-ORG
opened VBD B-VP O
in IN B-PP O
Lisbon NNP B-NP B-LOC
. . O O
"""

NER_DEV = """\
Jon NNP B-NP B-PER
visited VBD B-VP O
Lisbon NNP B-NP B-LOC
. . O O

Kestrel NNP B-NP B-ORG
opened VBD B-VP O
. . O O

"""

# A 49-word sentence: with max_length 32 it spans several windows.
NER_DEV += "\n" + "Jon NNP B-NP B-PER\nvisited VBD B-VP O\nLisbon NNP B-NP B-LOC\nand CC O O\n" * 12
NER_DEV += ". . O O\n"

SENTIMENT_TRAIN = """\
text,label
"great phone, love it",positive
terrible battery and slow,negative
"works fine, nothing special",neutral
"I love the screen",positive
awful support,negative
it is okay,neutral
"""

SENTIMENT_DEV = """\
text,label
love it,positive
awful and slow,negative
okay I guess,neutral
"""


def relation_line(
    tokens: str, entities: list[tuple[str, int, int]], relations: list[tuple[str, int, int]]
) -> str:
    """One JSONL record: space-separated tokens, (type, start, end) entities and
    (type, head, tail) relations."""

    return json.dumps(
        {
            "tokens": tokens.split(),
            "entities": [{"type": t, "start": s, "end": e} for t, s, e in entities],
            "relations": [{"type": t, "head": h, "tail": tl} for t, h, tl in relations],
        }
    )


RELATION_LINES = [
    relation_line(
        "Maria Rossi works for Kestrel Bank in Porto .",
        [("PER", 0, 2), ("ORG", 4, 6), ("LOC", 7, 8)],
        [("works_for", 0, 1), ("based_in", 1, 2)],
    ),
    relation_line(
        "Jon Berg founded Nordwind Labs .", [("PER", 0, 2), ("ORG", 3, 5)], [("founded", 0, 1)]
    ),
    relation_line(
        "Nordwind Labs is based in Lisbon , where Aiko Sato lives .",
        [("ORG", 0, 2), ("LOC", 5, 6), ("PER", 8, 10)],
        [("based_in", 0, 1), ("lives_in", 2, 1)],
    ),
    relation_line(
        "Aiko Sato met Jon Berg in Oslo .", [("PER", 0, 2), ("PER", 3, 5), ("LOC", 6, 7)], []
    ),
]
