"""The graph on Chinese text (no spaces between words): sentence ends, name
search by part of a name, and full-width / half-width forms as one name."""

from __future__ import annotations

import json

import pytest

from helpers.kg_graphs import add, kestrel_graph, sentence
from workbench.cli import main
from workbench.errors import WorkbenchError
from workbench.kg import corpus
from workbench.kg.corpus import split_sentences
from workbench.kg.normalize import display_form, has_unspaced, normalize_name, surface_form
from workbench.kg.present import entity_view, search_table
from workbench.kg.store import Graph

# ---------------------------------------------------------------- sentences


def test_a_chinese_paragraph_splits_at_its_sentence_ends():
    text = "张伟在华为技术有限公司工作。他说：“我很喜欢这里！”真的吗？！是的。\n第二段没有句号\n"
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == [
        "张伟在华为技术有限公司工作。",
        "他说：“我很喜欢这里！”",
        "真的吗？！",
        "是的。",
        "第二段没有句号",
    ]
    assert spans == [(0, 14), (14, 26), (26, 31), (31, 34), (35, 42)]


def test_mixed_text_splits_at_both_kinds_of_end():
    text = "He came to Beijing. 他来了。她说「好」。Dr. 王 left! OK then."
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "He came to Beijing.",
        "他来了。",
        "她说「好」。",
        "Dr. 王 left!",  # an abbreviation is still no end
        "OK then.",
    ]


def test_english_ends_are_as_before():
    text = "It cost 3.5 dollars. it was cheap. The U.S. Army came! Then (quietly) left"
    assert [text[s:e] for s, e in split_sentences(text)] == [
        "It cost 3.5 dollars. it was cheap.",  # no capital after: not an end
        "The U.S. Army came!",
        "Then (quietly) left",
    ]


def test_a_long_chinese_sentence_is_cut_after_a_comma_or_at_the_limit(monkeypatch):
    monkeypatch.setattr(corpus, "MAX_SENTENCE_CHARS", 10)
    text = "一二三四五，六七八九十一二三四五六七八九十一二三、四五六七八九十。"
    pieces = [text[s:e] for s, e in split_sentences(text)]
    assert pieces == [
        "一二三四五，",
        "六七八九十一二三四五",  # no comma in range: at the limit
        "六七八九十一二三、",
        "四五六七八九十。",
    ]
    assert "".join(pieces) == text and all(len(p) <= 10 for p in pieces)
    # Whichever of a space and a comma is later wins; English is cut as before.
    for text, pieces in (
        ("ab，cd efgh ijklmnop", ["ab，cd", "efgh", "ijklmnop"]),
        ("ab cd，efghijklmn", ["ab cd，", "efghijklmn"]),  # the comma is later here
        ("ab cdefg hijklmnopqr", ["ab cdefg", "hijklmnopq", "r"]),  # English, as it was
    ):
        assert [text[s:e] for s, e in split_sentences(text)] == pieces


# ------------------------------------------------------------------- names


def test_full_width_and_half_width_forms_share_a_key():
    assert normalize_name("ＩＢＭ") == normalize_name("IBM") == "ibm"
    assert normalize_name("华为（中国）") == normalize_name("华为(中国)")
    assert normalize_name("「华为」") == normalize_name("华为") == "华为"
    # Aliases are NFKC and keep brackets that belong to the name; the display
    # keeps the width it was written in.
    assert surface_form("华为（中国）。") == "华为(中国)"
    assert display_form("华为（中国）。") == "华为（中国）"
    assert display_form("ＩＢＭ") == "ＩＢＭ" and surface_form("ＩＢＭ") == "IBM"
    assert surface_form("(株)トヨタ") == "(株)トヨタ"
    assert surface_form("(Kestrel Group).") == "Kestrel Group"  # a pair around it all goes
    assert has_unspaced("北京") and has_unspaced("ภาษาไทย") and not has_unspaced("Ｋｅｓｔｒｅｌ")


CHINESE = {
    "zh1.txt": [
        sentence(
            "张伟在华为技术有限公司工作。",
            [("张伟", "PER"), ("华为技术有限公司", "ORG")],
            [(0, "works_for", 1)],
        ),
        sentence(
            "张伟毕业于北京大学。",
            [("张伟", "PER"), ("北京大学", "ORG")],
            [(0, "studied_at", 1)],
            start=14,
        ),
        sentence(
            "北京大学位于北京。",
            [("北京大学", "ORG"), ("北京", "LOC")],
            [(0, "located_in", 1)],
            start=24,
        ),
    ],
    "zh2.txt": [
        sentence(
            "李娜加入了华为（中国），也去过ＩＢＭ。",
            [("李娜", "PER"), ("华为（中国）", "ORG"), ("ＩＢＭ", "ORG")],
            [(0, "works_for", 1)],
        ),
        sentence(
            "IBM和华为(中国)签了约。",
            [("IBM", "ORG"), ("华为(中国)", "ORG")],
            start=20,
        ),
    ],
}


@pytest.fixture
def graph(tmp_path):
    with Graph.open(tmp_path / "zh.sqlite") as g:
        add(g, CHINESE)
        yield g


def names(hits: list[dict]) -> list[str]:
    return [h["name"] for h in hits]


