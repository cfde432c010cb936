"""GPU fine-tuning throughput: bfloat16 + XLA vs float32, model FLOPs utilisation, cached-probe speed-up.

Run by `benchmarks/gpu.sh` on a machine with a GPU; `--tiny` runs the same code small on a CPU
(what the test suite checks, so the script is not broken when a GPU comes).

The model code is plain Keras 3, so it runs on the TensorFlow backend (what keras-zoo trains with)
and on the JAX backend (where TensorFlow's CUDA wheels cannot be installed; the figures name the
backend). Throughput is the compiled training step (`train_on_batch`) on a batch already on the
device: the input pipeline is measured by the CPU suite (`input_pipeline.py`). Training FLOPs per
sample are 3x the forward pass's FLOPs as counted by the backend's own compiler (TensorFlow's
profiler, XLA's cost analysis); utilisation is throughput x FLOPs / peak, against both the datasheet
peak and a bf16 / float32 matrix product measured in the same run. The results file is rewritten
after each section, so a run cut short keeps what it measured.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import forward_flops

# Dense peak FLOP/s by GPU name fragment (vendor datasheets, without sparsity). "tf32" is what a
# float32 matrix product may run at when the backend allows TensorFloat-32 (both do by default).
PEAKS = {
    "H200": {"bfloat16": 989e12, "tf32": 494e12, "float32": 67e12},
    "H100": {"bfloat16": 989e12, "tf32": 494e12, "float32": 67e12},
    "A100": {"bfloat16": 312e12, "tf32": 156e12, "float32": 19.5e12},
    "L4": {"bfloat16": 121e12, "tf32": 60e12, "float32": 30e12},
}

# all-MiniLM-L6-v2's architecture (the text plugin's default backbone). Throughput does not depend
# on the weights' values, so the benchmark builds it with fresh weights: the checkpoint (90 MB)
# need not travel to the GPU machine.
MINILM = dict(vocabulary_size=30522, num_layers=6, num_heads=12, hidden_dim=384, intermediate_dim=1536,
              max_sequence_length=512)


def accelerator() -> str:
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return tf.config.experimental.get_device_details(gpus[0]).get("device_name", "GPU") if gpus else "none (CPU)"
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return device.device_kind if device.platform == "gpu" else "none (CPU)"
    return "unknown"


def on_device(structure):
    """The same structure as backend tensors on the default device (the GPU when there is one)."""
    import keras

    return keras.tree.map_structure(keras.ops.convert_to_tensor, structure)


def matmul_flops(dtype: str, n: int, repeats: int = 20) -> float:
    """FLOP/s of an n x n x n matrix product in `dtype`, measured (the ceiling for utilisation)."""
    import keras
    import numpy as np

    rng = np.random.default_rng(0)
    a = keras.ops.convert_to_tensor((rng.standard_normal((n, n)) / np.sqrt(n)).astype("float32"), dtype=dtype)

    def run(times):
        product = a
        for _ in range(times):  # a chain, so that reading the last waits for every product
            product = keras.ops.matmul(a, product)  # entries stay near 1: a's variance is 1/n
        keras.ops.convert_to_numpy(keras.ops.cast(product[0, 0], "float32"))

    run(2)  # compile and warm up the same calls that are timed
    start = time.perf_counter()
    run(repeats)
    return 2 * n ** 3 * repeats / (time.perf_counter() - start)


def throughput(build, make_batch, batch: int, steps: int, precision: str) -> dict:
    """Training samples/s and FLOPs per sample of `build()`'s model at `precision`."""
    import keras

    backend = keras.backend.backend()
    jit = precision == "bfloat16" or backend == "jax"  # the JAX backend always compiles with XLA
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        model = build()
        x, y = make_batch(batch)
        flops = 3 * forward_flops(model, x)
        model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit)
        x, y = on_device(x), on_device(y)
        start = time.perf_counter()
        for _ in range(3):  # trace, compile, warm up
            model.train_on_batch(x, y)
        compile_s = time.perf_counter() - start
        start = time.perf_counter()
        for _ in range(steps):
            model.train_on_batch(x, y)  # returns the loss as a number: one sync per step
        seconds = time.perf_counter() - start
    finally:
        keras.config.set_dtype_policy("float32")
    return {"samples_per_s": batch * steps / seconds, "train_gflops_per_sample": flops / 1e9,
            "batch": batch, "steps": steps, "xla": jit, "compile_s": compile_s}


def resnet50(size: int):
    import keras
    import numpy as np

    def build():
        base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(size, size, 3), pooling="avg")
        return keras.Sequential([base, keras.layers.Dense(10, activation="softmax", dtype="float32")])

    def batch(n):
        rng = np.random.default_rng(0)
        return rng.uniform(0, 1, (n, size, size, 3)).astype("float32"), rng.integers(0, 10, n).astype("int32")

    return build, batch


def minilm(seq: int, tiny: bool):
    import keras
    import numpy as np

    def build():
        import keras_hub

        config = dict(MINILM, num_layers=2) if tiny else MINILM
        backbone = keras_hub.models.BertBackbone(**config)
        inputs = {k: keras.Input((seq,), dtype="int32", name=k) for k in ("token_ids", "padding_mask", "segment_ids")}
        pooled = backbone(inputs)["pooled_output"]
        return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", dtype="float32")(pooled))

    def batch(n):
        rng = np.random.default_rng(0)
        return ({"token_ids": rng.integers(1000, 30000, (n, seq)).astype("int32"),
                 "padding_mask": np.ones((n, seq), "int32"), "segment_ids": np.zeros((n, seq), "int32")},
                rng.integers(0, 4, n).astype("int32"))

    return build, batch


