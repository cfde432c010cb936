"""The two encoders: a residual MLP and an FT-Transformer (Gorishniy et al. 2021).

Both take the preprocessing's outputs, `{"numeric": (batch, F_float, 4), "categorical":
(batch, F_cat)}`, and return a feature vector per row. Their sizes follow from the raw
input signature alone: every float32 input is one numeric column, every int32 input one
categorical column.

- `ft_transformer`: feature tokenizer (a `d`-dim token per column) -> [CLS] token ->
  3 pre-norm transformer blocks (4 heads, d = 32, SiLU feed-forward of 64) -> layer norm
  -> the [CLS] token and one score per column token. Blocks: tokenizer, each transformer
  block, final norm + column scores.
- `mlp`: numeric vectors flattened + an 8-dim embedding per categorical column -> a
  128-unit stem -> 3 pre-norm residual blocks (128 -> 256 -> 128) -> layer norm -> the
  vector and one score per column. Blocks: embedding + stem, each residual block, final
  norm + column scores.

The column scores are what self-supervised pretraining (`zoo pretrain`) trains to say
"this column does not fit the rest of the row" (replaced-column detection). Fraud is mostly
that (a country that is not the customer's, an amount far from their average), so a
fine-tuning head that reads these scores needs few labels. Features: `d + columns` values.

Weights: `none` (random), or `zoo pretrain` output: a pretraining run folder
(`--weights runs/tabular-fraud-pretrain-...`) or its `backbone.weights.h5`.

Example:

```python
from zoo.api import Options, TensorSpec
sig = {"amount": TensorSpec((), "float32"), "country": TensorSpec((), "int32")}
model = build_ft_transformer(None, sig, Options())
blocks_ft_transformer(model)     # [["num_tokenizer", "cat_tokenizer", "cls_token"], ["block1_norm1", ...], ...]
```
"""

from __future__ import annotations

from typing import Mapping

from zoo.api import BackboneSpec, TensorSpec
from zoo.errors import WeightsError

FT = {"dim": 32, "blocks": 3, "heads": 4, "ffn": 64, "attention_dropout": 0.1, "ffn_dropout": 0.1}
MLP = {"width": 128, "hidden": 256, "blocks": 3, "embedding": 8, "dropout": 0.1}


def column_counts(signature: Mapping[str, TensorSpec]) -> tuple[int, int]:
    """(float columns, categorical columns) of a raw input signature."""
    floats = sum(1 for s in signature.values() if str(s.dtype).startswith("float"))
    return floats, len(signature) - floats


def _inputs(signature):
    import keras

    from zoo_tabular_fraud.layers import TOKEN_WIDTH

    n_float, n_cat = column_counts(signature)
    inputs = {}
    if n_float:
        inputs["numeric"] = keras.Input((n_float, TOKEN_WIDTH), dtype="float32", name="numeric")
    if n_cat:
        inputs["categorical"] = keras.Input((n_cat,), dtype="int32", name="categorical")
    if not inputs:
        raise WeightsError("a tabular backbone needs at least one feature column")
    return inputs


def _load(model, weights):
    if weights in (None, "none"):
        return model
    from pathlib import Path

    path = Path(weights)
    if path.is_dir():
        path = path / "backbone.weights.h5"
    if not path.is_file():
        raise WeightsError(f"no weights at {weights}: pass a `zoo pretrain` run folder, its "
                           "backbone.weights.h5, or none")
    try:
        model.load_weights(str(path))
    except (ValueError, KeyError, OSError) as exc:
        text = " ".join(str(exc).split())[:300]
        raise WeightsError(f"{path} does not fit the {model.name} backbone for these columns ({text}); "
                           "pretrain on data with the same feature columns") from None
    return model


