"""Progress lines: drawn on a terminal (a real pseudo-terminal here), absent from pipes, logs and --json."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import time

import pytest

from zoo_cli_helpers import zoo
from zoo_export.progress import Progress, set_quiet, track


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_on_a_terminal_and_nothing_elsewhere(monkeypatch):
    screen, pipe = _Terminal(), io.StringIO()
    for _ in track(range(20), "work", unit="items", stream=screen):
        time.sleep(0.04)
    assert "\rwork [" in screen.getvalue() and screen.getvalue().rstrip("\n").endswith("\x1b[K")
    assert "20/20 items" in screen.getvalue() and screen.getvalue().endswith("\n")
    list(track(range(20), "work", stream=pipe))
    assert pipe.getvalue() == ""
    quick = _Terminal()
    list(track(range(3), "quick", stream=quick))  # under half a second: never drawn
    assert quick.getvalue() == ""

    with Progress("converting", stream=(ticking := _Terminal()), tick=True):
        time.sleep(1.2)  # one long call, no updates: the elapsed time is redrawn
    assert ticking.getvalue().count("\rconverting ") >= 2

    set_quiet(True)
    try:
        off = _Terminal()
        list(track(range(20), "work", stream=off, total=20))
        for _ in track(range(5), "slow", stream=off):
            time.sleep(0.15)
        assert off.getvalue() == ""
    finally:
        set_quiet(False)
    monkeypatch.setenv("KERAS_ZOO_PROGRESS", "0")
    off = _Terminal()
    for _ in track(range(5), "slow", stream=off):
        time.sleep(0.15)
    assert off.getvalue() == ""


def test_an_iterable_of_unknown_length_counts_without_a_total():
    """A tf.data.Dataset has __len__ but raises TypeError when its size is unknown (after a filter)."""
    import tensorflow as tf

    items = tf.data.Dataset.range(12).filter(lambda x: x % 2 == 0)
    screen = _Terminal()
    seen = []
    for item in track(items, "batches", stream=screen):
        seen.append(int(item))
        time.sleep(0.1)
    assert seen == [0, 2, 4, 6, 8, 10]
    assert "6 " in screen.getvalue() and "/" not in screen.getvalue().split("batches", 1)[1]


def _on_a_terminal(args, env) -> str:
    """Run `python -m zoo.cli ARGS` with stdout and stderr on a pseudo-terminal; what it drew."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "zoo.cli", *args], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other side closed: the process ended
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=600)
    os.close(master)
    assert proc.returncode == 0, b"".join(chunks).decode(errors="replace")[-3000:]
    return b"".join(chunks).decode(errors="replace")


@pytest.mark.slow
def test_export_shows_its_steps_on_a_terminal_only(toy_target, tmp_path):
    runs = tmp_path / "runs"
    trained = zoo("finetune", "--plugin", "toy", "--epochs", "1", "--runs-dir", str(runs), path=toy_target)
    assert trained.returncode == 0, trained.stderr
    # `always`: the toy's steps take about a second, under the delay that keeps quick steps quiet
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(toy_target), os.environ.get("PYTHONPATH", "")]),
               KERAS_ZOO_PROGRESS="always")
    screen = _on_a_terminal(["export", "--format", "onnx", "--runs-dir", str(runs)], env)
    assert "\rconverting to onnx" in screen and "\rverifying against Keras" in screen, screen[-2000:]
    assert "artifact:" in screen

    piped = zoo("export", "--format", "onnx", "--force", "--runs-dir", str(runs), path=toy_target,
                env={"KERAS_ZOO_PROGRESS": "always"})
    assert piped.returncode == 0, piped.stderr
    assert "converting to" not in piped.stderr + piped.stdout and "\r" not in piped.stderr + piped.stdout
