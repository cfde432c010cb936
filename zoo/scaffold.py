"""`zoo plugins new NAME`: write a new plugin distribution that installs with pip and passes `check_plugin`.

The plugin it writes is small but complete: 1-D signals (one CSV row per sample, a
`label` column and `x0..xN` values), a generated demo (sine, square and sawtooth waves
with noise), a Conv1D backbone in two blocks, declared options, `read_inputs` /
`write_examples` for `zoo predict`, a test that runs `zoo.testing.check_plugin`, and a
README. Replace the data adapter and the backbone with your domain's; the rest stays.

Example:

```python
from zoo.scaffold import new_plugin
folder = new_plugin("acme-signals", "plugins/")   # plugins/keras-zoo-acme-signals/
```
"""

from __future__ import annotations

from pathlib import Path
from string import Template

from zoo.errors import ConfigError

PYPROJECT = Template('''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "keras-zoo-$name"
version = "0.1.0"
description = "keras-zoo plugin $name: 1-D signal classification (replace with your domain)."
readme = "README.md"
requires-python = ">=3.10"
dependencies = ["keras-zoo", "numpy"]

[project.entry-points."keras_zoo.plugins"]
$name = "$module:plugin"

[tool.setuptools.packages.find]
include = ["$module", "$module.*"]
''')

MODULE = Template('''\
"""keras-zoo plugin `$name`: classify 1-D signals (one CSV row per sample).

Written by `zoo plugins new` against the plugin contract ${contract} (`zoo.api`, guide in
keras-zoo's docs/plugins.md). Importing this module imports neither TensorFlow nor Keras.

Data: a CSV with a `label` column and `x0 .. x{length-1}` value columns, one row per signal.

```
zoo finetune --plugin $name                      # the generated demo
zoo finetune --plugin $name --data signals.csv -o length=128
zoo export --format onnx && zoo predict runs/<run>/exports/model.onnx new_signals.csv
```
"""

from __future__ import annotations

import csv
from pathlib import Path

from zoo.api import BackboneSpec, DataAdapter, DataBundle, Option, Plugin, Rows, TaskSpec, TensorSpec
from zoo.errors import DataError

__version__ = "0.1.0"
CLASSES = ["sine", "square", "sawtooth"]
INPUT = "signal"


# --------------------------------------------------------------------------- backbone

def build_backbone(weights, input_signature, options):
    """Preprocessed signals (N, length) -> feature maps (N, steps, channels)."""
    import keras

    inputs = keras.Input(input_signature[INPUT].shape, name=INPUT)
    x = keras.layers.Reshape((-1, 1), name="to_channels")(inputs)
    for i, filters in enumerate((options.width, 2 * options.width), start=1):
        x = keras.layers.Conv1D(filters, 5, padding="same", name=f"conv{i}")(x)
        x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
        x = keras.layers.ReLU(name=f"relu{i}")(x)
        x = keras.layers.MaxPooling1D(2, name=f"pool{i}")(x)
    model = keras.Model(inputs, x, name="signal_cnn")
    if weights is not None:
        from zoo.errors import WeightsError

        try:
            model.load_weights(weights)
        except (OSError, ValueError) as exc:
            raise WeightsError(f"cannot load weights from {weights}: {exc}") from None
    return model


def blocks(model):
    """The two conv blocks, input to output (what partial / gradual fine-tuning act on)."""
    return [["conv1", "bn1"], ["conv2", "bn2"]]


def preprocessing(input_signature, options):
    """Raw values -> scaled values, inside the model (exports take raw signals)."""
    import keras

    return keras.layers.Rescaling(1.0 / options.scale, name="scale")


# --------------------------------------------------------------------------- data

def generate(n, length, noise, seed):
    """`n` signals of `length` values, a third of each class, with noise, random phase and frequency."""
    import numpy as np

    rng = np.random.default_rng(seed)
    y = (np.arange(n) % len(CLASSES)).astype("int32")
    rng.shuffle(y)
    t = np.linspace(0, 1, length, endpoint=False)
    freq = rng.uniform(2, 5, size=(n, 1))
    phase = rng.uniform(0, 1, size=(n, 1))
    cycle = (t[None, :] * freq + phase) % 1.0
    waves = np.stack([np.sin(2 * np.pi * cycle), np.where(cycle < 0.5, 1.0, -1.0), 2 * cycle - 1], axis=0)
    x = waves[y, np.arange(n)] + rng.normal(0, noise, size=(n, length))
    return x.astype("float32"), y


def read_csv(path, length, labels=True):
    """(values (N, length), labels or None, line numbers) of a signals CSV; `DataError` names file and line."""
    import numpy as np

    columns = [f"x{i}" for i in range(length)]
    try:
        handle = open(path, newline="")
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        missing = [c for c in columns + (["label"] if labels else []) if c not in (reader.fieldnames or [])]
        if missing:
            raise DataError(f"{path}: missing column(s) {', '.join(missing[:3])}; expected label, x0..x{length - 1} "
                            f"(set -o length=N for another signal length)")
        rows, names, lines = [], [], []
        for row in reader:
            try:
                rows.append([float(row[c]) for c in columns])
            except (TypeError, ValueError):
                raise DataError(f"{path}:{reader.line_num}: a value is not a number") from None
            names.append(row.get("label"))
            lines.append(reader.line_num)
    if not rows:
        raise DataError(f"{path}: no data rows")
    y = None
    if labels:
        unknown = sorted({n for n in names if n not in CLASSES})
        if unknown:
            raise DataError(f"{path}: unknown label {unknown[0]!r}; labels are {', '.join(CLASSES)}")
        y = np.array([CLASSES.index(n) for n in names], "int32")
    return np.array(rows, "float32"), y, lines


def write_csv(path, x, y=None):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow((["label"] if y is not None else []) + [f"x{i}" for i in range(x.shape[1])])
        for i, values in enumerate(x):
            writer.writerow(([CLASSES[int(y[i])]] if y is not None else []) + [f"{v:.5f}" for v in values])
    return path


class SignalData(DataAdapter):
    """Signals CSV -> `DataBundle`; the demo generates waves. Keeps no state between calls."""

    def load(self, source, recipe, options):
        x, y, _ = read_csv(source, options.length)
        return self._bundle(x, y, recipe, options, source=str(source))

    def demo(self, recipe, options):
        x, y = generate(options.demo_samples, options.length, options.noise, recipe.seed)
        return self._bundle(x, y, recipe, options, source="demo")

    def read_inputs(self, paths, input_signature, options, deployment):
        import numpy as np

        arrays, sources = [], []
        for path in paths:
            x, _, lines = read_csv(path, options.length, labels=False)
            arrays.append(x)
            sources += [f"{path}:{line}" for line in lines]
        return Rows({INPUT: np.concatenate(arrays)}, sources)

    def write_examples(self, folder, recipe, options):
        x, _ = generate(9, options.length, options.noise, recipe.seed + 1)
        return [str(write_csv(Path(folder) / "signals.csv", x))]

    def _bundle(self, x, y, recipe, options, source):
        import tensorflow as tf

        from zoo.data import split_indices

        train, val, test = split_indices(y, recipe.val_fraction, recipe.test_fraction, recipe.seed)
        if not len(val):
            raise DataError(f"{source}: too few signals for a validation split; add rows or raise val_fraction")

        def dataset(index):
            return tf.data.Dataset.from_tensor_slices(({INPUT: x[index]}, y[index]))

        return DataBundle(train=dataset(train), validation=dataset(val), test=dataset(test) if len(test) else None,
                          class_names=list(CLASSES), input_signature={INPUT: TensorSpec((options.length,))},
                          metadata={"source": source, "rows": int(len(y))})


plugin = Plugin(
    name="$name",
    domain="signals",
    summary="1-D signal classification from CSV rows (a keras-zoo plugin template)",
    backbones={"signal_cnn": BackboneSpec(
        name="signal_cnn", build=build_backbone, blocks=blocks, preprocessing=preprocessing,
        weights={"none": "random initialisation", "PATH": "a .weights.h5 file of this backbone"},
        default_weights="none", summary="two Conv1D blocks with batch norm")},
    default_backbone="signal_cnn",
    task=TaskSpec(kind="multiclass"),
    data=SignalData(),
    options={
        "length": Option(64, "values per signal (columns x0..x{length-1})", min=8, max=100_000),
        "width": Option(16, "filters of the first conv block", min=1, max=1024),
        "scale": Option(1.0, "raw values are divided by this inside the model", min=1e-9),
        "noise": Option(0.3, "demo: noise standard deviation", min=0.0),
        "demo_samples": Option(600, "demo: signals to generate", min=30),
    },
    recipe={"strategy": "full", "epochs": 8, "batch_size": 32, "learning_rate": 0.003, "warmup_epochs": 0,
            "patience": 3},
    version=__version__,
    contract=${contract},
)
''')

