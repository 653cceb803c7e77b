"""`workbench predict`, `serve`, `eval` and `export`: what is done with a run's saved model."""

from __future__ import annotations

import json
import sys

from workbench.cli.common import model_run, positive, warn
from workbench.errors import WorkbenchError

CHUNK = 256  # texts a predict call (or request): output streams for long stdin input


def register(sub) -> None:
    """Adds `predict`, `serve`, `eval` and `export` to ``sub``."""
    predict = sub.add_parser(
        "predict",
        help="run a saved model on text (JSON lines out)",
        description="Predict with a run's model. Texts come from the "
        "arguments, or one a line from stdin. For text-pair "
        "models, separate the pair with a tab. When `workbench serve` runs "
        "the same model, the texts go to it (no model loading here).",
    )
    predict.add_argument("model", metavar="MODEL_OR_RUN")
    predict.add_argument("texts", nargs="*", metavar="TEXT")
    predict.add_argument(
        "--batch-size", type=int, default=32, help="in process (a server batches its own way)"
    )
    predict.add_argument(
        "--no-server",
        action="store_true",
        help="load the model here even when `workbench serve` runs it",
    )
    predict.set_defaults(handler=cmd_predict)

    serve = sub.add_parser(
        "serve",
        help="keep a model loaded behind a local HTTP endpoint (POST /predict)",
        description="Serve a run's model over HTTP until Ctrl-C or SIGTERM: "
        'POST /predict {"texts": [...]} -> {"results": [...]}, GET /health. '
        "Concurrent requests are batched together. No authentication: keep it "
        "on localhost (the default) or a network you trust.",
    )
    serve.add_argument("model", metavar="MODEL_OR_RUN")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    serve.add_argument("--port", type=int, default=0, help="port (default: 0, any free one)")
    serve.add_argument(
        "--max-batch", type=int, default=64, help="texts at most in one forward pass (default: 64)"
    )
    serve.add_argument(
        "--wait-ms",
        type=float,
        default=5.0,
        help="how long a request waits for others to share its batch (default: 5)",
    )
    serve.set_defaults(handler=cmd_serve)

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
    positive("--batch-size", args.batch_size)
    path = model_run(args.model)
    texts = _read_texts(args)
    done = 0 if args.no_server else _predict_served(path, texts)
    if texts and done == len(texts):
        return 0
    from workbench.models.saved import load_saved

    saved = load_saved(path)
    if not args.texts and not done:  # a file on stdin: say when the model cannot read much of it
        from workbench.models import vocabulary

        warn(vocabulary.texts_warnings(saved, texts, "input")[1])
    for start in range(done, len(texts), CHUNK):  # stream output for long stdin inputs
        _print_results(
            saved.task.predict(
                saved.model,
                saved.tokenizer,
                texts[start : start + CHUNK],
                saved.max_length,
                args.batch_size,
            )
        )
    return 0


def _predict_served(path: str, texts: list[str]) -> int:
    """Send ``texts`` to a running `workbench serve` of this model and print its
    results; returns how many were printed (0 when none runs, or fewer when it
    stopped answering: the rest are predicted in process). Served, the vocabulary
    warning on stdin input is skipped: it needs the tokenizer, so transformers."""
    from workbench.deploy.serve import ServerGone, predict_remote, running_server
    from workbench.models.folder import model_dir_of

    try:
        folder = model_dir_of(path)  # no torch: the folder's files only
    except WorkbenchError:
        return 0  # loading in process says what is wrong with it
    url = running_server(folder)
    if url is None:
        return 0
    done = 0
    for start in range(0, len(texts), CHUNK):
        try:
            results = predict_remote(url, texts[start : start + CHUNK])
        except ServerGone:  # it went away or failed: go on in process
            return done
        _print_results(results)
        done += len(results)
    return done


def _print_results(results: list[dict]) -> None:
    for result in results:
        print(json.dumps(result, ensure_ascii=False), flush=True)


def cmd_serve(args) -> int:
    import signal
    import threading

    from workbench.deploy.serve import start
    from workbench.models.saved import load_saved

    if not 0 <= args.port <= 65535:
        raise WorkbenchError(f"--port {args.port}: a port from 0 to 65535")
    positive("--max-batch", args.max_batch)
    if args.wait_ms < 0:
        raise WorkbenchError(f"--wait-ms {args.wait_ms}: not negative")
    saved = load_saved(model_run(args.model))
    import torch

    if torch.cuda.is_available():  # a GPU box serves from the GPU: batches follow the model
        saved.model.to("cuda")
    stopping = threading.Event()

    def stop(signum, frame) -> None:
        stopping.set()

    serving = start(saved, args.host, args.port, args.max_batch, args.wait_ms)
    # Ctrl-C and SIGTERM both stop cleanly (exit 0), removing the announcement.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        print(
            f'serving {args.model} at {serving.url} (POST /predict {{"texts": [...]}})',
            flush=True,
        )
        if serving.note:
            print(serving.note, file=sys.stderr, flush=True)
        while not stopping.wait(0.5):  # a timed wait lets the signal handlers run
            pass
    finally:
        serving.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
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
