"""Step time with the real `tf.data` input pipeline / with in-memory synthetic tensors (goal <= 1.05).

The real side is what `zoo finetune` feeds `fit`: the vision plugin's image folder
(PNG files decoded, resized, cached) through the engine's shuffle/batch/augment/
prefetch. The synthetic side feeds the same model tensors already in memory, of
the same shapes. Same model, same batch size, alternating, several repeats. The
augmentation layers (random flip, rotation, zoom, contrast) cost compute of their
own on the same cores; that ratio is reported separately.
"""

from __future__ import annotations

import time

from _common import alternate, ratio_summary, report, run_cli


def main(epochs: int = 3, repeats: int = 3, batch: int = 32) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from zoo import registry
    from zoo.training.finetune import assemble, batched, compile_metrics, labels_of

    plugin = registry.get_plugin("vision")
    recipe = plugin.resolve_recipe(overrides={"strategy": "full", "batch_size": batch, "weights": "none"})
    bundle = plugin.data.demo(recipe, plugin.options_for(recipe))
    parts = assemble(plugin, recipe, bundle)
    model = parts.model
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=compile_metrics(plugin.task))
    n = int(len(labels_of(bundle.train)))
    real = batched(bundle.train, recipe, training=True, size=n)
    augmented = batched(bundle.train, recipe, training=True, augment=bundle.augment, size=n)
    name, spec = next(iter(bundle.input_signature.items()))
    x = np.random.default_rng(0).uniform(0, 255, (n,) + tuple(spec.shape)).astype("float32")
    y = np.random.default_rng(1).integers(0, len(bundle.class_names), n).astype("int32")
    synthetic = tf.data.Dataset.from_tensor_slices(({name: x}, y)).batch(batch).cache().prefetch(-1)
    steps = -(-n // batch)
    for ds in (real, augmented, synthetic):  # build the train function and fill the decode cache first
        model.fit(ds, epochs=1, verbose=0)

    def step_time(ds):
        def run():
            start = time.perf_counter()
            model.fit(ds, epochs=epochs, verbose=0)
            return (time.perf_counter() - start) / (epochs * steps)
        return run

    t_real, t_syn, t_aug = [], [], []
    for _ in range(repeats):
        a, b = alternate(step_time(real), step_time(synthetic), 1)
        t_real += a
        t_syn += b
        t_aug.append(step_time(augmented)())
    summary = ratio_summary(t_real, t_syn)
    aug_row = report("input_pipeline[+augmentation]", "real pipeline with augmentation / synthetic (step time)",
           ratio_summary(t_aug, t_syn), "reported", None)
    row = report("input_pipeline", "real tf.data step time / in-memory synthetic", summary, "<= 1.05",
                  summary["median"] <= 1.05,
                  {"step_ms_real": [round(t * 1e3, 1) for t in t_real],
                   "step_ms_synthetic": [round(t * 1e3, 1) for t in t_syn],
                   "step_ms_real_augmented": [round(t * 1e3, 1) for t in t_aug],
                   "images": n, "input": list(spec.shape), "model": "MobileNetV2, all layers training"})
    return {"rows": [row, aug_row]}


if __name__ == "__main__":
    run_cli(main, {'repeats': 2, 'epochs': 2})
