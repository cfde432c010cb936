"""GPU fine-tuning throughput: bfloat16 + XLA vs float32, model FLOPs utilisation, cached-probe speed-up.

Run by `benchmarks/gpu.sh` on a machine with a GPU; `--tiny` runs the same code small
on a CPU (what the test suite checks, so the script is not broken when a GPU comes).
Writes a JSON file with every figure and the GPU model.
"""

from __future__ import annotations

import argparse
import json
import time

from _common import forward_flops

# Dense peak FLOP/s by GPU name fragment (vendor datasheets, without sparsity).
PEAKS = {
    "H200": {"bfloat16": 989e12, "float32": 67e12},
    "H100": {"bfloat16": 989e12, "float32": 67e12},
    "A100": {"bfloat16": 312e12, "float32": 19.5e12},
    "L4": {"bfloat16": 121e12, "float32": 30e12},
}


def gpu_name() -> str:
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "none (CPU)"
    details = tf.config.experimental.get_device_details(gpus[0])
    return details.get("device_name", "GPU")


def throughput(build, make_batch, batch: int, steps: int, precision: str, jit: bool) -> tuple[float, float]:
    """(samples/s, training FLOPs per sample) of `fit` on in-memory batches."""
    import keras
    import tensorflow as tf

    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    model = build()
    x, y = make_batch(batch)
    flops = 3 * forward_flops(model, x)
    ds = tf.data.Dataset.from_tensors((x, y)).repeat(steps).prefetch(-1)
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=jit)
    model.fit(tf.data.Dataset.from_tensors((x, y)).repeat(3), epochs=1, verbose=0)  # build + compile
    start = time.perf_counter()
    model.fit(ds, epochs=1, verbose=0)
    seconds = time.perf_counter() - start
    keras.config.set_dtype_policy("float32")
    return batch * steps / seconds, flops


def resnet50(size: int):
    import keras

    def build():
        base = keras.applications.ResNet50(weights=None, include_top=False, input_shape=(size, size, 3), pooling="avg")
        return keras.Sequential([base, keras.layers.Dense(10, activation="softmax", dtype="float32")])

    def batch(n):
        import numpy as np

        return (np.random.default_rng(0).uniform(0, 1, (n, size, size, 3)).astype("float32"),
                np.random.default_rng(1).integers(0, 10, n))

    return build, batch


def minilm(seq: int):
    import keras
    import numpy as np

    def build():
        import keras_hub

        from zoo_text.backbones import minilm_dir  # the offline MiniLM of the text plugin

        backbone = keras_hub.models.BertBackbone.from_preset(str(minilm_dir()))
        inputs = {k: keras.Input((seq,), dtype="int32", name=k) for k in ("token_ids", "padding_mask", "segment_ids")}
        pooled = backbone(inputs)["pooled_output"]
        return keras.Model(inputs, keras.layers.Dense(4, activation="softmax", dtype="float32")(pooled))

    def batch(n):
        rng = np.random.default_rng(0)
        return ({"token_ids": rng.integers(1000, 30000, (n, seq)).astype("int32"),
                 "padding_mask": np.ones((n, seq), "int32"), "segment_ids": np.zeros((n, seq), "int32")},
                rng.integers(0, 4, n))

    return build, batch


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="gpu_results.json")
    parser.add_argument("--tiny", action="store_true", help="small sizes, runs on a CPU")
    args = parser.parse_args()
    name = gpu_name()
    peak = next((v for k, v in PEAKS.items() if k in name), None)
    size, seq, batch, steps = (64, 32, 8, 3) if args.tiny else (224, 128, 256, 50)
    results = {"gpu": name, "peak_flops": peak, "tiny": args.tiny, "models": {}}
    models = {"resnet50": resnet50(size)}
    try:
        models["minilm_l6"] = minilm(seq)
    except ImportError as exc:
        results["minilm_l6"] = f"skipped: {exc}"
    for key, (build, make_batch) in models.items():
        row = {}
        for precision, jit in (("float32", False), ("bfloat16", True)):
            try:
                sps, flops = throughput(build, make_batch, batch, steps, precision, jit)
            except ImportError as exc:
                row = {"skipped": str(exc)}
                break
            row[f"{precision}{'+xla' if jit else ''}"] = {
                "samples_per_s": sps, "train_gflops_per_sample": flops / 1e9,
                "mfu": (sps * flops / peak[precision]) if peak else None}
        if len(row) == 2:
            row["speedup_bf16_xla_over_fp32"] = row["bfloat16+xla"]["samples_per_s"] / row["float32"]["samples_per_s"]
        results["models"][key] = row
        print(key, json.dumps(row, default=str), flush=True)
    results["linear_probe"] = linear_probe(args.tiny)
    print("linear_probe", json.dumps(results["linear_probe"]), flush=True)
    with open(args.out, "w") as fh:
        json.dump(results, fh, indent=2, default=str)
    print(f"wrote {args.out}")


def linear_probe(tiny: bool) -> dict:
    """Cached probe vs naive frozen fit through `finetune()` (the CPU benchmark's recipe)."""
    import tempfile

    from _bench_plugin import plugin
    from zoo.training.finetune import finetune
    from zoo.training.recipe import Recipe

    out = {}
    for cache in (False, True):
        recipe = Recipe.resolve(plugin.recipe, overrides={
            "strategy": "linear-probe", "cache_features": cache, "epochs": 2 if tiny else 10,
            "options": {"samples": 64 if tiny else 5000}}, option_defaults=plugin.data.options)
        result = finetune(plugin, recipe, runs_dir=tempfile.mkdtemp(), verbose=0)
        out["cached" if cache else "naive"] = {"timings": result.timings, "val_accuracy": result.metrics["accuracy"]}
    out["train_speedup"] = out["naive"]["timings"]["train"] / out["cached"]["timings"]["train"]
    return out


if __name__ == "__main__":
    main()
