"""Tokenisation with the backbone's own keras-hub tokenizer and packer, in `tf.data`.

`TextEncoder` turns strings (one text, or a text pair) into the model's integer inputs
`token_ids`, `padding_mask` (1 = real token) and, for BERT-style models, `segment_ids`, padded or
truncated to `sequence_length`; for token classification it splits words into word pieces and
aligns the tags (the first piece of a word carries its tag, the other pieces and padding get -1).

Its `settings()` are JSON (tokenizer class and config, the vocabulary for word-piece tokenizers,
packer config, input names): what an exported model needs next to it so that `zoo predict` can
tokenise, and what `TextEncoder.from_settings` rebuilds the same tokenizer from.

Example:

```python
encoder = TextEncoder.for_backbone("minilm_l6", sequence_length=32)
encoder.encode(["A man plays the guitar."])["token_ids"].shape   # (1, 32)
```
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.errors import ConfigError

log = logging.getLogger(__name__)

INPUT_ORDER = ("token_ids", "padding_mask", "segment_ids")
#: The allowed `-o sequence_length` range: room for [CLS], [SEP] and a few word pieces; BERT-family
#: position embeddings stop at 512.
MIN_SEQUENCE_LENGTH = 8
MAX_SEQUENCE_LENGTH = 512


def check_sequence_length(value) -> int:
    """`value` as an int in the allowed range; `ConfigError` otherwise (e.g. `check_sequence_length("32") == 32`)."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"-o sequence_length={value!r} must be an integer") from None
    if not MIN_SEQUENCE_LENGTH <= n <= MAX_SEQUENCE_LENGTH:
        raise ConfigError(f"-o sequence_length={n} must be between {MIN_SEQUENCE_LENGTH} and {MAX_SEQUENCE_LENGTH}")
    return n


