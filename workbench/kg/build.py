"""``workbench kg build``: run an NER model (and a relation model) over a corpus
and store what they find in the graph.

Documents are processed in chunks so that NER and relation prediction run in
batches across documents; a document already in the graph with the same text
is skipped, one whose text changed is replaced (the knowledge-update path).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.kg.corpus import Document, corpus_prefix, read_corpus, split_sentences
from workbench.models import vocabulary
from workbench.models.folder import check_saved_task, saved_task
from workbench.models.saved import SavedModel, load_saved
from workbench.tasks.ner import char_spans

DOCS_PER_CHUNK = 16


def _device(choice: str):
    import torch

    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if choice == "cuda" and not torch.cuda.is_available():
        raise WorkbenchError("--device cuda: no CUDA GPU is visible here")
    return torch.device(choice)


def check_models(ner: str | Path, relations: str | Path | None) -> None:
    """Each model folder exists and is the task it is given as (without loading it)."""
    for option, path, wanted in (("--ner", ner, "ner"), ("--relations", relations, "relation")):
        if path is not None:
            check_saved_task(path, wanted, option)


def fingerprint(ner: str | Path, relations: str | Path | None, threshold: float) -> str:
    """What the extraction depends on besides the text: the models (folder, metadata,
    weights' size and time) and the threshold. Part of each document's hash, so a
    rebuild with another model or threshold re-reads documents instead of skipping them."""
    import hashlib
    import json

    parts: dict[str, Any] = {"threshold": threshold}
    for name, path in (("ner", ner), ("relations", relations)):
        if path is None:
            continue
        folder, task, meta = saved_task(path)
        weights = sorted(
            (p.name, p.stat().st_size, p.stat().st_mtime_ns)
            for pattern in ("*.safetensors", "*.onnx")
            for p in folder.glob(pattern)
        )
        parts[name] = [str(folder.resolve()), task, meta, weights]
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def load_models(ner: str | Path, relations: str | Path | None, device) -> dict[str, SavedModel]:
    """Load the NER model and the optional relation model onto ``device``."""
    models = {"ner": load_saved(ner)}
    if relations is not None:
        models["relation"] = load_saved(relations)
        # The relation model reads the NER model's words: both must cut text alike.
        levels = {name: saved.task.level for name, saved in models.items()}
        if levels["ner"] != levels["relation"]:
            raise WorkbenchError(
                f"the NER model {ner} cuts text into {levels['ner']} and the relation "
                f"model {relations} into {levels['relation']}; train them on data cut "
                f"the same way"
            )
    for saved in models.values():
        saved.model = saved.model.to(device)
    return models


def corpus_coverage(saved: SavedModel, texts: Iterable[str]) -> dict[str, Any]:
    """The share of the corpus's words the model's tokenizer reads as unknown, and a
    warning when it is high (``coverage`` and ``warnings`` for the summary)."""
    cov, warnings = vocabulary.texts_warnings(saved, texts, "corpus")
    return {"coverage": cov.as_dict(), "warnings": warnings}


def analyse(
    documents: list[Document], models: dict[str, SavedModel], threshold: float, batch_size: int
) -> list[list[dict]]:
    """Sentences of each document with their entities and relations, in the shape
    ``graph.ingest.add_document`` takes (entity offsets inside the sentence text)."""
    sentences: list[tuple[int, str, int, list]] = []  # (doc index, text, start, words)
    ner = models["ner"]
    for index, doc in enumerate(documents):
        for start, end in split_sentences(doc.text):
            text = doc.text[start:end]
            sentences.append((index, text, start, ner.task.split(text)))
    found = ner.task.predict_tokens(
        ner.model,
        ner.tokenizer,
        [[w for w, _, _ in words] for *_, words in sentences],
        ner.max_length,
        batch_size,
    )
    relations: list[list[dict]] = [[] for _ in sentences]
    if "relation" in models:
        rel = models["relation"]
        todo = [i for i, entities in enumerate(found) if len(entities) > 1]
        items = [{"tokens": [w for w, _, _ in sentences[i][3]], "entities": found[i]} for i in todo]
        predicted = rel.task.predict_pairs(
            rel.model, rel.tokenizer, items, rel.max_length, batch_size
        )
        for i, rels in zip(todo, predicted):
            relations[i] = [r for r in rels if r["score"] >= threshold]
    out: list[list[dict]] = [[] for _ in documents]
    for (index, text, start, words), entities, rels in zip(sentences, found, relations):
        spans = char_spans(text, words, entities)
        out[index].append(
            {
                "text": text,
                "start": start,
                "entities": spans,
                "relations": [
                    {"head": r["head"], "tail": r["tail"], "type": r["type"], "score": r["score"]}
                    for r in rels
                ],
            }
        )
    return out


@dataclass(frozen=True)
class BuildProgress:
    """How far a build is: ``done`` of ``total`` documents after ``seconds``."""

    done: int
    total: int
    seconds: float

    @property
    def documents_per_s(self) -> float:
        return self.done / self.seconds if self.seconds > 0 else 0.0

    def event(self) -> dict[str, Any]:
        """The progress as one event line (``kg build --events``), the shape
        ``parse_build_event`` reads back."""
        return {
            "type": "kg_progress",
            "done": self.done,
            "total": self.total,
            "seconds": round(self.seconds, 3),
        }


def end_event(summary: dict[str, Any]) -> dict[str, Any]:
    """A finished build as one event line: its counts (not the graph's stats)."""
    keep = ("documents", "added", "skipped", "replaced", "removed", "sentences", "mentions")
    return {
        "type": "kg_built",
        **{k: summary.get(k, 0) for k in keep + ("evidence", "embedded", "withdrawn")},
        "warnings": summary.get("warnings", []),
        "seconds": round(summary.get("seconds", 0.0), 3),
    }


def parse_build_event(line: str) -> BuildProgress | dict[str, Any] | None:
    """A line of ``kg build --events`` output: a BuildProgress, the end event's
    dict, or None for any other line (an error line, a warning)."""
    import json

    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if data.get("type") == "kg_progress":
        try:
            return BuildProgress(int(data["done"]), int(data["total"]), float(data["seconds"]))
        except (KeyError, TypeError, ValueError):
            return None
    return data if data.get("type") == "kg_built" else None


def build_graph(
    graph_path: str | Path,
    ner: str | Path,
    corpus: str | Path,
    relations: str | Path | None = None,
    threshold: float = 0.5,
    batch_size: int = 32,
    device: str = "auto",
    embeddings: bool = True,
    progress: Callable[[BuildProgress], None] | None = None,
) -> dict[str, Any]:
    """Add the documents of ``corpus`` to the graph at ``graph_path`` (created if
    needed); returns counts and speeds for the summary line. ``progress`` hears how
    far the build is after each chunk of documents (the CLI draws it; the core
    prints nothing)."""
    from workbench.kg.store import Graph

    check_models(ner, relations)
    documents = read_corpus(corpus)
    target = _device(device)
    extraction = fingerprint(ner, relations, threshold)
    shas = {d.key: hashlib.sha256((d.sha + extraction).encode()).hexdigest() for d in documents}
    summary: dict[str, Any] = {
        "documents": len(documents),
        "added": 0,
        "skipped": 0,
        "replaced": 0,
        "removed": 0,
        "sentences": 0,
        "mentions": 0,
        "evidence": 0,
        "device": str(target),
    }
    started = time.perf_counter()
    with Graph.open(graph_path) as graph:
        states = [graph.ingest.document_state(d.key, shas[d.key]) for d in documents]
        # Nothing new to read: the models are not even loaded.
        models = load_models(ner, relations, target) if any(s != "same" for s in states) else None
        if models is not None:  # what the NER model can read of the new documents
            todo_texts = (d.text for d, s in zip(documents, states) if s != "same")
            summary.update(corpus_coverage(models["ner"], todo_texts))
        build_id = graph.ingest.begin_build(
            ner_run=str(ner),
            relation_run=str(relations) if relations else None,
            corpus=str(corpus),
            settings={"threshold": threshold, "batch_size": batch_size, "device": str(target)},
        )
        # A document that left the corpus (a file deleted from the folder, a line
        # gone from the JSONL file) leaves the graph: its mentions, evidence and
        # whatever only it supported.
        present = {d.key for d in documents}
        for key in graph.ingest.documents_from(corpus_prefix(corpus)):
            if key not in present and graph.ingest.remove_document(key, withdraw=False):
                summary["removed"] += 1
        if progress is not None:  # the bar shows from the start, before the first chunk
            progress(BuildProgress(done=0, total=len(documents), seconds=0.0))
        for first in range(0, len(documents), DOCS_PER_CHUNK):
            chunk = documents[first : first + DOCS_PER_CHUNK]
            chunk_states = states[first : first + DOCS_PER_CHUNK]
            todo = [d for d, s in zip(chunk, chunk_states) if s != "same"]
            summary["skipped"] += len(chunk) - len(todo)
            summary["replaced"] += chunk_states.count("changed")
            analysed_docs = analyse(todo, models, threshold, batch_size) if todo and models else []
            with graph.transaction():  # one commit a chunk; a crash loses only this chunk
                for doc, sentences in zip(todo, analysed_docs):
                    if not graph.ingest.add_document(
                        doc.key, doc.source, shas[doc.key], sentences, build_id
                    ):
                        continue  # the same document twice in one corpus
                    summary["added"] += 1
                    summary["sentences"] += len(sentences)
                    summary["mentions"] += sum(len(s["entities"]) for s in sentences)
                    # relation mentions, as the graph counts them: its "evidence"
                    summary["evidence"] += sum(len(s["relations"]) for s in sentences)
            if progress is not None:
                progress(
                    BuildProgress(
                        done=first + len(chunk),
                        total=len(documents),
                        seconds=time.perf_counter() - started,
                    )
                )
        analysed = time.perf_counter() - started
        if (
            summary["replaced"] or summary["removed"]
        ):  # once a build, not once a document: it reads every relation
            summary["withdrawn"] = graph.decisions.withdraw_unsupported()
        graph.ingest.finish_build(
            build_id,
            documents_added=summary["added"],
            documents_skipped=summary["skipped"],
            sentences=summary["sentences"],
        )
        summary["embedded"] = 0
        stats = graph.queries.stats()
        # Profiles change only with documents: an unchanged, fully embedded graph
        # needs no encoder.
        if embeddings and (summary["added"] or stats["embedded"] < stats["entities"]):
            from workbench.kg.embed import Embedder

            summary["embedded"] = graph.vectors.refresh_embeddings(Embedder(device=target))
            stats = graph.queries.stats()
        summary["stats"] = stats
    summary["seconds"] = time.perf_counter() - started
    summary["analyse_seconds"] = analysed
    summary["documents_per_s"] = summary["added"] / analysed if analysed else 0.0
    summary["sentences_per_s"] = summary["sentences"] / analysed if analysed else 0.0
    return summary