def build_ft_transformer(weights, input_signature, options):
    """FT-Transformer encoder: tokens -> [CLS] -> transformer blocks -> [CLS] features.

    `options` (the plugin's) do not change the architecture: its sizes follow from the signature.
    """
    import keras

    from zoo_tabular_fraud.layers import CategoricalTokenizer, CLSToken, ColumnScores, NumericTokenizer, TakeToken

    d = FT["dim"]
    inputs = _inputs(input_signature)
    tokens = []
    if "numeric" in inputs:
        tokens.append(NumericTokenizer(d, name="num_tokenizer")(inputs["numeric"]))
    if "categorical" in inputs:
        tokens.append(CategoricalTokenizer(d, name="cat_tokenizer")(inputs["categorical"]))
    x = tokens[0] if len(tokens) == 1 else keras.layers.Concatenate(axis=1, name="tokens")(tokens)
    x = CLSToken(name="cls_token")(x)
    for i in range(1, FT["blocks"] + 1):
        p = f"block{i}_"
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=p + "norm1")(x) if i > 1 else x
        h = keras.layers.MultiHeadAttention(FT["heads"], d // FT["heads"], dropout=FT["attention_dropout"],
                                            name=p + "attention")(h, h)
        x = keras.layers.Add(name=p + "add1")([x, h])
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=p + "norm2")(x)
        h = keras.layers.Dense(FT["ffn"], activation="silu", name=p + "ffn1")(h)
        h = keras.layers.Dropout(FT["ffn_dropout"], name=p + "dropout")(h)
        h = keras.layers.Dense(d, name=p + "ffn2")(h)
        x = keras.layers.Add(name=p + "add2")([x, h])
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    cls = TakeToken(0, name="cls")(x)
    scores = ColumnScores(1, name="column_scores")(x)
    x = keras.layers.Concatenate(name="features")([cls, scores])
    model = keras.Model(inputs, x, name="ft_transformer")
    return _load(model, weights)


def blocks_ft_transformer(model) -> list[list[str]]:
    names = {layer.name for layer in model.layers}
    first = [n for n in ("num_tokenizer", "cat_tokenizer", "cls_token") if n in names]
    out = [first]
    for i in range(1, FT["blocks"] + 1):
        p = f"block{i}_"
        out.append([n for n in (p + "norm1", p + "attention", p + "norm2", p + "ffn1", p + "ffn2") if n in names])
    out.append(["final_norm", "column_scores"])
    return out


def build_mlp(weights, input_signature, options):
    """Residual MLP encoder: flattened numeric vectors + categorical embeddings -> residual blocks.

    `options` (the plugin's) do not change the architecture: its sizes follow from the signature.
    """
    import keras

    from zoo_tabular_fraud.layers import CategoricalTokenizer

    inputs = _inputs(input_signature)
    parts = []
    if "numeric" in inputs:
        parts.append(keras.layers.Flatten(name="flatten_numeric")(inputs["numeric"]))
    if "categorical" in inputs:
        emb = CategoricalTokenizer(MLP["embedding"], name="cat_embedding")(inputs["categorical"])
        parts.append(keras.layers.Flatten(name="flatten_categorical")(emb))
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="concat")(parts)
    x = keras.layers.Dense(MLP["width"], name="stem")(x)
    for i in range(1, MLP["blocks"] + 1):
        p = f"res{i}_"
        h = keras.layers.LayerNormalization(epsilon=1e-5, name=p + "norm")(x)
        h = keras.layers.Dense(MLP["hidden"], activation="silu", name=p + "dense1")(h)
        h = keras.layers.Dropout(MLP["dropout"], name=p + "dropout")(h)
        h = keras.layers.Dense(MLP["width"], name=p + "dense2")(h)
        x = keras.layers.Add(name=p + "add")([x, h])
    x = keras.layers.LayerNormalization(epsilon=1e-5, name="final_norm")(x)
    scores = keras.layers.Dense(sum(column_counts(input_signature)), name="column_scores")(x)
    x = keras.layers.Concatenate(name="features")([x, scores])
    model = keras.Model(inputs, x, name="residual_mlp")
    return _load(model, weights)


def blocks_mlp(model) -> list[list[str]]:
    names = {layer.name for layer in model.layers}
    first = [n for n in ("cat_embedding", "stem") if n in names]
    out = [first]
    for i in range(1, MLP["blocks"] + 1):
        p = f"res{i}_"
        out.append([p + "norm", p + "dense1", p + "dense2"])
    out.append(["final_norm", "column_scores"])
    return out


WEIGHTS = {
    "none": "random initialisation (default; tabular data has no ImageNet)",
    "PATH": "a `zoo pretrain --plugin tabular-fraud` run folder, or its backbone.weights.h5",
}

BACKBONES = {
    "ft_transformer": BackboneSpec(
        name="ft_transformer", build=build_ft_transformer, blocks=blocks_ft_transformer, weights=dict(WEIGHTS),
        default_weights="none", parameters="~40K",
        summary="FT-Transformer: a token per column, 3 transformer blocks (d=32, 4 heads), pooled tokens"),
    "mlp": BackboneSpec(
        name="mlp", build=build_mlp, blocks=blocks_mlp, weights=dict(WEIGHTS), default_weights="none",
        parameters="~220K",
        summary="Residual MLP: categorical embeddings + numbers -> 3 pre-norm residual blocks of 128 units"),
}
