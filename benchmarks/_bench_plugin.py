"""A benchmark-only plugin: MobileNetV2 on in-memory synthetic images, through the public contract.

It keeps the engine benchmarks independent of any data plugin; the images are
coloured textured blobs on clutter, so a head has something to learn.
"""

from __future__ import annotations

import numpy as np

from zoo.api import BackboneSpec, DataAdapter, DataBundle, Option, Plugin, TaskSpec, TensorSpec

SIZE = 96
CLASSES = ["a", "b", "c", "d"]


def make_images(n: int, seed: int = 0, size: int = SIZE) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % len(CLASSES)).astype("int32")
    rng.shuffle(y)
    x = rng.uniform(0, 255, (n, size, size, 3)).astype("float32") * 0.5
    grid = np.stack(np.meshgrid(np.arange(size), np.arange(size), indexing="ij"), -1)
    for i, label in enumerate(y):
        centre = rng.uniform(size * 0.3, size * 0.7, 2)
        mask = np.linalg.norm(grid - centre, axis=-1) < size * 0.22
        stripes = (np.sin(grid[..., label % 2] * (0.3 + 0.3 * label)) > 0)
        x[i][mask & stripes, label % 3] = 230
    return x, y


def build(weights, signature, options):
    import keras

    model = keras.applications.MobileNetV2(include_top=False, weights=None, input_shape=(SIZE, SIZE, 3))
    if weights not in (None, "none"):
        model.load_weights(weights)
    return model


def blocks(model):
    names = [layer.name for layer in model.layers if layer.weights]
    return [names[: len(names) // 2], names[len(names) // 2:]]


def preprocessing(signature, options):
    import keras

    return keras.layers.Rescaling(1 / 127.5, offset=-1, name="scale")


class Synthetic(DataAdapter):
    def demo(self, recipe, options):
        import tensorflow as tf

        x, y = make_images(options["samples"], recipe.seed)
        n_val = int(len(y) * recipe.val_fraction)

        def ds(a, b):
            return tf.data.Dataset.from_tensor_slices(({"image": a}, b))

        return DataBundle(ds(x[n_val:], y[n_val:]), ds(x[:n_val], y[:n_val]), None, list(CLASSES),
                          {"image": TensorSpec((SIZE, SIZE, 3))})


plugin = Plugin(
    name="bench", domain="benchmark", summary="MobileNetV2 on synthetic images",
    backbones={"mobilenet_v2": BackboneSpec("mobilenet_v2", build, blocks, preprocessing,
                                            weights={"none": "random", "PATH": "a .weights.h5"})},
    default_backbone="mobilenet_v2", task=TaskSpec("multiclass"), data=Synthetic(),
    options={"samples": Option(1000, "synthetic images to generate", min=8)},
    recipe={"warmup_epochs": 0, "patience": 0, "test_fraction": 0.0, "val_fraction": 0.2},
    contract=2,
)


def shipped_weights() -> str | None:
    """The ImageNet MobileNetV2 notop weights, when the vision plugin (or a local copy) has them."""
    import glob
    import os

    candidates = glob.glob(os.path.join(os.path.dirname(__file__), "..", "plugins", "vision", "zoo_vision", "**",
                                        "mobilenet_v2*notop*.weights.h5"), recursive=True)
    return candidates[0] if candidates else None
