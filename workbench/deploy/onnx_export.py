"""``workbench export``: a run's model as ONNX (optionally int8), checked against
the original on the run's validation data.

The graph comes from ``torch.onnx.export`` (the dynamo exporter): it needs no
package beyond ``onnx``/``onnxscript`` and handles the task's own models (the
relation classifier) as well as transformers' ones; 🤗 Optimum would add a
heavy dependency and knows only transformers' architectures. Quantisation is
ONNX Runtime's dynamic int8 (weights int8 per output channel, activations
quantised on the fly), the usual choice for transformer encoders on CPUs.

The exported folder runs with ONNX Runtime and a tokenizer alone: ``model.onnx``
(inputs as the tokenizer names them, output ``logits``), ``config.json`` with
the labels, the tokenizer, ``workbench.json``, and the check's report.
"""

from __future__ import annotations

import contextlib
import io
import logging
import statistics
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from workbench.errors import WorkbenchError, first_line
from workbench.models.folder import ONNX_FILE, read_meta, saved_task, write_meta
from workbench.runs.files import (
    replace_dir_atomic,
    write_json_atomic,
    write_text_atomic,
)
from workbench.runs.folder import EVENTS

REPORT = "export_report"  # .json for machines, .txt for people
EXPORTS = "exports"  # where exports of a run go, inside its folder
INPUTS = (
    "input_ids",
    "attention_mask",
    "token_type_ids",
    "head_pos",
    "tail_pos",
    "between_start",
    "between_end",
)
QUANTIZE = ("int8",)


def default_out(source: str | Path, quantize: str | None) -> Path:
    """``RUN/exports/onnx[-int8]`` for a run; ``MODEL-onnx[-int8]`` beside a model folder."""
    source = Path(source).expanduser()
    name = "onnx" + (f"-{quantize}" if quantize else "")
    if (source / EVENTS).is_file():
        return source / EXPORTS / name
    return source.parent / f"{source.name}-{name}"


def export_onnx(
    source: str | Path,
    out: str | Path | None = None,
    quantize: str | None = None,
    data: str | None = None,
    batch_size: int = 32,
    repeats: int = 30,
    say=lambda text: None,
) -> tuple[Path, dict[str, Any]]:
    """Export the model of ``source`` (a run or model folder) to ``out``; check it
    on ``data`` (default: the run's validation, else test file). Returns the
    folder and the check's report (also written there)."""
    from workbench.evaluate import encode_for, load_with_data

    folder, _task_name, _meta = saved_task(source)
    if (folder / ONNX_FILE).is_file():
        raise WorkbenchError(f"{folder}: already an ONNX export")
    if quantize not in (None, *QUANTIZE):
        raise WorkbenchError(f"--quantize {quantize!r}: one of {', '.join(QUANTIZE)}")
    _need_onnx()
    data_path = Path(data) if data is not None else _run_data(source)
    out = Path(out).expanduser() if out else default_out(source, quantize)
    _check_out(out, folder)
    say(f"loading {folder}")
    saved, examples = load_with_data(source, data_path)
    task, model, tokenizer, meta = saved.task, saved.model, saved.tokenizer, saved.meta
    features, id2label = encode_for(saved, examples, str(data_path))
    if not features:
        raise WorkbenchError(f"{data_path}: no examples to export and check with")

    def fill(tmp: Path) -> None:
        say("exporting with torch.onnx" + (f", then quantizing to {quantize}" if quantize else ""))
        try:
            _export_graph(model, tokenizer, features, tmp / ONNX_FILE, quantize)
        except WorkbenchError:
            raise
        except Exception as exc:  # noqa: BLE001 - the exporter's errors are many and long
            raise WorkbenchError(f"cannot export {folder} to ONNX: {first_line(exc)}") from None
        model.config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        write_meta(
            tmp,
            {
                **meta,
                "format": "onnx",
                "quantize": quantize,
                "exported_from": str(folder.resolve()),
            },
        )

    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        replace_dir_atomic(out, fill)
    except OSError as exc:
        raise WorkbenchError(f"cannot write the export to {out}: {exc.strerror or exc}") from None
    say(f"checking the export on {data_path}")
    report = check_export(
        task,
        model,
        out,
        tokenizer,
        examples,
        features,
        id2label,
        batch_size,
        repeats,
        meta.get("metric") or task.default_metric,
    )
    report.update(source=str(folder), out=str(out), data=str(data_path), quantize=quantize)
    write_json_atomic(out / f"{REPORT}.json", report)
    write_text_atomic(out / f"{REPORT}.txt", report_text(report) + "\n")
    return out, report