def linear_probe(tiny: bool) -> dict:
    """Cached linear probe vs naive frozen fit, 10 epochs, MobileNetV2 (the CPU benchmark's data).

    keras-zoo's own cached strategy runs on tf.data; this is the same method in plain Keras so that
    it runs on any backend: naive = `fit` of the frozen backbone + head for 10 epochs at batch 32;
    cached = one inference pass over the images at batch 256, then `fit` of the head alone on the
    features for the same 10 epochs. Timed around the `fit`/`predict` calls.
    """
    import keras
    import numpy as np

    from _bench_plugin import CLASSES, make_images, shipped_weights

    size, n, epochs = (32, 80, 2) if tiny else (96, 5120, 10)  # batches divide the splits evenly
    x, y = make_images(n, seed=0, size=size)
    n_val = n // 5
    weights = shipped_weights() if size == 96 else None

    def backbone():
        base = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(size, size, 3),
                                              pooling="avg")
        if weights:
            base.load_weights(weights)
        base.trainable = False
        inputs = keras.Input((size, size, 3))
        return keras.Model(inputs, base(keras.layers.Rescaling(1 / 127.5, offset=-1)(inputs), training=False))

    def head(width):
        inputs = keras.Input((width,))
        return keras.Model(inputs, keras.layers.Dense(len(CLASSES), activation="softmax")(inputs))

    out = {"images": n, "size": size, "epochs": epochs, "imagenet_weights": bool(weights)}
    # Each side runs twice on the same model objects: the first call includes tracing and compiling
    # ("cold"), the second reuses the compiled functions ("warm"), which is what the epochs cost.
    features = backbone()
    model = keras.Sequential([features, head(features.output.shape[-1])])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    probe_features = backbone()
    probe = head(probe_features.output.shape[-1])
    probe.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])

    def naive():
        start = time.perf_counter()
        model.fit(x[n_val:], y[n_val:], batch_size=32, epochs=epochs, verbose=0)
        return time.perf_counter() - start

    def cached():
        start = time.perf_counter()
        features = probe_features.predict(x, batch_size=256, verbose=0)
        probe.fit(features[n_val:], y[n_val:], batch_size=32, epochs=epochs, verbose=0)
        return time.perf_counter() - start, features

    for run in ("cold", "warm"):
        out[f"naive_{run}_s"] = naive()
        out[f"cached_{run}_s"], features = cached()
        out[f"speedup_{run}"] = out[f"naive_{run}_s"] / out[f"cached_{run}_s"]
    out["naive_val_accuracy"] = float(model.evaluate(x[:n_val], y[:n_val], batch_size=256, verbose=0)[1])
    out["cached_val_accuracy"] = float(probe.evaluate(features[:n_val], y[:n_val], batch_size=256, verbose=0)[1])
    return out


def main() -> None:
    import keras

    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="gpu_results.json")
    parser.add_argument("--tiny", action="store_true", help="small sizes, runs on a CPU")
    args = parser.parse_args()
    from _common import machine

    name = accelerator()
    peak = next((v for k, v in PEAKS.items() if k in name), None)
    results = {"date": time.strftime("%Y-%m-%d"), "accelerator": name, "backend": keras.backend.backend(),
               "datasheet_peak_flops": peak, "tiny": args.tiny, "machine": machine(), "models": {}}

    def save():
        with open(args.out, "w") as fh:
            json.dump(results, fh, indent=2, default=str)

    n = 512 if args.tiny else 8192
    results["measured_matmul_flops"] = {dtype: matmul_flops(dtype, n) for dtype in ("bfloat16", "float32")}
    print("matmul", json.dumps(results["measured_matmul_flops"]), flush=True)
    save()
    size, seq = (64, 32) if args.tiny else (224, 128)
    models = {"resnet50": (resnet50(size), 8 if args.tiny else 256, f"{size} px"),
              "minilm_l6": (minilm(seq, args.tiny), 8 if args.tiny else 512, f"{seq} tokens")}
    steps = 2 if args.tiny else 30
    for key, ((build, make_batch), batch, described) in models.items():
        row = {"input": described}
        for precision in ("float32", "bfloat16"):
            try:
                figures = throughput(build, make_batch, batch, steps, precision)
            except ImportError as exc:  # keras-hub missing: say so, keep the other rows
                row = {"input": described, "skipped": str(exc)}
                break
            achieved = figures["samples_per_s"] * figures["train_gflops_per_sample"] * 1e9
            figures["achieved_tflops"] = achieved / 1e12
            figures["utilisation_of_measured_matmul"] = achieved / results["measured_matmul_flops"][precision]
            if peak:
                # float32 products run as TensorFloat-32 where the measured rate is above the float32 peak
                mode = "tf32" if precision == "float32" and results["measured_matmul_flops"]["float32"] > 1.2 * peak[
                    "float32"] else precision
                figures["matmul_mode"] = mode
                figures["mfu_datasheet"] = achieved / peak[mode]
            row[precision] = figures
        if "bfloat16" in row:
            row["speedup_bf16_over_fp32"] = row["bfloat16"]["samples_per_s"] / row["float32"]["samples_per_s"]
        results["models"][key] = row
        print(key, json.dumps(row, default=str), flush=True)
        save()
    results["linear_probe"] = linear_probe(args.tiny)
    print("linear_probe", json.dumps(results["linear_probe"]), flush=True)
    save()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
