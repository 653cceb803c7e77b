"""``workbench serve``: a saved model kept loaded behind a local HTTP endpoint, and
the client ``workbench predict`` uses when one is running.

Requests are batched dynamically: a worker thread takes whatever requests are
waiting (up to ``max_batch`` texts, waiting ``wait_ms`` after the first for more)
and runs one ``task.predict`` over all their texts, so many small concurrent
requests cost about one forward pass. The endpoint, on the standard library alone:

- ``POST /predict`` ``{"texts": [...]}`` -> ``{"results": [...]}`` (one result a
  text, as ``workbench predict`` prints them); a bad body -> 400 ``{"error": ...}``
- ``GET /health`` -> ``{"model": FOLDER, "task": ..., "labels": [...]}``

While it runs, ``serve.json`` in the model folder (``{"url", "pid", "model"}``)
tells ``workbench predict`` where to send its texts. Nothing here imports torch:
the model comes in loaded, and the client side must stay light.
"""

from __future__ import annotations

import ipaddress
import json
import os
import queue
import secrets
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from http.client import HTTPException
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError, first_line
from workbench.runs.files import write_json_atomic

ANNOUNCEMENT = "serve.json"  # in the model folder while a server runs
MAX_BODY = 64 * 1024 * 1024  # bytes of one request body
CHUNK = 256  # texts per request from `workbench predict`


@dataclass
class _Request:
    texts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    results: list[dict] | None = None
    error: BaseException | None = None
    arrived: float = field(default_factory=time.monotonic)


class Batcher:
    """Requests (lists of texts) queued and answered by one worker thread, each
    ``predict`` call taking every waiting request that fits in ``max_batch`` texts
    (a larger request goes alone). ``calls`` counts the ``predict`` calls made."""

    def __init__(
        self,
        predict: Callable[[list[str]], list[dict]],
        max_batch: int = 64,
        wait_ms: float = 5.0,
    ):
        self.predict = predict
        self.max_batch = max_batch
        self.wait = wait_ms / 1000
        self.calls = 0
        self._closed = False
        self._closing = threading.Lock()
        self._queue: queue.Queue[_Request | None] = queue.Queue()
        self._held: _Request | None = None  # taken, but did not fit the last batch
        self._worker = threading.Thread(target=self._work, name="batcher", daemon=True)
        self._worker.start()

    def submit(self, texts: list[str]) -> list[dict]:
        """The results for ``texts``, once a batch holding them has run; raises what
        ``predict`` raised on them."""
        if not texts:
            return []
        request = _Request(list(texts))
        with self._closing:  # never queued behind the worker's stop: it would wait forever
            if self._closed:
                raise WorkbenchError("the server is stopping")
            self._queue.put(request)
        request.done.wait()
        if request.error is not None:
            raise request.error
        assert request.results is not None
        return request.results

    def close(self) -> None:
        """Stop the worker once the requests already queued are answered."""
        with self._closing:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        self._worker.join(timeout=30)

    def _next_batch(self) -> list[_Request] | None:
        """The next batch (None: closed): the first request, then others as they
        come, until ``max_batch`` texts or ``wait`` seconds after the first came (not
        after it was taken: under load, requests waited during the last batch)."""
        first = self._held or self._queue.get()
        self._held = None
        if first is None:
            return None
        batch, size = [first], len(first.texts)
        deadline = first.arrived + self.wait
        while size < self.max_batch:
            try:
                request = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if request is None:  # closing: answer this batch, then stop
                self._queue.put(None)
                break
            if size + len(request.texts) > self.max_batch:
                self._held = request  # first of the next batch, keeping the order
                break
            batch.append(request)
            size += len(request.texts)
        return batch

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._run(batch)

    def _run(self, batch: list[_Request]) -> None:
        try:
            self.calls += 1
            results = self.predict([t for request in batch for t in request.texts])
        except Exception as exc:
            if len(batch) > 1:  # one request's bad text must not fail the others
                for request in batch:
                    self._run([request])
                return
            batch[0].error = exc
            batch[0].done.set()
            return
        start = 0
        for request in batch:
            request.results = results[start : start + len(request.texts)]
            start += len(request.texts)
            request.done.set()