def _need_onnx() -> None:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError as exc:
        raise WorkbenchError(
            f"workbench export needs {exc.name} (pip install 'workbench[export]')"
        ) from None


def _check_out(out: Path, folder: Path) -> None:
    """``--out`` is replaced whole: never the model's own folder or one holding it,
    nor anything but an earlier export."""
    if out.resolve() == folder.resolve() or out.resolve() in folder.resolve().parents:
        raise WorkbenchError(f"--out {out}: holds the model being exported; choose another folder")
    if out.exists() and not (out.is_dir() and not any(out.iterdir())):
        try:
            earlier = read_meta(out)
        except (OSError, ValueError):
            earlier = {}
        if not isinstance(earlier, dict) or earlier.get("format") != "onnx":
            raise WorkbenchError(
                f"--out {out}: exists and is not an earlier export; choose a new folder"
            )


def _run_data(source: str | Path) -> Path:
    """The file the export is checked on by default: the run's validation, else test."""
    from workbench.evaluate import data_settings

    settings = data_settings(source, {})
    for split in ("validation", "test"):
        value = settings.get(split)
        if value and not value.startswith("hf:") and Path(value).is_file():
            return Path(value)
    raise WorkbenchError(
        f"{source}: no validation or test file of the run to check the "
        f"export with; give one with --data FILE"
    )


