"""A tiny test plugin: 16x16 RGB images, a 3-block CNN with batch norm, 3 classes.

It follows the public contract only, like any third-party plugin, and trains in
seconds, so the engine's tests can check what each strategy really does.
`load(path)` reads an `.npz` with `x` (N, 16, 16, 3) pixels 0..255 and `y` labels.
"""

from zoo.api import BackboneSpec, DataAdapter, DataBundle, Plugin, TaskSpec, TensorSpec

SIZE = 16
CLASSES = ["red", "green", "blue"]


def build_backbone(weights, input_signature):
    import keras

    inputs = keras.Input((SIZE, SIZE, 3), name="pixels")
    x = inputs
    for i, (filters, stride) in enumerate([(8, 1), (16, 2), (16, 2)], start=1):
        x = keras.layers.Conv2D(filters, 3, strides=stride, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
    model = keras.Model(inputs, x, name="toy_cnn")
    if weights not in (None, "none", "random"):
        from zoo.errors import WeightsError

        try:
            model.load_weights(weights)
        except (OSError, ValueError) as exc:
            raise WeightsError(f"cannot load toy weights from {weights}: {exc}") from None
    return model


def blocks(model):
    return [[f"conv{i}", f"bn{i}", f"relu{i}"] for i in (1, 2, 3)]


def preprocessing(input_signature):
    import keras

    return keras.layers.Rescaling(1.0 / 127.5, offset=-1.0, name="scale")


def make_arrays(n, seed):
    """Images whose dominant colour is the class, with noise and random blobs."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = np.arange(n) % len(CLASSES)
    rng.shuffle(y)
    x = rng.uniform(0, 140, size=(n, SIZE, SIZE, 3)).astype("float32")
    for i, label in enumerate(y):
        r0, c0 = rng.integers(0, SIZE // 2, size=2)
        x[i, r0:r0 + SIZE // 2, c0:c0 + SIZE // 2, label] += 110
    return x.clip(0, 255), y.astype("int32")


def to_bundle(x, y, options):
    import numpy as np
    import tensorflow as tf

    n = len(y)
    n_val = max(1, int(n * options.val_fraction))
    n_test = int(n * options.test_fraction)
    idx = np.random.default_rng(options.seed).permutation(n)
    parts = np.split(idx, [n - n_val - n_test, n - n_test])

    def ds(ix):
        return tf.data.Dataset.from_tensor_slices(({"pixels": x[ix]}, y[ix]))

    return DataBundle(train=ds(parts[0]), validation=ds(parts[1]), test=ds(parts[2]) if n_test else None,
                      class_names=list(CLASSES), input_signature={"pixels": TensorSpec((SIZE, SIZE, 3))},
                      metadata={"generator": "zoo_toy"})


class ToyData(DataAdapter):
    options = {"samples": 300}

    def demo(self, options):
        x, y = make_arrays(int(options.options.get("samples", 300)), options.seed)
        return to_bundle(x, y, options)

    def load(self, source, options):
        import numpy as np

        from zoo.errors import DataError

        try:
            data = np.load(source)
            x, y = data["x"].astype("float32"), data["y"]
        except (OSError, ValueError, KeyError) as exc:
            raise DataError(f"{source}: not a toy .npz with arrays x and y ({exc})") from None
        return to_bundle(x, y, options)

    def read_inputs(self, paths, input_signature):
        import numpy as np

        return {"pixels": np.concatenate([np.load(p)["x"].astype("float32") for p in paths])}


plugin = Plugin(
    name="toy",
    domain="testing",
    summary="Tiny 3-class colour CNN for keras-zoo's own tests",
    backbones={"toy_cnn": BackboneSpec(
        name="toy_cnn", build=build_backbone, blocks=blocks, preprocessing=preprocessing,
        weights={"none": "random initialisation", "PATH": "a .weights.h5 file"}, default_weights="none",
        summary="3 conv blocks with batch norm", parameters="3.8K")},
    default_backbone="toy_cnn",
    task=TaskSpec(kind="multiclass"),
    data=ToyData(),
    recipe={"epochs": 3, "batch_size": 32, "learning_rate": 0.01, "warmup_epochs": 0, "patience": 0},
)
