"""workbench serve: a model kept loaded behind a local HTTP endpoint, requests
batched together, and `workbench predict` sending its texts there when one runs."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from helpers.runs import train_run, write_ner_recipe
from workbench.cli import main
from workbench.deploy.serve import ANNOUNCEMENT, Batcher, predict_remote, running_server, start
from workbench.models.saved import load_saved

TEXTS = ["Jon visited Lisbon .", "Kestrel Analytics hired Maria Lindqvist in Porto today .", "ok"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, tiny_model) -> Path:
    """One tiny NER run for the whole file (a real training: a few seconds)."""
    recipe = write_ner_recipe(tmp_path_factory.mktemp("serve"), tiny_model)
    return train_run(recipe, "train.max_steps=4", "train.learning_rate=1e-2")


@pytest.fixture(scope="module")
def saved(run):
    return load_saved(run)


@pytest.fixture
def serving(saved):
    """A server in this process's threads, stopped after the test."""
    handle = start(saved, max_batch=64, wait_ms=5)
    yield handle
    handle.stop()


def in_process(saved, texts: list[str], batch_size: int = 32) -> list[dict]:
    return saved.task.predict(saved.model, saved.tokenizer, texts, saved.max_length, batch_size)


def post(url: str, body: bytes) -> tuple[int, dict]:
    request = urllib.request.Request(f"{url}/predict", data=body)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def close(a, b) -> bool:
    """Equal, scores within 1e-3 (texts batched with others are padded otherwise)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        return abs(a - b) < 1e-3
    return a == b


def lines(results: list[dict]) -> list[str]:
    return [json.dumps(r, ensure_ascii=False) for r in results]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


# The batcher alone, on a stand-in predict: no model, no server.


def test_the_batcher_gathers_waiting_requests_up_to_max_batch_and_keeps_their_order():
    seen: list[list[str]] = []

    def predict(texts):
        seen.append(texts)
        return [{"text": t} for t in texts]

    batcher = Batcher(predict, max_batch=7, wait_ms=300)
    answers: dict[int, list[dict]] = {}
    barrier = threading.Barrier(5)

    def ask(i):
        barrier.wait()
        answers[i] = batcher.submit([f"{i}-{j}" for j in range(3)])

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    batcher.close()
    assert all(answers[i] == [{"text": f"{i}-{j}"} for j in range(3)] for i in range(5))
    assert all(len(texts) <= 7 for texts in seen)  # two requests of 3 at most
    assert batcher.calls == len(seen) == 3  # 15 texts, 6 a batch
    assert batcher.submit([]) == []


def test_one_bad_request_fails_alone_not_the_batch_it_shared():
    def predict(texts):
        if "bad" in texts:
            raise ValueError("cannot read 'bad'")
        return [{"text": t} for t in texts]

    batcher = Batcher(predict, max_batch=64, wait_ms=300)
    outcome: dict[str, object] = {}
    barrier = threading.Barrier(2)

    def ask(text):
        barrier.wait()
        try:
            outcome[text] = batcher.submit([text])
        except ValueError as exc:
            outcome[text] = str(exc)

    threads = [threading.Thread(target=ask, args=(t,)) for t in ("good", "bad")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    batcher.close()
    assert outcome == {"good": [{"text": "good"}], "bad": "cannot read 'bad'"}


# A real model behind the endpoint.


@pytest.mark.slow
def test_a_served_model_answers_what_it_answers_in_process(saved, serving):
    status, body = post(serving.url, json.dumps({"texts": TEXTS}).encode())
    assert status == 200
    assert body["results"] == in_process(saved, TEXTS, batch_size=64)
    assert predict_remote(serving.url, TEXTS) == body["results"]
    with urllib.request.urlopen(f"{serving.url}/health", timeout=5) as response:
        health = json.loads(response.read())
    assert len(health.pop("server")) == 16 and health == {
        "model": str(saved.folder.resolve()),
        "task": "ner",
        "labels": saved.meta["labels"],
    }
    assert serving.url.startswith("http://127.0.0.1:")


@pytest.mark.slow
def test_concurrent_requests_are_answered_each_its_own_and_batched(saved):
    serving = start(saved, wait_ms=500, announce=False)  # long enough to gather all 8
    texts = [f"Maria visited Porto {'and Lisbon ' * i}." for i in range(8)]
    answers: dict[int, list[dict]] = {}
    barrier = threading.Barrier(8)

    def ask(i):
        barrier.wait()
        answers[i] = predict_remote(serving.url, [texts[i]])

    try:
        threads = [threading.Thread(target=ask, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        calls = serving.batcher.calls
    finally:
        serving.stop()
    assert sorted(answers) == list(range(8))
    for i, text in enumerate(texts):
        assert close(answers[i], in_process(saved, [text])), i
    assert calls < 8


@pytest.mark.slow
def test_a_bad_body_is_a_400_with_one_sentence(serving):
    for body, says in [
        (b"not json", "the body is not JSON"),
        (b'{"text": "one"}', 'the body must be a JSON object {"texts"'),
        (b'{"texts": [1, 2]}', '"texts" must be a list of strings'),
        (b'["a"]', "the body must be a JSON object"),
    ]:
        status, answer = post(serving.url, body)
        assert status == 400 and answer["error"].startswith(says), (body, answer)
    assert post(serving.url, b'{"texts": []}') == (200, {"results": []})
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(f"{serving.url}/nowhere", timeout=5)
    assert info.value.code == 404
    assert serving.batcher.calls == 0


@pytest.mark.slow
def test_the_announcement_is_written_while_serving_and_removed_after(saved):
    serving = start(saved)
    path = saved.folder / ANNOUNCEMENT
    note = json.loads(path.read_text())
    assert note.pop("server") and note == {
        "url": serving.url,
        "pid": os.getpid(),
        "model": str(saved.folder.resolve()),
    }
    assert serving.announced == path and serving.note is None
    assert running_server(saved.folder) == serving.url
    serving.stop()
    assert not path.exists()
    assert running_server(saved.folder) is None


@pytest.mark.slow
def test_a_folder_that_cannot_take_the_announcement_is_served_all_the_same(saved, tmp_path):
    elsewhere = dataclasses.replace(saved, folder=tmp_path / "gone")  # no such folder
    serving = start(elsewhere)
    try:
        assert serving.announced is None
        assert "cannot write" in (serving.note or "") and ANNOUNCEMENT in (serving.note or "")
        assert predict_remote(serving.url, TEXTS[:1]) == in_process(saved, TEXTS[:1])
    finally:
        serving.stop()


@pytest.mark.slow
def test_predict_sends_its_texts_to_a_running_server(run, saved, serving, capsys):
    expected = lines(in_process(saved, TEXTS))
    assert main(["predict", str(run), *TEXTS]) == 0
    assert capsys.readouterr().out.splitlines() == expected
    assert serving.batcher.calls == 1
    assert main(["predict", "--no-server", str(run), *TEXTS]) == 0  # in process
    assert capsys.readouterr().out.splitlines() == expected
    assert serving.batcher.calls == 1


@pytest.mark.slow
def test_predict_served_imports_no_torch(run, saved, serving):
    """The point of a server: the client never pays for torch and transformers."""
    code = (
        "import sys\nfrom workbench.cli import main\n"
        f"assert main(['predict', {str(run)!r}, 'Jon visited Lisbon .']) == 0\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == lines(in_process(saved, ["Jon visited Lisbon ."]))
    assert serving.batcher.calls == 1


@pytest.mark.slow
@pytest.mark.parametrize("pid", ["dead", "alive"])
def test_predict_loads_the_model_itself_when_the_announced_server_is_gone(run, saved, capsys, pid):
    """A dead pid, or a live one whose port no longer answers: in process, silently."""
    path = saved.folder / ANNOUNCEMENT
    number = dead_pid() if pid == "dead" else os.getpid()
    note = {"url": f"http://127.0.0.1:{free_port()}", "pid": number, "server": "0"}
    path.write_text(json.dumps(note))
    try:
        assert main(["predict", str(run), *TEXTS]) == 0
    finally:
        path.unlink()
    out, err = capsys.readouterr()
    assert out.splitlines() == lines(in_process(saved, TEXTS)) and err == ""


@pytest.mark.slow
def test_an_announcement_is_followed_only_to_its_own_server_on_this_machine(saved, serving):
    """A folder shared or copied with a serve.json must not send texts elsewhere."""
    path = serving.announced
    note = json.loads(path.read_text())
    assert running_server(saved.folder) == serving.url

    def followed(**changes) -> str | None:
        path.write_text(json.dumps({**note, **changes}))
        path.chmod(0o600)
        return running_server(saved.folder)

    assert followed(url="http://example.com:80") is None  # not this machine
    assert followed(url=serving.url.replace("http:", "https:")) is None
    assert followed(server="another") is None  # the port answers as another server
    assert followed(pid=0) is None
    assert followed() == serving.url
    path.chmod(0o666)  # writable by others: anyone could have written it
    assert running_server(saved.folder) is None
    path.chmod(0o600)


@pytest.mark.slow
def test_predict_goes_on_in_process_when_the_server_fails(run, saved, serving, capsys):
    """A server that fails (HTTP 500) is left: every text printed once, as in process."""

    def broken(texts):
        raise RuntimeError("CUDA error: an illegal memory access")

    serving.batcher.predict = broken
    assert main(["predict", str(run), *TEXTS]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == lines(in_process(saved, TEXTS)) and err == ""
    assert serving.batcher.calls >= 1


@pytest.mark.slow
def test_serve_stops_cleanly_on_sigterm_and_removes_its_announcement(run, saved):
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench", "serve", str(run)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        assert line.startswith(f"serving {run} at http://127.0.0.1:"), process.stderr
        url = line.split(" at ")[1].split()[0]
        assert running_server(run / "model") == url
        assert predict_remote(url, TEXTS) == in_process(saved, TEXTS, batch_size=64)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not (saved.folder / ANNOUNCEMENT).exists()


def test_a_request_racing_the_close_is_answered_or_refused_never_left_waiting():
    batcher = Batcher(lambda texts: [{"text": t} for t in texts], max_batch=4, wait_ms=0)
    outcomes: list[str] = []

    def ask(i):
        try:
            batcher.submit([str(i)])
            outcomes.append("answered")
        except Exception as exc:  # noqa: BLE001 - the refusal is what is checked
            outcomes.append(str(exc))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(200)]
    for number, t in enumerate(threads):
        t.start()
        if number == 100:
            batcher.close()
    for t in threads:
        t.join(10)
    assert not any(t.is_alive() for t in threads)  # none hangs on a stopped worker
    assert len(outcomes) == 200
    assert set(outcomes) <= {"answered", "the server is stopping"}
    batcher.close()  # twice is harmless


@pytest.mark.slow
def test_a_second_server_of_a_served_model_leaves_the_first_one_announced(saved):
    first = start(saved)
    second = start(saved)
    try:
        assert second.announced is None and first.url in (second.note or "")
        assert running_server(saved.folder) == first.url
        second.stop()
        assert running_server(saved.folder) == first.url
    finally:
        first.stop()
    assert running_server(saved.folder) is None