class _Server(ThreadingHTTPServer):
    daemon_threads = True  # a client holding its connection open never blocks stopping
    batcher: Batcher
    health: dict[str, Any]

    def handle_error(self, request, client_address) -> None:
        """Quiet: what is left to fail is the connection (a client that hung up),
        not worth a traceback on the server's terminal."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive for clients that send many requests
    timeout = 60  # seconds a silent client may hold its connection (and a thread)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: a request log would drown the one line the command prints."""

    def _reply(self, status: int, body: dict) -> None:
        if status >= 400:  # the request body may be unread: never parse it as a request
            self.close_connection = True
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        if self.path == "/health":
            self._reply(200, self.server.health)
        else:
            self._reply(404, {"error": f"no {self.path} here: GET /health or POST /predict"})

    def do_POST(self) -> None:
        if self.path != "/predict":
            self._reply(404, {"error": f"no {self.path} here: POST /predict"})
            return
        try:
            texts = _texts_of(self._body())
        except ValueError as exc:
            self._reply(400, {"error": str(exc)})
            return
        try:
            results = self.server.batcher.submit(texts)
        except WorkbenchError as exc:  # the texts, as the task reads them, are wrong
            self._reply(400, {"error": str(exc)})
        except Exception as exc:
            self._reply(500, {"error": f"prediction failed: {first_line(exc)}"})
        else:
            self._reply(200, {"results": results})

    def _body(self) -> Any:
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            raise ValueError("the request has no Content-Length header") from None
        if not 0 <= length <= MAX_BODY:
            raise ValueError(f"the body is {length} bytes; at most {MAX_BODY} are taken")
        try:
            return json.loads(self.rfile.read(length).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(f"the body is not JSON: {exc}") from None


def _texts_of(body: Any) -> list[str]:
    """``body["texts"]``, checked to be a list of strings."""
    if not isinstance(body, dict) or "texts" not in body:
        raise ValueError('the body must be a JSON object {"texts": ["...", ...]}')
    texts = body["texts"]
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise ValueError('"texts" must be a list of strings')
    return texts


class Serving:
    """A running server: its ``url``, its ``batcher``, the announcement file it wrote
    (``announced``, None with the reason in ``note``), and ``stop()``."""

    def __init__(self, server: _Server, batcher: Batcher, folder: Path, announce: bool):
        self._server, self.batcher, self.folder = server, batcher, folder
        host, port = server.server_address[:2]
        self.url = f"http://{_url_host(str(host))}:{port}"
        self.announced: Path | None = None
        self.note: str | None = None
        self._thread = threading.Thread(target=server.serve_forever, name="serve", daemon=True)
        self._thread.start()
        if announce:
            self._announce()

    def _announce(self) -> None:
        path = self.folder / ANNOUNCEMENT
        other = running_server(self.folder)
        if other is not None:  # the first server keeps the folder; this one answers too
            self.note = (
                f"another server of this model runs at {other}: "
                "`workbench predict` goes on using that one"
            )
            return
        note = {
            "url": self.url,
            "pid": os.getpid(),
            "model": str(self.folder),
            "server": self._server.health["server"],
        }
        try:  # atomic: a reader sees no file or a whole one
            write_json_atomic(path, note)
        except OSError as exc:
            self.note = (
                f"cannot write {path} ({exc.strerror}): "
                "`workbench predict` will not find this server"
            )
        else:
            self.announced = path

    def stop(self) -> None:
        """Stop answering, let the batcher finish, remove the announcement (when it
        is still ours: a later server of the same model may have replaced it)."""
        self._server.shutdown()
        self._server.server_close()
        self.batcher.close()
        if self.announced is not None:
            try:
                note = json.loads(self.announced.read_text(encoding="utf-8"))
                if note.get("server") == self._server.health["server"]:  # this one's
                    self.announced.unlink()
            except (OSError, ValueError):
                pass


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host  # an IPv6 address in a URL


def start(
    saved,
    host: str = "127.0.0.1",
    port: int = 0,
    max_batch: int = 64,
    wait_ms: float = 5.0,
    announce: bool = True,
) -> Serving:
    """Serve a loaded ``SavedModel`` (models.saved) at ``host:port`` (0: a free port)
    in background threads; returns once it answers. ``announce``: write
    ``serve.json`` into the model folder for ``workbench predict``."""
    folder = Path(saved.folder).resolve()  # a path any working folder agrees on

    def predict(texts: list[str]) -> list[dict]:
        # One forward pass a batch: the batch size is what the batcher gathered.
        return saved.task.predict(
            saved.model, saved.tokenizer, texts, saved.max_length, max(max_batch, 1)
        )

    batcher = Batcher(predict, max_batch, wait_ms)
    try:
        server = _server_class(host)((host, port), _Handler)
    except OSError as exc:
        batcher.close()
        raise WorkbenchError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    server.batcher = batcher
    server.health = {
        "model": str(folder),
        "task": saved.task.name,
        "labels": _labels(saved),
        "server": secrets.token_hex(8),  # told apart from any other server on the port
    }
    return Serving(server, batcher, folder, announce)


def _server_class(host: str) -> type[_Server]:
    """``_Server``, or its IPv6 kind for an address such as ``::1``."""
    if ":" not in host:
        return _Server
    return type("_Server6", (_Server,), {"address_family": socket.AF_INET6})


def _labels(saved) -> list[str]:
    """The model's labels: ``workbench.json``'s, else its config's."""
    if saved.meta.get("labels"):
        return list(saved.meta["labels"])
    id2label = getattr(getattr(saved.model, "config", None), "id2label", None) or {}
    return [id2label[k] for k in sorted(id2label, key=int)]


# The client side: urllib and json only, so `workbench predict` finds a server
# without importing torch.

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never via a proxy


def _call(url: str, body: dict | None, timeout: float | None) -> Any:
    data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
    request = urllib.request.Request(url, data=data)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    with _OPENER.open(request, timeout=timeout) as response:
        return json.loads(response.read().decode("utf-8"))


def running_server(folder: str | Path, timeout: float = 0.5) -> str | None:
    """The URL of a server of the model in ``folder``, when its announcement is
    this user's own file (not writable by others), names a live process and a
    URL on this machine, and that URL answers ``/health`` within ``timeout``
    seconds as the same server of the same folder; None otherwise (no file, a
    stale or foreign one, no answer). A folder shared or copied with a
    ``serve.json`` in it must not send texts anywhere else."""
    folder = Path(folder).resolve()
    path = folder / ANNOUNCEMENT
    try:
        stat = path.stat()
        if stat.st_uid != os.getuid() or stat.st_mode & 0o022:
            return None
        note = json.loads(path.read_text(encoding="utf-8"))
        url, pid, server = str(note["url"]), int(note["pid"]), str(note["server"])
        if pid <= 0 or not _local(url):
            return None
        os.kill(pid, 0)  # raises when no such process
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        health = _call(f"{url}/health", None, timeout)
        if health.get("server") != server or Path(str(health["model"])).resolve() != folder:
            return None  # the port now belongs to another server (the pid was reused)
    except (OSError, ValueError, KeyError, TypeError, AttributeError, HTTPException):
        return None
    return url


def _local(url: str) -> bool:
    """``http://`` to a loopback (or unspecified, i.e. this machine's) address."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme != "http" or not parsed.hostname:
        return False
    if parsed.hostname == "localhost":
        return True
    try:
        address = ipaddress.ip_address(parsed.hostname)
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


class ServerGone(Exception):
    """The server stopped answering as a server should (gone, killed mid-reply,
    an internal error): the caller goes on without it."""


def predict_remote(url: str, texts: list[str]) -> list[dict]:
    """``POST /predict`` one chunk of texts; one result a text. The server's error
    sentence as a ``WorkbenchError`` for a 400 (the texts are what is wrong);
    ``ServerGone`` for anything else that is not an answer."""
    try:
        results = _call(f"{url}/predict", {"texts": texts}, timeout=600)["results"]
    except urllib.error.HTTPError as exc:
        if exc.code != 400:
            raise ServerGone(f"HTTP {exc.code}") from None
        try:
            message = json.loads(exc.read().decode("utf-8"))["error"]
        except (ValueError, KeyError, TypeError):
            message = f"HTTP {exc.code}"
        raise WorkbenchError(f"{url}: {message}") from None
    except (OSError, ValueError, KeyError, TypeError, HTTPException) as exc:
        raise ServerGone(first_line(exc)) from None
    if not isinstance(results, list) or len(results) != len(texts):
        raise ServerGone("an answer that is not one result a text")
    return results
