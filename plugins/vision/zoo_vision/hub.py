"""keras-hub image backbones: `--backbone hub:<preset-or-local-folder>`.

`hub:resnet_50_imagenet` (a keras-hub preset handle, downloaded by keras-hub,
also `hub:kaggle://...` / `hub:hf://...`) or `hub:/path/to/preset` (a folder
written by `backbone.save_to_preset(...)`) becomes a `BackboneSpec`:

- `build` loads `keras_hub.models.Backbone.from_preset(...)` (weights
  `preset`: the preset's own; `none`: random; a path: a `.weights.h5` file);
- `preprocessing` reads the preset's `ImageConverter` (scale and offset) into
  the plugin's serialisable `ImageNetPreprocess(mode="affine")`, so saved
  models do not need keras-hub to load their preprocessing;
- `blocks` groups layers by the stage in their names (`stack0_...`,
  `transformer_layer_3`...).

keras-hub is optional: `pip install keras-hub` (or `keras-zoo-vision[hub]`).
"""

from __future__ import annotations

import logging
import re
from functools import partial
from pathlib import Path

from zoo.api import BackboneSpec
from zoo.errors import ConfigError, WeightsError

log = logging.getLogger(__name__)

PREFIX = "hub:"
_SPECS: dict[str, BackboneSpec] = {}


def hub_spec(name: str) -> BackboneSpec | None:
    """The `BackboneSpec` for `hub:<preset>`, or None when `name` is not a hub name (`Plugin.resolve_backbone`).

    Example: `hub_spec("hub:resnet_50_imagenet").default_weights == "preset"`, `hub_spec("resnet50") is None`.
    """
    if not isinstance(name, str) or not name.startswith(PREFIX):
        return None
    preset = name[len(PREFIX):].strip()
    if not preset:
        raise ConfigError("--backbone hub: needs a keras-hub preset or a local preset folder, e.g. hub:resnet_50_imagenet")
    if name not in _SPECS:
        _SPECS[name] = BackboneSpec(
            name=spec_name(preset),
            build=partial(build_hub_backbone, preset),
            blocks=hub_blocks,
            preprocessing=partial(hub_preprocessing, preset),
            weights={
                "preset": f"the weights of keras-hub preset {preset}",
                "none": "random initialisation",
                "PATH": "a local .weights.h5 file",
            },
            default_weights="preset",
            summary=f"keras-hub image backbone from {preset}",
        )
    return _SPECS[name]


def spec_name(preset: str) -> str:
    """A name Keras accepts for layers and models: `hub_<last part of the preset>`.

    The full `hub:...` string stays in the recipe (`zoo.json`), which is what
    reloads and resumes look the backbone up by.
    """
    last = preset.rstrip("/\\").replace("\\", "/").split("/")[-1] or "preset"
    return "hub_" + re.sub(r"[^A-Za-z0-9_]", "_", last)


def import_keras_hub():
    try:
        import keras_hub
    except ImportError as exc:
        raise ConfigError(
            f"--backbone hub:... needs keras-hub, which is not installed ({exc}); "
            "pip install keras-hub (or pip install 'keras-zoo-vision[hub]')"
        ) from None
    return keras_hub


def _preset_arg(preset: str) -> str:
    path = Path(preset).expanduser()
    return str(path) if path.is_dir() else preset


def build_hub_backbone(preset: str, weights, input_signature, options):
    """`keras_hub.models.Backbone.from_preset(preset)`, checked to take one (S, S, 3) image.

    Example: `build_hub_backbone("resnet_50_imagenet", "preset", {"image": TensorSpec((128, 128, 3))}, options)`.
    """
    from zoo_vision.backbones import image_size_of, load_local_weights

    keras_hub = import_keras_hub()
    size = image_size_of(input_signature)
    local = None
    if weights not in (None, "none", "preset"):
        local = Path(str(weights)).expanduser()
        if not local.is_file():
            raise WeightsError(
                f"--weights {weights}: not a weights name of hub:{preset} (preset, none) and no such file; "
                "pass --weights preset, --weights none or --weights PATH to a .weights.h5 file")
    try:
        model = keras_hub.models.Backbone.from_preset(_preset_arg(preset), load_weights=weights == "preset")
    except OSError as exc:  # requests' ConnectionError, huggingface_hub's and kagglehub's errors, missing files
        raise WeightsError(
            f"cannot fetch keras-hub preset {preset!r} ({' '.join(str(exc).split())[:160]}); without network use a "
            "local preset folder, --backbone hub:/path/to/preset (written by backbone.save_to_preset)"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"--backbone hub:{preset}: {str(exc).splitlines()[0]}") from None
    if len(model.inputs) != 1 or isinstance(model.output, (dict, list, tuple)):
        raise ConfigError(f"hub:{preset} is not a single-image backbone (inputs {len(model.inputs)}, "
                          f"output {type(model.output).__name__}); choose an image classification preset")
    shape = tuple(model.inputs[0].shape[1:])
    if len(shape) != 3 or shape[-1] != 3:
        raise ConfigError(f"hub:{preset} takes inputs of shape {shape}, not RGB images")
    if shape[0] is not None and shape[0] != size:
        raise ConfigError(f"hub:{preset} takes {shape[0]}x{shape[1]} images; pass -o image_size={shape[0]}")
    if local is not None:
        load_local_weights(model, local, f"hub:{preset}")
    return model


def hub_preprocessing(preset: str, input_signature, options):
    """The preset's image converter scale/offset as an `ImageNetPreprocess(mode="affine")` layer.

    Example: `hub_preprocessing("resnet_50_imagenet", signature, options).mode == "affine"`.
    """
    from zoo_vision.layers import ImageNetPreprocess

    keras_hub = import_keras_hub()
    try:
        converter = keras_hub.layers.ImageConverter.from_preset(_preset_arg(preset))
    except FileNotFoundError:
        log.warning("keras-hub preset %s has no image converter; pixels go in as 0..255", preset)
        return ImageNetPreprocess(mode="none", name="imagenet_preprocess")
    except OSError as exc:
        raise WeightsError(f"cannot fetch the image converter of keras-hub preset {preset!r}: {exc}") from None
    scale, offset = getattr(converter, "scale", None), getattr(converter, "offset", None)
    if scale is None and offset is None:
        return ImageNetPreprocess(mode="none", name="imagenet_preprocess")
    return ImageNetPreprocess(mode="affine", scale=_plain(scale), offset=_plain(offset), name="imagenet_preprocess")


def _plain(value):
    if value is None:
        return None
    try:
        return [float(v) for v in value]
    except TypeError:
        return float(value)


def hub_blocks(model) -> list[list[str]]:
    from zoo_vision.backbones import generic_stage_key, group_layers

    return group_layers(model, generic_stage_key, model.name, strict=False)
