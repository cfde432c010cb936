"""Detector backbones: the vision plugin's offline ImageNet CNNs with a feature pyramid on top.

Three taps of the ImageNet backbone (strides 8, 16 and 32) go through a feature pyramid (1x1
lateral convolutions, top-down upsampling and sums, a 3x3 smoothing convolution per level) and a
tower of two 3x3 convolutions shared by the levels; `zoo.detection.PyramidLocations` then hands the
head one vector per location followed by its anchor point. The pyramid and the tower are the
`neck`: new layers that train under every strategy (a linear probe freezes the ImageNet blocks
only), while `blocks()` are the ImageNet backbone's own stages, which partial, gradual and
discriminative fine-tuning act on.

```python
from zoo_vision_detect.backbones import detector_spec
spec = detector_spec("mobilenet_v2")
model = spec.build("imagenet", {"image": TensorSpec((128, 128, 3))}, options)  # (None, 336, 67)
```

Importing this module does not import TensorFlow or Keras.
"""

from __future__ import annotations

import functools

from zoo.api import BackboneSpec
from zoo.errors import ConfigError

#: backbone -> the layers tapped at strides 8, 16 and 32 (the expansions before each downsampling)
TAPS = {
    "mobilenet_v2": ("block_6_expand_relu", "block_13_expand_relu", "out_relu"),
    "efficientnet_lite0": ("block4a_expand_relu", "block6a_expand_relu", "top_relu"),
}
DEFAULT_BACKBONE = "mobilenet_v2"
NECK_PREFIXES = ("fpn_", "tower_")
STRIDES = (8, 16, 32)


def build_detector(name: str, weights, input_signature, options):
    """Preprocessed image -> `(N, locations, pyramid_channels + 3)` per-location features and anchors."""
    import keras

    from zoo.detection import PyramidLocations
    from zoo_vision.backbones import build_imagenet_backbone, image_size_of

    size = image_size_of(input_signature)
    if size % STRIDES[-1]:
        raise ConfigError(f"-o image_size={size}: a detector needs a multiple of {STRIDES[-1]} (e.g. "
                          f"{max(STRIDES[-1] * 2, size - size % STRIDES[-1])})")
    base = build_imagenet_backbone(name, weights, size)
    width = int(options["pyramid_channels"])
    taps = [base.get_layer(layer).output for layer in TAPS[name]]
    lateral = [keras.layers.Conv2D(width, 1, name=f"fpn_lateral{i}")(t) for i, t in enumerate(taps)]
    merged = [None, None, lateral[2]]
    for i in (1, 0):
        up = keras.layers.UpSampling2D(2, name=f"fpn_up{i}")(merged[i + 1])
        merged[i] = keras.layers.Add(name=f"fpn_merge{i}")([lateral[i], up])
    smooth = [keras.layers.Conv2D(width, 3, padding="same", name=f"fpn_smooth{i}")(m) for i, m in enumerate(merged)]
    tower = [keras.layers.Conv2D(width, 3, padding="same", activation="relu", name=f"tower_conv{k}")
             for k in range(2)]
    levels = []
    for level in smooth:
        for conv in tower:
            level = conv(level)
        levels.append(level)
    return keras.Model(base.input, PyramidLocations(name="locations")(levels), name=f"{name}_pyramid")


def detector_blocks(name: str, model) -> list[list[str]]:
    """The ImageNet backbone's stages (the vision plugin's blocks), without the neck."""
    import keras

    from zoo_vision.backbones import backbone_blocks

    top = TAPS[name][-1]
    return backbone_blocks(name, keras.Model(model.input, model.get_layer(top).output))


def detector_neck(model) -> list[str]:
    """The pyramid's and the tower's layers."""
    return [layer.name for layer in model.layers if layer.name.startswith(NECK_PREFIXES)]


def detector_spec(name: str) -> BackboneSpec:
    """The `BackboneSpec` of ImageNet backbone `name` with its pyramid."""
    from zoo_vision.backbones import IMAGENET_BACKBONES, imagenet_spec

    if name not in TAPS:
        raise ConfigError(f"unknown detector backbone {name!r}; choose from {', '.join(TAPS)}")
    base = imagenet_spec(name)
    return BackboneSpec(
        name=name,
        build=functools.partial(build_detector, name),
        blocks=functools.partial(detector_blocks, name),
        neck=detector_neck,
        preprocessing=base.preprocessing,
        weights=dict(base.weights),
        default_weights="imagenet",
        summary=f"{IMAGENET_BACKBONES[name]['summary']}; feature pyramid over strides 8, 16, 32 and a shared "
                "tower (new, trained under every strategy)",
        parameters=base.parameters,
    )


BACKBONES = {name: detector_spec(name) for name in TAPS}
