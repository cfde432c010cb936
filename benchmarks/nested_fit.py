"""A control for the detection speed row: two hand-written `fit`s of the same detector, nothing else.

The row (`detection.py`) runs one epoch of a hand-written `fit` inside each `zoo finetune` epoch's
end. This runs two identical hand-written detectors (`detection.hand_detector`) the same way, one
`fit` nested in the other's `on_epoch_end`, and reports the outer's training speed over the inner's,
epoch by epoch (training steps only: each side's timer comes first among its callbacks, so no
epoch-end work is timed). `--callbacks` gives one side keras-zoo's own training callbacks (those
`zoo finetune` adds: training guard, CSV history, backup, early stopping, TensorBoard), or one of
them; `--sequential` runs the two `fit`s one after the other instead of nested. With no callbacks
on either side the ratio measures the nesting alone; a ratio far from 1 with callbacks on the inner
side is a cost the row charges to the outer side.

```
python benchmarks/nested_fit.py                              # keras-zoo's callbacks on the inner side
python benchmarks/nested_fit.py --callbacks none             # neither side: the nesting alone
python benchmarks/nested_fit.py --callbacks backup --side outer --epochs 13
python benchmarks/nested_fit.py --sequential                 # not nested
```
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

CHOICES = {"zoo": None, "none": (), "backup": ("AtomicBackupAndRestore",), "early-stopping": ("EarlyStopping",),
           "tensorboard": ("TensorBoard",)}


def main(callbacks: str = "zoo", side: str = "inner", epochs: int = 10, sequential: bool = False) -> dict:
    import keras

    from _common import ratio_summary, report
    from detection import hand_detector
    from finetune_overhead import EpochTimer
    from zoo.training.finetune import _callbacks

    _, recipe, _, outer, outer_train, n_train = hand_detector(epochs)
    _, _, _, inner, inner_train, _ = hand_detector(epochs)
    extra, _ = _callbacks(Path(tempfile.mkdtemp(prefix="nested-fit-")), "loss", "min", recipe, None)
    if CHOICES[callbacks] is not None:
        extra = [cb for cb in extra if type(cb).__name__ in CHOICES[callbacks]]
    outer_cbs, inner_cbs = (extra, []) if side == "outer" else ([], extra)
    outer_timer, inner_timer = EpochTimer(), EpochTimer()

    def inner_epoch(epoch):  # initial_epoch: the backup would otherwise resume past a one-epoch fit
        inner.fit(inner_train, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                  callbacks=[inner_timer.callback] + inner_cbs)

    class Nested(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            inner_epoch(epoch)

    if sequential:
        for epoch in range(epochs):
            outer.fit(outer_train, initial_epoch=epoch, epochs=epoch + 1, verbose=0,
                      callbacks=[outer_timer.callback] + outer_cbs)
            inner_epoch(epoch)
    else:
        outer.fit(outer_train, epochs=epochs, verbose=0, callbacks=[outer_timer.callback] + outer_cbs + [Nested()])
    # the first epoch of each traces, the second still settles
    outer_ips = [n_train / t for t in outer_timer.times[2:]]
    inner_ips = [n_train / t for t in inner_timer.times[2:]]
    how = "one after the other" if sequential else "the inner nested in the outer's epoch end"
    return report("detection[vision-detect] nested fit control",
                  f"outer / inner hand-written fit training images/s, {how}, keras-zoo callbacks "
                  f"{callbacks!r} on the {side} side", ratio_summary(outer_ips, inner_ips), "reported", None,
                  {"outer_images_per_s": outer_ips, "inner_images_per_s": inner_ips})


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--callbacks", choices=sorted(CHOICES), default="zoo")
    parser.add_argument("--side", choices=["inner", "outer"], default="inner")
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--sequential", action="store_true")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()
    result = main(args.callbacks, args.side, args.epochs, args.sequential)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2, default=str))