class TextEncoder:
    """A keras-hub tokenizer + `MultiSegmentPacker`, producing int32 model inputs."""

    def __init__(self, tokenizer, packer, input_names: Sequence[str], preset: str | None = None):
        self.tokenizer = tokenizer
        self.packer = packer
        self.input_names = tuple(n for n in INPUT_ORDER if n in input_names)
        self.preset = preset
        self.sequence_length = int(packer.sequence_length)
        self._label_packer = None
        self._encode_words_fn = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def for_backbone(cls, backbone: str | None, sequence_length: int) -> "TextEncoder":
        from zoo_text.backbones import load_preprocessor, preset_of

        preset = preset_of(backbone)
        prep = load_preprocessor(preset, check_sequence_length(sequence_length))
        probe = prep(["probe"])
        names = probe[0].keys() if isinstance(probe, tuple) else probe.keys()
        return cls(prep.tokenizer, prep.packer, list(names), preset=preset)

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> "TextEncoder":
        """Rebuild the encoder a run used from its `settings()` (inline vocabulary or the preset).

        The vocabulary may be a list or one string of tokens joined by newlines (how runs store it).
        """
        import keras

        from zoo_text.backbones import import_keras_hub, load_preprocessor

        keras_hub = import_keras_hub()
        length = check_sequence_length(settings["sequence_length"])
        if settings.get("vocabulary") is not None:
            klass = keras.saving.get_registered_object(settings["tokenizer_class"])
            if klass is None:
                raise ConfigError(f"tokenizer class {settings['tokenizer_class']!r} is not known to this keras-hub")
            config = dict(settings["tokenizer_config"])
            vocabulary = settings["vocabulary"]
            config["vocabulary"] = vocabulary.split("\n") if isinstance(vocabulary, str) else list(vocabulary)
            tokenizer = klass.from_config(config)
            packer = keras_hub.layers.MultiSegmentPacker.from_config(dict(settings["packer_config"]))
        else:
            prep = load_preprocessor(settings["preset"], length)
            tokenizer, packer = prep.tokenizer, prep.packer
        return cls(tokenizer, packer, settings["input_names"], preset=settings.get("preset"))

    def settings(self, inline_vocabulary: bool = True) -> dict[str, Any]:
        """JSON settings that rebuild this encoder (`from_settings`)."""
        import keras

        config = {k: v for k, v in self.tokenizer.get_config().items() if k not in ("vocabulary", "dtype")}
        vocabulary = None
        if hasattr(self.tokenizer, "get_vocabulary") and type(self.tokenizer).__name__.endswith(
                ("WordPieceTokenizer", "BertTokenizer", "DistilBertTokenizer", "ElectraTokenizer")):
            vocabulary = [str(v) for v in self.tokenizer.get_vocabulary()]
            config.pop("config_file", None)
        packer_config = {k: v for k, v in self.packer.get_config().items() if k != "dtype"}
        out = {
            "tokenizer_class": keras.saving.get_registered_name(type(self.tokenizer)),
            "tokenizer_config": config,
            "packer_config": packer_config,
            "input_names": list(self.input_names),
            "sequence_length": self.sequence_length,
            "preset": self.preset,
            "vocabulary": vocabulary if inline_vocabulary else None,
        }
        if vocabulary is not None:
            out["vocabulary_size"] = len(vocabulary)
            out["vocabulary_sha256"] = hashlib.sha256("\n".join(vocabulary).encode("utf-8")).hexdigest()
        return out

    # ------------------------------------------------------------------ sentences
    def encode(self, texts, pairs=None) -> dict:
        """A batch of strings (and second strings for pairs) -> dict of int32 (B, L) tensors."""
        import tensorflow as tf

        segments = (self.tokenizer(texts),) if pairs is None else (self.tokenizer(texts), self.tokenizer(pairs))
        token_ids, segment_ids = self.packer(segments)
        pad = self.packer.pad_value if self.packer.pad_value is not None else 0
        out = {
            "token_ids": tf.cast(token_ids, tf.int32),
            "padding_mask": tf.cast(tf.not_equal(token_ids, pad), tf.int32),
            "segment_ids": tf.cast(segment_ids, tf.int32),
        }
        return {k: out[k] for k in self.input_names}

    def encode_numpy(self, texts: Sequence[str], pairs: Sequence[str] | None = None, batch: int = 256) -> dict:
        import tensorflow as tf

        chunks: list[dict] = []
        for i in range(0, len(texts), batch):
            a = tf.constant(list(texts[i:i + batch]))
            b = None if pairs is None else tf.constant(list(pairs[i:i + batch]))
            chunks.append({k: v.numpy() for k, v in self.encode(a, b).items()})
        if not chunks:
            return {k: np.zeros((0, self.sequence_length), "int32") for k in self.input_names}
        return {k: np.concatenate([c[k] for c in chunks]) for k in self.input_names}

    def dataset(self, texts: Sequence[str], labels: np.ndarray, pairs: Sequence[str] | None = None):
        """Unbatched, cached `tf.data.Dataset` of `(inputs dict, label)`, tokenised in the pipeline."""
        import tensorflow as tf

        x = (tf.constant(list(texts)),) if pairs is None else (tf.constant(list(texts)), tf.constant(list(pairs)))
        ds = tf.data.Dataset.from_tensor_slices((x, labels))
        ds = ds.batch(256).map(lambda x, y: (self.encode(*x), y), num_parallel_calls=tf.data.AUTOTUNE)
        # unbatch() forgets the number of rows; without it Keras warns "Your input ran out of data".
        return ds.unbatch().apply(tf.data.experimental.assert_cardinality(len(texts))).cache()

    # ------------------------------------------------------------------ words (token classification)
    def _labels_packer(self):
        if self._label_packer is None:
            from zoo_text.backbones import import_keras_hub

            keras_hub = import_keras_hub()
            config = self.packer.get_config()
            start = config.get("start_value")
            end = config.get("end_value")
            self._label_packer = keras_hub.layers.MultiSegmentPacker(
                sequence_length=self.sequence_length,
                start_value=[-1] * len(_as_list(start)) if start is not None else None,
                end_value=[-1] * len(_as_list(end)) if end is not None else None,
                pad_value=-1, truncate=config.get("truncate", "round_robin"),
                padding_side=config.get("padding_side", "right"))
        return self._label_packer

    def encode_words(self, words, tags):
        """One sentence: words (W,) strings and tags (W,) int -> (inputs dict of (L,), labels (L,)).

        The first word piece of each word carries its tag; continuation pieces, special tokens and
        padding get -1. Words past `sequence_length` are cut off.
        """
        import tensorflow as tf

        pieces = self.tokenizer(words)
        counts = pieces.row_lengths()
        flat = pieces.flat_values
        per_piece = tf.repeat(tf.cast(tags, tf.int32), counts)
        position = tf.ragged.range(counts).flat_values
        labels = tf.where(tf.equal(position, 0), per_piece, -tf.ones_like(per_piece))
        token_ids, segment_ids = self.packer((tf.expand_dims(flat, 0),))
        packed_labels, _ = self._labels_packer()((tf.expand_dims(labels, 0),))
        pad = self.packer.pad_value if self.packer.pad_value is not None else 0
        out = {
            "token_ids": tf.cast(token_ids[0], tf.int32),
            "padding_mask": tf.cast(tf.not_equal(token_ids[0], pad), tf.int32),
            "segment_ids": tf.cast(segment_ids[0], tf.int32),
        }
        return {k: out[k] for k in self.input_names}, tf.cast(packed_labels[0], tf.int32)

    def word_dataset(self, sentences: Sequence[Sequence[str]], tags: Sequence[Sequence[int]]):
        """Unbatched, cached dataset of `(inputs, labels (L,))` for token classification."""
        import tensorflow as tf

        words = tf.ragged.constant([list(s) for s in sentences], dtype=tf.string)
        tag_ids = tf.ragged.constant([list(t) for t in tags], dtype=tf.int32)
        ds = tf.data.Dataset.from_tensor_slices((words, tag_ids))
        return ds.map(self.encode_words, num_parallel_calls=tf.data.AUTOTUNE).cache()

    def encode_sentences_numpy(self, sentences: Sequence[Sequence[str]]) -> tuple[dict, list[tuple]]:
        """Word lists -> (inputs as int32 arrays, per sentence `(positions, word_indices)`).

        `positions` are where the first piece of each kept word sits, `word_indices` which word it is
        (words that produce no piece, or fall past `sequence_length`, are missing).
        """
        import tensorflow as tf

        inputs: dict[str, list] = {k: [] for k in self.input_names}
        firsts = []
        for words in sentences:
            if self._encode_words_fn is None:  # keras-hub tokenizers return lists when run eagerly
                self._encode_words_fn = tf.function(self.encode_words, input_signature=[
                    tf.TensorSpec([None], tf.string), tf.TensorSpec([None], tf.int32)])
            x, labels = self._encode_words_fn(tf.constant(list(words) or [""], dtype=tf.string),
                                              tf.range(max(len(words), 1), dtype=tf.int32))
            for k in self.input_names:
                inputs[k].append(x[k].numpy())
            labels = labels.numpy()
            keep = np.flatnonzero(labels >= 0) if words else np.zeros((0,), "int64")
            firsts.append((keep, labels[keep].astype("int64")))
        if not sentences:
            return {k: np.zeros((0, self.sequence_length), "int32") for k in self.input_names}, []
        return {k: np.stack(v) for k, v in inputs.items()}, firsts


def _as_list(value) -> list:
    return list(value) if isinstance(value, (list, tuple)) else [value]
