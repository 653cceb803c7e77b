"""`workbench predict`, `eval` and `export`: what is done with a run's saved model."""

from __future__ import annotations

import json
import sys

from workbench.cli.common import model_run, positive, warn
from workbench.errors import WorkbenchError


def register(sub) -> None:
    """Adds `predict`, `eval` and `export` to ``sub``."""
    predict = sub.add_parser(
        "predict",
        help="run a saved model on text (JSON lines out)",
        description="Predict with a run's model. Texts come from the "
        "arguments, or one a line from stdin. For text-pair "
        "models, separate the pair with a tab.",
    )
    predict.add_argument("model", metavar="MODEL_OR_RUN")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument("--batch-size", type=int, default=32)
    predict.set_defaults(handler=cmd_predict)

    evaluate = sub.add_parser("eval", help="score a saved model on a data file")
    evaluate.add_argument("model", metavar="MODEL_OR_RUN")
    evaluate.add_argument("--data", required=True, metavar="PATH")
    evaluate.add_argument("--format", choices=("auto", "conll", "jsonl", "csv", "tsv"))
    evaluate.add_argument("--json", action="store_true", help="print the report as JSON")
    evaluate.add_argument("--batch-size", type=int, default=64)
    evaluate.add_argument(
        "--ner",
        metavar="NER_RUN",
        help="with a relation model: score it end to end with this NER "
        "model's entities (strict triples)",
    )
    evaluate.set_defaults(handler=cmd_eval)

    export = sub.add_parser(
        "export",
        help="export a run's model (ONNX, optionally int8), checked against it",
        description="Export a run's model to ONNX for ONNX Runtime, optionally quantized to "
        "int8, and check the export against the original on the run's validation "
        "data: label agreement, the metric before and after, and CPU speed. "
        "The report is printed and written beside the export.",
    )
    export.add_argument("model", metavar="MODEL_OR_RUN")
    export.add_argument("--format", default="onnx", choices=("onnx",))
    export.add_argument("--quantize", choices=("int8",), help="dynamic int8 quantization")
    export.add_argument(
        "--out", metavar="DIR", help="where the export goes (default: RUN/exports/onnx[-int8])"
    )
    export.add_argument(
        "--data",
        metavar="PATH",
        help="data to check the export on (default: the run's validation file, else its test file)",
    )
    export.add_argument("--batch-size", type=int, default=32)
    export.set_defaults(handler=cmd_export)


def _read_texts(args) -> list[str]:
    if args.texts:
        return list(args.texts)
    if sys.stdin.isatty():
        raise WorkbenchError("predict: give TEXT arguments or pipe lines on stdin")
    return [line.rstrip("\n") for line in sys.stdin if line.strip()]


def cmd_predict(args) -> int:
    from workbench.models.saved import load_saved

    positive("--batch-size", args.batch_size)
    saved = load_saved(model_run(args.model))
    texts = _read_texts(args)
    if not args.texts:  # a file on stdin: say when the model cannot read much of it
        from workbench.models import vocabulary

        warn(vocabulary.texts_warnings(saved, texts, "input")[1])
    for start in range(0, len(texts), 256):  # stream output for long stdin inputs
        for result in saved.task.predict(
            saved.model,
            saved.tokenizer,
            texts[start : start + 256],
            saved.max_length,
            args.batch_size,
        ):
            print(json.dumps(result, ensure_ascii=False), flush=True)
    return 0


def cmd_eval(args) -> int:
    from workbench.console import PipeSafeConsole
    from workbench.evaluate import evaluate_saved
    from workbench.reports import metrics_line, report_renderable

    positive("--batch-size", args.batch_size)
    _task, report = evaluate_saved(
        model_run(args.model),
        args.data,
        batch_size=args.batch_size,
        ner=model_run(args.ner) if args.ner else None,
        format=args.format,
    )
    warn(report.pop("warnings", []))
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
        return 0
    console = PipeSafeConsole()
    console.print(
        f"{report['split']}: {metrics_line(report['metrics'])}", highlight=False, markup=False
    )
    if "entity_metrics" in report:
        console.print(f"entities: {metrics_line(report['entity_metrics'])}", highlight=False)
    console.print(report_renderable(report))
    return 0


def cmd_export(args) -> int:
    from workbench.deploy.onnx_export import export_onnx, report_text

    positive("--batch-size", args.batch_size)
    out, report = export_onnx(
        model_run(args.model),
        args.out,
        args.quantize,
        args.data,
        args.batch_size,
        say=lambda text: print(text, file=sys.stderr, flush=True),
    )
    print(report_text(report))
    print(f"exported to {out}")
    return 0
