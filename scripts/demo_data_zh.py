"""Write the bundled Chinese demo datasets under data/demo/zh/ (deterministic).

Everything here is synthetic and the project's own, like the English demo: short
Chinese news sentences built from templates with invented people, companies and
products and real place names, character-level in the BMES scheme that Chinese
NER corpora use (one character a line: ``B-``/``M-``/``E-``/``S-`` and ``O``;
types PER / ORG / LOC / PRODUCT); short invented product reviews labelled
负面 / 中性 / 正面 (classification, CSV); and a few short stories (corpus/*.txt)
for a knowledge graph. A fifth of the people, companies and products is held out
of training (new combinations of known characters), so the test split measures
generalisation; places are real and shared.

    python scripts/demo_data_zh.py
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "data" / "demo" / "zh"

SURNAMES = list("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘")
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "文",
    "华",
    "红",
    "志强",
    "晓明",
    "海燕",
    "丹",
    "婷",
    "思远",
    "子涵",
    "雨欣",
    "浩然",
    "俊杰",
    "欣怡",
    "梓轩",
    "一鸣",
    "嘉怡",
]
ORG_HEADS = [
    "星河",
    "蓝海",
    "云帆",
    "青松",
    "晨光",
    "鼎新",
    "远航",
    "华瑞",
    "金石",
    "天和",
    "博远",
    "恒信",
    "瑞丰",
    "长风",
    "明德",
    "新源",
    "锐思",
    "嘉禾",
    "卓越",
    "飞鸿",
]
ORG_TAILS = ["科技", "集团", "电子", "软件", "能源", "医药", "银行", "传媒", "汽车", "物流"]
ORG_SUFFIXES = ["", "有限公司", "股份有限公司", ""]
PLACES = [
    "北京",
    "上海",
    "深圳",
    "杭州",
    "成都",
    "南京",
    "武汉",
    "广州",
    "西安",
    "重庆",
    "苏州",
    "天津",
    "长沙",
    "青岛",
    "厦门",
    "昆明",
    "合肥",
    "郑州",
    "沈阳",
    "大连",
    "宁波",
    "福州",
]
PRODUCT_HEADS = ["星火", "极光", "天穹", "灵犀", "追光", "海豚", "青鸟", "雷霆", "微光", "山海"]
PRODUCT_TAILS = ["手机", "平板", "耳机", "手表", "音箱", "笔记本", "相机", "路由器"]

NER_TEMPLATES = [
    "{PER}是{ORG}的首席执行官。",
    "{PER}于去年加入{ORG}，担任技术总监。",
    "{ORG}总部位于{LOC}。",
    "{ORG}今天在{LOC}发布了新款{PRODUCT}。",
    "据{ORG}介绍，{PRODUCT}将于下月上市。",
    "{PER}在{LOC}出生，后来移居{LOC}。",
    "{PER}表示，{PRODUCT}的销量超出预期。",
    "记者从{ORG}获悉，公司计划在{LOC}建设新工厂。",
    "{PER}和{PER}共同创办了{ORG}。",
    "在{LOC}举行的发布会上，{PER}展示了{PRODUCT}。",
    "{ORG}与{ORG}签署了合作协议。",
    "{PRODUCT}由{ORG}研发，售价2999元。",
    "2024年，{PER}担任{ORG}董事长。",
    "{LOC}的用户最早拿到了{PRODUCT}。",
    "{PER}毕业于{LOC}的一所大学，现任{ORG}副总裁。",
    "分析人士认为，{ORG}在{LOC}的市场份额将继续扩大。",
    "{PER}说：“{PRODUCT}是我们最好的产品。”",
    "今年三月，{ORG}宣布将总部迁往{LOC}。",
]

REVIEWS = {
    "正面": [
        "{P}非常好用，电池很耐用，推荐购买。",
        "做工精致，{P}的屏幕清晰，物超所值。",
        "用了一个月，{P}运行流畅，很满意。",
        "客服态度很好，{P}发货也快，五星好评。",
        "{P}音质出色，外观漂亮，家人都喜欢。",
        "性价比很高，{P}比想象中还要好。",
    ],
    "负面": [
        "{P}用了两天就坏了，非常失望。",
        "{P}电池不耐用，充电很慢，不推荐。",
        "质量太差，{P}经常死机，要求退货。",
        "客服不理人，{P}到现在还没修好。",
        "{P}发热严重，声音也很小，后悔买了。",
        "包装破损，{P}屏幕有划痕，体验很差。",
    ],
    "中性": [
        "{P}还可以，没有特别的惊喜。",
        "{P}收到了，暂时还没怎么用。",
        "{P}和描述的差不多，价格一般。",
        "{P}功能普通，适合日常使用。",
        "物流正常，{P}外观中规中矩。",
        "{P}能用，但和上一代区别不大。",
    ],
}


def person(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + rng.choice(GIVEN)


def organisation(rng: random.Random) -> str:
    return rng.choice(ORG_HEADS) + rng.choice(ORG_TAILS) + rng.choice(ORG_SUFFIXES)


def product(rng: random.Random) -> str:
    return rng.choice(PRODUCT_HEADS) + rng.choice(PRODUCT_TAILS)


def pools(rng: random.Random) -> dict[str, dict[str, list[str]]]:
    """Names per type, a fifth of each (but places) held out for the test split."""
    made = {
        "PER": sorted({person(rng) for _ in range(400)}),
        "ORG": sorted({organisation(rng) for _ in range(300)}),
        "LOC": list(PLACES),
        "PRODUCT": sorted({product(rng) for _ in range(120)}),
    }
    out: dict[str, dict[str, list[str]]] = {"train": {}, "test": {}}
    for kind, names in made.items():
        rng.shuffle(names)
        if kind == "LOC":  # real places, known to both: a new place is mostly new characters
            out["test"][kind] = out["train"][kind] = names
            continue
        cut = max(1, len(names) // 5)
        out["test"][kind], out["train"][kind] = names[:cut], names[cut:]
    return out


def bmes(name: str, kind: str) -> list[str]:
    if len(name) == 1:
        return [f"S-{kind}"]
    return [f"B-{kind}"] + [f"M-{kind}"] * (len(name) - 2) + [f"E-{kind}"]


def ner_sentence(rng: random.Random, names: dict[str, list[str]]) -> list[tuple[str, str]]:
    template = rng.choice(NER_TEMPLATES)
    chars: list[tuple[str, str]] = []
    rest = template
    while rest:
        start = rest.find("{")
        if start < 0:
            chars += [(c, "O") for c in rest]
            break
        chars += [(c, "O") for c in rest[:start]]
        end = rest.index("}", start)
        kind = rest[start + 1 : end]
        name = rng.choice(names[kind])
        chars += list(zip(name, bmes(name, kind)))
        rest = rest[end + 1 :]
    return chars


# Each split and the pool its names come from (test: the held-out names).
SOURCES = {"train": "train", "dev": "train", "test": "test"}


def write_ner(rng: random.Random, p: dict) -> None:
    folder = ROOT / "ner"
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 600), ("dev", 150), ("test", 150)):
        source = SOURCES[split]
        lines = []
        for _ in range(count):
            lines += [f"{c} {t}" for c, t in ner_sentence(rng, p[source])] + [""]
        (folder / f"{split}.char.bmes").write_text("\n".join(lines), encoding="utf-8")


def write_reviews(rng: random.Random, p: dict) -> None:
    folder = ROOT / "sentiment"
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", 300), ("dev", 90), ("test", 90)):
        source = SOURCES[split]
        rows = []
        for i in range(count):
            label = list(REVIEWS)[i % 3]
            text = rng.choice(REVIEWS[label]).format(P=rng.choice(p[source]["PRODUCT"]))
            rows.append((text, label))
        rng.shuffle(rows)
        with (folder / f"{split}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, lineterminator="\n")
            writer.writerow(["text", "label"])
            writer.writerows(rows)


def write_corpus(rng: random.Random, p: dict) -> None:
    """A few short stories, each about one company, in plain prose without spaces."""
    folder = ROOT / "corpus"
    folder.mkdir(parents=True, exist_ok=True)
    names = p["train"]
    for number in range(1, 9):
        org, boss, other = (
            rng.choice(names["ORG"]),
            rng.choice(names["PER"]),
            rng.choice(names["PER"]),
        )
        city, city2 = rng.sample(PLACES, 2)
        thing = rng.choice(names["PRODUCT"])
        text = (
            f"{org}总部位于{city}。{boss}是{org}的首席执行官。"
            f"{org}今天在{city2}发布了新款{thing}。{other}表示，{thing}的销量超出预期！"
            f"{boss}说：“{thing}是我们最好的产品。”分析人士认为，{org}在{city2}的市场份额将继续扩大。\n"
        )
        (folder / f"story-{number:02d}.txt").write_text(text, encoding="utf-8")


def main() -> None:
    rng = random.Random(2026)
    p = pools(rng)
    write_ner(rng, p)
    write_reviews(rng, p)
    write_corpus(rng, p)
    print(f"wrote {ROOT}")


if __name__ == "__main__":
    main()
