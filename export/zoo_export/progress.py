"""Progress of long steps: one line redrawn on stderr when it is a terminal, nothing anywhere else.

Logs, pipes, CI output and `--json` runs stay as they were: the line is drawn only when
stderr is a terminal, progress is not switched off (`set_quiet(True)`, which the `zoo`
command does under `--json`, or `KERAS_ZOO_PROGRESS=0`), and the step has lasted
`delay` seconds, so a quick step never draws (`KERAS_ZOO_PROGRESS=always`: every step
draws). The line ends with how long the step took.

Example:

```python
from zoo_export.progress import Progress, track

for batch in track(batches, "features", total=40, unit="batches"):
    ...
with Progress("converting to tflite"):   # no total: elapsed time only
    flatbuffer = converter.convert()
```
"""

from __future__ import annotations

import os
import sys
import time
from typing import Iterable, Iterator, TextIO, TypeVar

T = TypeVar("T")

_quiet = False
#: seconds a step must last before its line appears
DELAY = 0.5
#: at most this many redraws a second
RATE = 10.0
WIDTH = 24


def set_quiet(quiet: bool) -> None:
    """Switch progress lines off (True) or back on for a terminal (False) in this process."""
    global _quiet
    _quiet = bool(quiet)


def enabled(stream: TextIO | None = None) -> bool:
    """Whether a progress line would be drawn on `stream` (default stderr) now."""
    stream = stream if stream is not None else sys.stderr
    if _quiet or os.environ.get("KERAS_ZOO_PROGRESS", "1") in ("0", "false", "no", "off"):
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


class Progress:
    """A step with an optional total; `update(n)` as work gets done, `close()` (or `with`) at the end."""

    def __init__(self, label: str, total: int | None = None, unit: str = "", stream: TextIO | None = None,
                 delay: float = DELAY, tick: bool = False):
        """`tick=True`: a step with no updates (one long call): the elapsed time is redrawn twice a second."""
        import threading

        self.label, self.total, self.unit = label, total, unit
        self.stream = stream if stream is not None else sys.stderr
        self.delay = 0.0 if os.environ.get("KERAS_ZOO_PROGRESS") == "always" else delay
        self.done = 0
        self.start = time.monotonic()
        self._drawn = 0.0
        self._shown = False
        self._on = enabled(self.stream)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._ticker = None
        if tick and self._on:
            self._ticker = threading.Thread(target=self._tick, name="zoo-progress", daemon=True)
            self._ticker.start()

    def _tick(self) -> None:
        while not self._stop.wait(0.5):
            self.update(0)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self._on:
            now = time.monotonic()
            if now - self.start >= self.delay and now - self._drawn >= 1.0 / RATE:
                with self._lock:
                    if self._on:
                        self._draw(now)

    def _line(self, now: float) -> str:
        seconds = f"{now - self.start:.1f} s"
        unit = f" {self.unit}" if self.unit else ""
        if self.total:
            filled = min(WIDTH, int(WIDTH * self.done / self.total))
            bar = "#" * filled + "." * (WIDTH - filled)
            return f"{self.label} [{bar}] {self.done}/{self.total}{unit} {seconds}"
        return f"{self.label} {self.done}{unit} {seconds}" if self.done else f"{self.label} {seconds}"

    def _draw(self, now: float) -> None:
        self.stream.write("\r" + self._line(now) + "\x1b[K")
        self.stream.flush()
        self._drawn, self._shown = now, True

    def close(self) -> None:
        """End the line (only if it was drawn): the final count and the step's time, then a newline."""
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join()
        with self._lock:
            if self._on and (self._shown or time.monotonic() - self.start >= self.delay):
                self._draw(time.monotonic())
                self.stream.write("\n")
                self.stream.flush()
            self._on = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def track(items: Iterable[T], label: str, total: int | None = None, unit: str = "",
          stream: TextIO | None = None) -> Iterator[T]:
    """Yield `items`, counting them on a progress line (see `Progress`)."""
    if total is None and hasattr(items, "__len__"):
        try:  # a tf.data.Dataset has __len__ but raises TypeError when its size is unknown
            total = len(items)  # type: ignore[arg-type]
        except TypeError:
            total = None
    progress = Progress(label, total, unit, stream)
    try:
        for item in items:
            yield item
            progress.update()
    finally:
        progress.close()
