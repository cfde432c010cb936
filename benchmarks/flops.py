"""Achieved training FLOP/s / measured float32 matmul FLOP/s on the same cores (reported).

Training FLOPs per sample are 3x the forward FLOPs that TensorFlow's profiler counts
on the traced inference graph (forward + two backward matmuls per layer, the usual
estimate). The peak is a large float32 matmul timed on this machine.
"""

from __future__ import annotations

import time

from _common import forward_flops, report, run_cli


def matmul_flops(n: int = 2048, repeats: int = 10) -> float:
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    (a @ b).numpy()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        (a @ b).numpy()
        best = min(best, time.perf_counter() - start)
    return 2 * n ** 3 / best


def main(samples: int = 512, batch: int = 64, epochs: int = 3, size: int = 96) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    model = keras.applications.MobileNetV2(weights=None, input_shape=(size, size, 3), classes=10)
    per_sample = 3 * forward_flops(model, np.zeros((1, size, size, 3), "float32"))
    x = np.random.default_rng(0).normal(size=(samples, size, size, 3)).astype("float32")
    y = np.random.default_rng(1).integers(0, 10, samples)
    ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(batch).cache().prefetch(-1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    model.fit(ds, epochs=1, verbose=0)
    start = time.perf_counter()
    model.fit(ds, epochs=epochs, verbose=0)
    achieved = per_sample * samples * epochs / (time.perf_counter() - start)
    peak = matmul_flops()
    ratio = achieved / peak
    return report("flops", "training FLOP/s / float32 matmul FLOP/s", {"median": ratio, "min": ratio, "max": ratio, "n": 1},
                  "reported", None, {"model": f"MobileNetV2 {size}px batch {batch}",
                                      "train_gflops_per_sample": per_sample / 1e9,
                                      "achieved_gflops_s": achieved / 1e9, "matmul_gflops_s": peak / 1e9})


if __name__ == "__main__":
    run_cli(main, {"samples": 256, "epochs": 2})
