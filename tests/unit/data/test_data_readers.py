"""Data readers: each format, tag schemes, and the errors that name file and line."""

from __future__ import annotations

import gzip
import json

import pytest

from helpers.files import write
from workbench.data import read_examples
from workbench.data.schemes import detect_scheme, to_bio
from workbench.errors import WorkbenchError
from workbench.settings import SCHEMA

DEFAULTS = {key: spec.default for key, spec in SCHEMA["data"].items()}


def tokens(path, **settings):
    return read_examples(str(path), {**DEFAULTS, **settings}, "tokens")


def texts(path, **settings):
    return read_examples(str(path), {**DEFAULTS, **settings}, "text")


def test_conll_four_columns_docstart_and_blank_lines(tmp_path):
    path = write(
        tmp_path / "a.txt",
        "-DOCSTART- -X- -X- O\n\nEU NNP B-NP B-ORG\nrejects VBZ "
        "B-VP O\n\n\n\nPeter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER",
    )
    examples = tokens(path)
    assert [e["tokens"] for e in examples] == [["EU", "rejects"], ["Peter", "Blackburn"]]
    assert [e["tags"] for e in examples] == [["B-ORG", "O"], ["B-PER", "I-PER"]]
    assert [e["line"] for e in examples] == [3, 8]


def test_conll_two_columns_tabs_and_crlf(tmp_path):
    path = tmp_path / "b.conll"
    path.write_bytes(b"@paulwalk\tO\r\nIt\tO\r\n\r\nNew York\tB-location\r\n")
    examples = tokens(path)
    assert examples[1]["tokens"] == ["New York"]  # a tab-separated token may hold a space
    assert examples[1]["tags"] == ["B-location"]


@pytest.mark.parametrize(
    "body,fragment",
    [
        ("a O\nb\n", "b.conll:2: expected a token and a tag"),
        ("a X O\nb O\n", "b.conll:2: expected 3 columns"),
        ("a O\nb BPER\n", "b.conll:2: tag 'BPER'"),
        ("a O\nb X-PER\n", "b.conll:2: tag 'X-PER'"),
    ],
)
def test_conll_errors_name_the_line(tmp_path, body, fragment):
    with pytest.raises(WorkbenchError, match=fragment.replace(".", r"\.")):
        tokens(write(tmp_path / "b.conll", body))


def test_iob1_becomes_bio():
    tags = ["I-PER", "I-PER", "O", "I-LOC", "B-LOC", "I-ORG"]
    assert detect_scheme([tags]) == "iob1"
    assert to_bio(tags, "iob1") == ["B-PER", "I-PER", "O", "B-LOC", "B-LOC", "B-ORG"]


def test_bmes_and_bioes_become_bio(tmp_path):
    path = write(
        tmp_path / "zh.char.bmes",
        "高 B-NAME\n勇 E-NAME\n： O\n中 B-ORG\n国 M-ORG\n银 M-ORG\n行 E-ORG\n人 S-RACE\n",
    )
    assert tokens(path)[0]["tags"] == [
        "B-NAME",
        "I-NAME",
        "O",
        "B-ORG",
        "I-ORG",
        "I-ORG",
        "I-ORG",
        "B-RACE",
    ]
    # An S- followed by the same type starts a new entity.
    assert to_bio(["S-X", "S-X", "B-X", "E-X"], "bioes") == ["B-X", "B-X", "B-X", "I-X"]


def test_bio_is_left_alone_and_scheme_can_be_forced(tmp_path):
    path = write(tmp_path / "c.conll", "a B-X\nb I-X\nc O\nd I-X\n")
    assert tokens(path, tag_scheme="bio")[0]["tags"] == ["B-X", "I-X", "O", "I-X"]
    assert tokens(path)[0]["tags"] == ["B-X", "I-X", "O", "B-X"]  # auto repairs a stray I-


def test_jsonl_tokens_with_custom_columns_and_gzip(tmp_path):
    path = tmp_path / "d.jsonl.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write(json.dumps({"words": ["Ada", "wrote"], "ner": ["B-PER", "O"]}) + "\n")
    examples = tokens(path, tokens_column="words", tags_column="ner")
    assert examples[0]["tokens"] == ["Ada", "wrote"] and examples[0]["tags"] == ["B-PER", "O"]


@pytest.mark.parametrize(
    "line,fragment",
    [
        ('{"tokens": ["a"], "tags": ["O"]\n', "e.jsonl:2: invalid JSON"),
        ('{"tokens": ["a"]}\n', "e.jsonl:2: no 'tags' field"),
        ('{"tokens": ["a", "b"], "tags": ["O"]}\n', "e.jsonl:2: 2 tokens but 1 tags"),
        ('{"tokens": ["a"], "tags": [3]}\n', "e.jsonl:2: tags are numbers"),
    ],
)
def test_jsonl_errors_name_the_line(tmp_path, line, fragment):
    path = write(tmp_path / "e.jsonl", '{"tokens": ["x"], "tags": ["O"]}\n' + line)
    with pytest.raises(WorkbenchError, match=fragment.replace(".", r"\.")):
        tokens(path)


def test_jsonl_text_with_integer_labels(tmp_path):
    path = write(
        tmp_path / "f.jsonl", '{"text": "good", "label": 1}\n\n{"text": "bad", "label": 0}\n'
    )
    assert [(e["text"], e["label"]) for e in texts(path)] == [("good", "1"), ("bad", "0")]


def test_tsv_with_header_strips_sst2_trailing_spaces(tmp_path):
    path = write(tmp_path / "g.tsv", "sentence\tlabel\nhide new secretions \t0\ngreat fun \t1\n")
    assert [(e["text"], e["label"]) for e in texts(path)] == [
        ("hide new secretions", "0"),
        ("great fun", "1"),
    ]


def test_csv_without_header_quoted_commas_and_pairs(tmp_path):
    path = write(tmp_path / "h.csv", '"a, b",c,entailment\nd,e,neutral\n')
    rows = texts(path, text_pair_column="text_pair", header="no")
    assert [(e["text"], e["text_pair"], e["label"]) for e in rows] == [
        ("a, b", "c", "entailment"),
        ("d", "e", "neutral"),
    ]
    single = texts(write(tmp_path / "i.csv", '"a, b",pos\n'))
    assert (single[0]["text"], single[0]["label"]) == ("a, b", "pos")


def test_csv_row_with_wrong_width_names_the_line(tmp_path):
    path = write(tmp_path / "j.csv", "text,label\nfine,pos\ntoo,many,cells\n")
    with pytest.raises(WorkbenchError, match=r"j\.csv:3: expected 2 columns, got 3"):
        texts(path)


def test_empty_files_are_errors(tmp_path):
    for name in ("k.csv", "k.conll", "k.jsonl"):
        path = write(tmp_path / name, "\n\n")
        with pytest.raises(WorkbenchError, match="no examples"):
            read_examples(str(path), DEFAULTS, "tokens" if name == "k.conll" else "text")


def test_header_only_csv_is_empty(tmp_path):
    with pytest.raises(WorkbenchError, match="no examples"):
        texts(write(tmp_path / "l.csv", "text,label\n"))


def test_not_utf8_is_an_error(tmp_path):
    path = tmp_path / "m.conll"
    path.write_bytes(b"caf\xe9 O\n")
    with pytest.raises(WorkbenchError, match="not UTF-8"):
        tokens(path)