TEST = Template('''\
"""The plugin passes keras-zoo's conformance kit: build, demo, a training step, export, predict."""

from zoo.testing import check_plugin

from $module import plugin


def test_check_plugin(tmp_path):
    report = check_plugin(plugin, recipe={"options": {"demo_samples": 90}}, workdir=tmp_path)
    assert report["predict"]["rows"] == 9
''')

README = Template('''\
# keras-zoo-$name

A keras-zoo plugin: 1-D signal classification from CSV rows (`label, x0, ..., x63`).
Written by `zoo plugins new $name`; replace the data adapter and the backbone in
`$module/__init__.py` with your domain's.

```
pip install -e .                       # registers the plugin (entry point keras_zoo.plugins)
zoo plugins info $name                 # backbones, options with their help
zoo finetune --plugin $name            # the generated demo
zoo export --format tflite             # verified against Keras
python -m pytest tests                 # zoo.testing.check_plugin: the whole path
```

Options (`-o KEY=VALUE`): `length`, `width`, `scale`, `noise`, `demo_samples` (see `zoo plugins info $name`).
''')


def new_plugin(name: str, directory: str | Path = ".") -> Path:
    """Write `directory/keras-zoo-NAME/` (pyproject, package, test, README); `ConfigError` if it exists."""
    from zoo.api import CONTRACT_VERSION, NAME_PATTERN

    if not NAME_PATTERN.match(name):
        raise ConfigError(f"plugin name {name!r} must be lowercase words joined by dashes (e.g. acme-signals)")
    root = Path(directory) / f"keras-zoo-{name}"
    if root.exists():
        raise ConfigError(f"{root} already exists; choose another name or --dir")
    module = "zoo_" + name.replace("-", "_")
    values = {"name": name, "module": module, "contract": CONTRACT_VERSION}
    files = {
        root / "pyproject.toml": PYPROJECT.substitute(values),
        root / module / "__init__.py": MODULE.substitute(values),
        root / "tests" / "test_plugin.py": TEST.substitute(values),
        root / "README.md": README.substitute(values),
    }
    tmp = root.with_name(f".{root.name}.partial")
    if tmp.exists():
        import shutil

        shutil.rmtree(tmp)
    for path, text in files.items():
        target = tmp / path.relative_to(root)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    tmp.rename(root)  # all files or none
    return root