def test_a_two_character_name_is_found(graph):
    hits = graph.queries.search("张伟")
    assert [(h["name"], h["type"], h["mentions"]) for h in hits] == [("张伟", "PER", 2)]
    assert hits[0]["relations"] == 2 and hits[0]["match"] == "张伟"


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("华为", ["华为（中国）", "华为技术有限公司"]),  # both start with it
        ("北京", ["北京", "北京大学"]),  # the exact name first
        ("大学", ["北京大学"]),  # the end of a name
        ("技术", ["华为技术有限公司"]),  # the middle of one
        ("有限公司", ["华为技术有限公司"]),
        ("中国", ["华为（中国）"]),
        ("北京 大学", ["北京大学"]),  # every word, where one name has all
        ("大学 李娜", ["李娜", "北京大学"]),  # else any word
        ("上海", []),
    ],
)
def test_a_name_is_found_by_part_of_it(graph, query, found):
    assert names(graph.queries.search(query)) == found


def test_search_by_type_and_limit(graph):
    assert names(graph.queries.search("北京", type="LOC")) == ["北京"]
    assert names(graph.queries.search("北京", type="org")) == ["北京大学"]
    assert names(graph.queries.search("北京", limit=1)) == ["北京"]


def test_full_width_and_half_width_mentions_are_one_entity(graph):
    for query in ("IBM", "ibm", "ＩＢＭ"):  # an English word: the FTS path
        hits = graph.queries.search(query)
        assert [(h["name"], h["mentions"]) for h in hits] == [("ＩＢＭ", 2)]  # as first seen
    for query in ("华为（中国）", "华为(中国)", "华为 中国"):
        hits = graph.queries.search(query)
        assert [(h["name"], h["mentions"]) for h in hits] == [("华为（中国）", 2)]
    huawei = graph.queries.resolve("华为(中国)")
    assert huawei == graph.queries.resolve("华为（中国）")
    detail = graph.queries.entity(huawei["id"])
    assert detail["name"] == "华为（中国）"
    # One alias (stored NFKC), shown as the name is.
    assert detail["aliases"] == [{"text": "华为（中国）", "count": 2}]
    assert graph.queries.search("中国")[0]["match"] == "华为（中国）"
    assert "also written" not in str(entity_view(detail))
    # A mixed query is a word per script: "IBM" and "华为" each looked for.
    assert names(graph.queries.search("IBM华为")) == ["ＩＢＭ", "华为（中国）", "华为技术有限公司"]


def test_resolve_takes_part_of_a_chinese_name(graph):
    assert graph.queries.resolve("北京大学")["name"] == "北京大学"
    assert graph.queries.resolve("北京")["type"] == "LOC"  # an exact name before a part
    assert graph.queries.resolve("技术有限")["name"] == "华为技术有限公司"
    with pytest.raises(WorkbenchError, match="no entity named '上海'"):
        graph.queries.resolve("上海")
    a, b = graph.queries.resolve("李娜"), graph.queries.resolve("北京")
    chain = graph.queries.paths(a["id"], b["id"])
    assert chain == []  # 李娜 -> 华为（中国） has no road to 北京


def test_paths_between_chinese_names(graph):
    a, b = graph.queries.resolve("张伟"), graph.queries.resolve("北京")
    [chain] = graph.queries.paths(a["id"], b["id"], limit=1)
    assert [(s["from"]["name"], s["type"], s["to"]["name"]) for s in chain] == [
        ("张伟", "studied_at", "北京大学"),
        ("北京大学", "located_in", "北京"),
    ]


@pytest.mark.parametrize("text", ["张%", "_伟", "北京' OR 1=1 --", '"华为*', "NEAR(华为 北京)"])
def test_odd_chinese_search_text_is_only_text(graph, text):
    hits = graph.queries.search(text)
    assert all(isinstance(h["name"], str) for h in hits)
    assert graph.queries.stats()["entities"] == 7


def test_english_search_is_unchanged_beside_chinese(tmp_path):
    with kestrel_graph(tmp_path / "g.sqlite") as g:
        add(g, CHINESE)
        assert names(g.queries.search("kestrel")) == ["The Kestrel Group"]
        assert names(g.queries.search("kestrel grou")) == ["The Kestrel Group"]
        assert sorted(names(g.queries.search("jordan"))) == ["Jordan", "Jordan"]
        assert g.queries.resolve("Kestrel")["name"] == "The Kestrel Group"
        assert names(g.queries.search("大学")) == ["北京大学"]
        with pytest.raises(WorkbenchError, match="nothing to search for"):
            g.queries.search("，。")


def test_search_table_shows_no_alias_for_a_full_width_name(graph):
    table = search_table(graph.queries.search("ＩＢＭ"), semantic=False)
    cells = [[str(cell) for cell in column.cells] for column in table.columns]
    assert cells[1] == ["ＩＢＭ"] and cells[-1] == [""]


# --------------------------------------------------------------------- CLI


def test_kg_search_on_the_command_line(tmp_path, capsys):
    path = tmp_path / "zh.sqlite"
    with Graph.open(path) as g:
        add(g, CHINESE)
    assert main(["kg", "search", "大学", "--graph", str(path), "--json"]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(h["name"], h["type"]) for h in hits] == [("北京大学", "ORG")]
    assert main(["kg", "search", "华为", "--graph", str(path)]) == 0
    out = capsys.readouterr().out
    assert "华为（中国）" in out and "华为技术有限公司" in out
    assert main(["kg", "show", "技术", "--graph", str(path)]) == 0
    assert "华为技术有限公司" in capsys.readouterr().out
