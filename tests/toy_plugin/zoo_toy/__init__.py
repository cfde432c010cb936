"""A tiny test plugin: 16x16 RGB images, a 3-block CNN with batch norm, 3 classes.

It follows the public contract (version 2) only, like any third-party plugin, and trains
in seconds, so the engine's tests can check what each strategy really does.
`load(path)` reads an `.npz` with `x` (N, 16, 16, 3) pixels 0..255 and `y` labels.

A second plugin, `toy-ordinal` (`ordinal_plugin`), brings a task kind the core does not
ship (`zoo_toy.ordinal.Ordinal`: ordered classes as K-1 cumulative sigmoids), so the tests
can prove that such a kind trains, exports, verifies and predicts with no core change.
"""

from zoo.api import BackboneSpec, DataAdapter, DataBundle, Option, Plugin, Rows, TaskSpec, TensorSpec
from zoo_toy.ordinal import Ordinal

SIZE = 16
CLASSES = ["red", "green", "blue"]
LEVELS = ["low", "mid", "high"]


def build_backbone(weights, input_signature, options=None):
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


def preprocessing(input_signature, options):
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


def make_levels(n, seed):
    """Images whose brightness level (low, mid, high) is the ordered class."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = (np.arange(n) % len(LEVELS)).astype("int32")
    rng.shuffle(y)
    base = np.array([50.0, 120.0, 190.0])[y]
    x = base[:, None, None, None] + rng.normal(0, 25, size=(n, SIZE, SIZE, 3))
    return x.clip(0, 255).astype("float32"), y


def to_bundle(x, y, recipe, class_names=CLASSES):
    import tensorflow as tf

    from zoo.data import split_indices

    train, val, test = split_indices(y, recipe.val_fraction, recipe.test_fraction, recipe.seed)

    def ds(ix):
        return tf.data.Dataset.from_tensor_slices(({"pixels": x[ix]}, y[ix]))

    return DataBundle(train=ds(train), validation=ds(val), test=ds(test) if len(test) else None,
                      class_names=list(class_names), input_signature={"pixels": TensorSpec((SIZE, SIZE, 3))},
                      metadata={"generator": "zoo_toy"})


class ToyData(DataAdapter):
    """Generated colour images (`demo`), `.npz` files (`load`, `read_inputs`)."""

    def __init__(self, make=make_arrays, class_names=CLASSES):
        self.make = make
        self.class_names = class_names

    def demo(self, recipe, options):
        x, y = self.make(options["samples"], recipe.seed)
        return to_bundle(x, y, recipe, self.class_names)

    def load(self, source, recipe, options):
        x, y = _read_npz(source, labels=True)
        return to_bundle(x, y, recipe, self.class_names)

    def read_inputs(self, paths, input_signature, options, deployment):
        import numpy as np

        arrays, sources = [], []
        for path in paths:
            x, _ = _read_npz(path, labels=False)
            arrays.append(x)
            sources += [f"{path}#{i}" for i in range(len(x))]
        return Rows({"pixels": np.concatenate(arrays)}, sources)

    def write_examples(self, folder, recipe, options):
        import numpy as np

        from pathlib import Path

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        x, y = self.make(12, recipe.seed + 1)
        path = folder / "examples.npz"
        np.savez(path, x=x, y=y)
        return [str(path)]


def _read_npz(source, labels):
    import numpy as np

    from zoo.errors import DataError

    try:
        data = np.load(source)
        x = data["x"].astype("float32")
        y = data["y"] if labels else None
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"{source}: not a toy .npz with arrays x and y ({exc}); write one with "
                        "numpy.savez(path, x=images, y=labels)") from None
    return x, y


BACKBONE = BackboneSpec(
    name="toy_cnn", build=build_backbone, blocks=blocks, preprocessing=preprocessing,
    weights={"none": "random initialisation", "PATH": "a .weights.h5 file"}, default_weights="none",
    summary="3 conv blocks with batch norm", parameters="3.8K")

OPTIONS = {"samples": Option(300, "demo images to generate", min=12)}

plugin = Plugin(
    name="toy",
    domain="testing",
    summary="Tiny 3-class colour CNN for keras-zoo's own tests",
    backbones={"toy_cnn": BACKBONE},
    default_backbone="toy_cnn",
    task=TaskSpec(kind="multiclass"),
    data=ToyData(),
    options=dict(OPTIONS),
    recipe={"epochs": 3, "batch_size": 32, "learning_rate": 0.01, "warmup_epochs": 0, "patience": 0},
    contract=2,
)

ordinal_plugin = Plugin(
    name="toy-ordinal",
    domain="testing",
    summary="Brightness levels as ordered classes: a task kind of the plugin's own",
    backbones={"toy_cnn": BACKBONE},
    default_backbone="toy_cnn",
    task=Ordinal(),
    data=ToyData(make_levels, LEVELS),
    options=dict(OPTIONS),
    recipe={"strategy": "full", "epochs": 6, "batch_size": 32, "learning_rate": 0.01, "warmup_epochs": 0,
            "patience": 0},
    contract=2,
)