class _Logits(torch.nn.Module):
    """What is exported: the model's logits from the tokenizer's inputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(
        self,
        input_ids,
        attention_mask=None,
        token_type_ids=None,
        head_pos=None,
        tail_pos=None,
        between_start=None,
        between_end=None,
    ):
        given = {
            "input_ids": input_ids,
            "attention_mask": attention_mask,
            "token_type_ids": token_type_ids,
            "head_pos": head_pos,
            "tail_pos": tail_pos,
            "between_start": between_start,
            "between_end": between_end,
        }
        return self.model(**{k: v for k, v in given.items() if v is not None}).logits


def _export_graph(
    model, tokenizer, features: list[dict], target: Path, quantize: str | None
) -> None:
    from workbench.tasks.base import make_collate, model_inputs

    # Two rows of different lengths, so no dimension is taken for a constant.
    sample = sorted(features[:64], key=lambda f: len(f["input_ids"]))
    batch = make_collate(tokenizer.pad_token_id)([sample[0], sample[-1]])
    inputs = model_inputs(batch)
    unknown = sorted(set(inputs) - set(INPUTS))
    if unknown:
        raise WorkbenchError(f"cannot export a model that takes {', '.join(unknown)}")
    # The graph's inputs take input_names in the order the arguments come.
    inputs = {k: inputs[k] for k in INPUTS if k in inputs}
    dynamic = torch.export.Dim.DYNAMIC
    shapes = {
        k: {0: dynamic, 1: dynamic} if v.dim() == 2 else {0: dynamic} for k, v in inputs.items()
    }
    plain = target.with_name("fp32.onnx") if quantize else target
    model = model.cpu().eval()
    # One file, unless the weights pass protobuf's 2 GB limit (then model.onnx.data beside).
    large = sum(p.numel() * p.element_size() for p in model.parameters()) > 1.5 * 2**30
    with _quiet():
        torch.onnx.export(
            _Logits(model),
            (),
            str(plain),
            kwargs=inputs,
            input_names=list(inputs),
            output_names=["logits"],
            dynamic_shapes=shapes,
            external_data=large,
            dynamo=True,
        )
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            # Per output channel: one scale per tensor cost CoNLL-2003 1.3 F1 (agreement
            # 99.16%), per channel 0.3 (99.57%), at about the same speed.
            quantize_dynamic(
                str(plain),
                str(target),
                weight_type=QuantType.QInt8,
                per_channel=True,
                use_external_data_format=large,
            )
            for leftover in plain.parent.glob(plain.name + "*"):
                leftover.unlink()


@contextlib.contextmanager
def _quiet():
    """The exporter prints its progress and warns about axis names; quantisation
    logs a suggestion at warning level. None of it is for the user."""
    loggers = [logging.getLogger(), logging.getLogger("torch.onnx")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


# -- the check ---------------------------------------------------------------------------
def check_export(
    task,
    model,
    out: Path,
    tokenizer,
    examples,
    features,
    id2label,
    batch_size: int,
    repeats: int,
    metric: str,
) -> dict[str, Any]:
    """The export against the original: label agreement at every scored position,
    the metric before and after, one-sentence latency and batch throughput on CPU."""
    from workbench.evaluate import score_features
    from workbench.models.onnx import OnnxModel

    exported = OnnxModel(out)
    sides = {"pytorch": model.cpu().eval(), "onnx": exported}
    reports, preds, speed = {}, {}, {}
    for name, candidate in sides.items():
        began = time.perf_counter()
        reports[name], preds[name] = score_features(
            task, candidate, tokenizer, examples, features, id2label, batch_size
        )
        speed[name] = {"sentences_per_s": len(examples) / (time.perf_counter() - began)}
    for name, latency in _latencies_ms(sides, tokenizer, features, repeats).items():
        speed[name]["latency_ms"] = latency
    if metric not in reports["pytorch"]["metrics"]:  # picked by loss: not in reports
        metric = task.default_metric
    agree = int((preds["pytorch"] == preds["onnx"]).sum())
    compared = int(preds["pytorch"].numel())
    before, after = (reports[s]["metrics"].get(metric) for s in ("pytorch", "onnx"))
    return {
        "task": task.name,
        "examples": len(examples),
        "compared": compared,
        "agreement": agree / max(1, compared),
        "metric": metric,
        "before": before,
        "after": after,
        "speed": speed,
        "batch_size": batch_size,
        "threads": {
            "pytorch": torch.get_num_threads(),
            "onnx": exported.session.get_session_options().intra_op_num_threads or "all cores",
        },
        "size_mb": round((out / ONNX_FILE).stat().st_size / 2**20, 1),
        "metrics": {side: reports[side]["metrics"] for side in reports},
    }


def _latencies_ms(
    models: dict, tokenizer, features: list[dict], repeats: int, rounds: int = 5
) -> dict:
    """Median time of one forward pass over a sentence of median length, for each
    model. The models take turns in blocks (a machine that drifts drifts for
    all), and the first call of a block is not counted: ONNX Runtime's threads
    spin for a while after a call and would slow the other model's next one."""
    from workbench.tasks.base import make_collate

    feature = sorted(features, key=lambda f: len(f["input_ids"]))[len(features) // 2]
    batch = make_collate(tokenizer.pad_token_id)([feature])
    inputs = {k: v for k, v in batch.items() if k in INPUTS}
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for _ in range(rounds):
            for name, model in models.items():
                for index in range(max(1, repeats // rounds) + 1):
                    began = time.perf_counter()
                    model(**inputs)
                    if index:
                        times[name].append(time.perf_counter() - began)
    return {name: 1000 * statistics.median(values) for name, values in times.items()}


def report_text(report: dict[str, Any]) -> str:
    """The check as a few lines for people."""
    speed = report["speed"]
    metric = report["metric"]
    fmt = (
        (lambda v: "-" if v is None else f"{100 * v:.2f}")
        if metric != "loss"
        else (lambda v: "-" if v is None else f"{v:.4f}")
    )
    label = "ONNX" + (f" {report['quantize']}" if report.get("quantize") else "")
    lines = [
        f"export of {report['source']} checked on {report['data']} ({report['examples']} examples)",
        f"label agreement {100 * report['agreement']:.2f}% of {report['compared']} predictions",
        f"{'':22}{'PyTorch':>10}{label:>12}{'ratio':>8}",
        f"{metric:22}{fmt(report['before']):>10}{fmt(report['after']):>12}"
        f"{_diff(report['before'], report['after'], metric):>8}",
        f"{'one sentence, ms':22}{speed['pytorch']['latency_ms']:>10.1f}"
        f"{speed['onnx']['latency_ms']:>12.1f}"
        f"{speed['pytorch']['latency_ms'] / speed['onnx']['latency_ms']:>7.2f}x",
        f"{'sentences/s, batch ' + str(report['batch_size']):22}"
        f"{speed['pytorch']['sentences_per_s']:>10.1f}{speed['onnx']['sentences_per_s']:>12.1f}"
        f"{speed['onnx']['sentences_per_s'] / speed['pytorch']['sentences_per_s']:>7.2f}x",
        f"model.onnx {report['size_mb']} MB; threads: PyTorch "
        f"{report['threads']['pytorch']}, ONNX Runtime {report['threads']['onnx']}",
    ]
    return "\n".join(lines)


def _diff(before, after, metric: str) -> str:
    if before is None or after is None:
        return ""
    scale = 1 if metric == "loss" else 100
    return f"{scale * (after - before):+.2f}"
