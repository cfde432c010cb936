"""The plugin's backbones: the vision plugin's ImageNet backbones behind CT windowing.

Raw HU `(S, S, k)` -> `CTWindow` (one 0..255 channel per window and slice) ->
`ImageNetPreprocess` (the backbone's own input scaling) -> the ImageNet
backbone from `zoo_vision.backbones` (batch-norm momentum 0.9, see `BN_MOMENTUM`). The two preprocessing layers are one
`keras.Sequential` named `ct_preprocessing`, saved and exported with the model.

Example:

```python
spec = backbone_spec("mobilenet_v2")
options = plugin.options_for(plugin.resolve_recipe())
model = spec.build("imagenet", {"hu": TensorSpec((96, 96, 1))}, options)   # shipped weights, offline
prep = spec.preprocessing({"hu": TensorSpec((96, 96, 1))}, options)        # CTWindow + ImageNet scaling
```
"""

from __future__ import annotations

import functools

from zoo.api import BackboneSpec
from zoo.errors import ConfigError

INPUT = "hu"
#: Batch-norm momentum of the backbones. keras.applications uses 0.999 (MobileNetV2), tuned for
#: ImageNet-length training: in the few hundred steps of a CT fine-tune the moving statistics of
#: unfrozen blocks would stay at ImageNet's while windowed CT slices have other statistics, and the
#: model would collapse at inference (measured: validation AUC 0.5 with every training AUC near 1).
#: Frozen blocks are unaffected: their batch norm runs in inference mode and never updates.
BN_MOMENTUM = 0.9


def _input(input_signature):
    try:
        return input_signature[INPUT]
    except KeyError:
        raise ConfigError(f"the medical-ct backbones need an {INPUT!r} input; the data has "
                          f"{sorted(input_signature)}") from None


def _size(input_signature) -> int:
    spec = _input(input_signature)
    if spec.shape[0] is None:
        raise ConfigError("the medical-ct backbones need a fixed slice size (plugin option image_size)")
    return int(spec.shape[0])


def _build(name: str, weights, input_signature, options):
    from zoo_vision.backbones import build_imagenet_backbone

    import keras

    model = build_imagenet_backbone(name, weights, _size(input_signature))
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = BN_MOMENTUM
    return model


def _blocks(name: str, model):
    from zoo_vision.backbones import backbone_blocks

    return backbone_blocks(name, model)


def _preprocessing(name: str, input_signature, options):
    """`ct_preprocessing`: `CTWindow` with the option `windows`, then the backbone's ImageNet scaling."""
    import keras

    from zoo_medical_ct.data import CTOptions
    from zoo_medical_ct.layers import CTWindow
    from zoo_vision.backbones import preprocess_mode
    from zoo_vision.layers import ImageNetPreprocess

    opts = CTOptions.from_options(options)
    slices = _input(input_signature).shape[-1] or 1
    if slices != opts.slices:
        raise ConfigError(f"the {INPUT!r} input has {slices} adjacent slice(s) as channels but option slices is "
                          f"{opts.slices}; build the model with the options the data was read with")
    return keras.Sequential([CTWindow(windows=opts.windows, name="ct_window"),
                             ImageNetPreprocess(mode=preprocess_mode(name), name="imagenet_preprocess")],
                            name="ct_preprocessing")


def backbone_spec(name: str) -> BackboneSpec:
    """`BackboneSpec` for the vision plugin's ImageNet backbone `name`, taking raw HU."""
    from zoo_vision.backbones import IMAGENET_BACKBONES

    info = IMAGENET_BACKBONES[name]
    parameters = info.get("parameters", "")
    return BackboneSpec(
        name=name,
        build=functools.partial(_build, name),
        blocks=functools.partial(_blocks, name),
        preprocessing=functools.partial(_preprocessing, name),
        weights={"imagenet": str(info.get("weights", "ImageNet-1k")), "none": "random initialisation",
                 "PATH": "a local .weights.h5 or .keras file"},
        default_weights="imagenet",
        summary=f"{info.get('summary', name)}; CT windows in front",
        parameters=f"{parameters / 1e6:.2f}M" if isinstance(parameters, int) else str(parameters),
        source_head=functools.partial(_source_head, name),
    )


def _source_head(name: str, weights):
    from zoo_vision.backbones import imagenet_head

    return imagenet_head(name, weights)


def all_specs() -> dict[str, BackboneSpec]:
    """A `BackboneSpec` for every ImageNet backbone of the vision plugin."""
    from zoo_vision.backbones import IMAGENET_BACKBONES

    return {name: backbone_spec(name) for name in IMAGENET_BACKBONES}
