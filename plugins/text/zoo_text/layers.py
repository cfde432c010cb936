"""Registered Keras layers of the text plugin (the module a saved text model needs imported).

Importing it imports keras-hub too, which registers the keras-hub layers (`TransformerEncoder`,
`ReversibleEmbedding`, `PositionEmbedding`...) that a fine-tuned text model is made of, so
`keras.saving.load_model(..., safe_mode=True)` can rebuild it.

Example:

```python
pooled = MaskedMeanPooling()(sequence_output, padding_mask)   # (B, T, H), (B, T) -> (B, H)
first = ClsPooling()(sequence_output)                         # (B, T, H) -> (B, H)
```
"""

from __future__ import annotations

import keras
import keras_hub  # noqa: F401  (registers the keras-hub layers a saved text model contains)


@keras.saving.register_keras_serializable(package="zoo_text")
class MaskedMeanPooling(keras.layers.Layer):
    """Mean of the token vectors where `padding_mask` is 1 (sentence-transformers' mean pooling)."""

    def call(self, sequence, padding_mask):
        mask = keras.ops.expand_dims(keras.ops.cast(padding_mask, sequence.dtype), -1)
        total = keras.ops.sum(sequence * mask, axis=1)
        count = keras.ops.maximum(keras.ops.sum(mask, axis=1), 1.0)
        return total / count

    def compute_output_shape(self, sequence_shape, padding_mask_shape=None):
        return (sequence_shape[0], sequence_shape[-1])


@keras.saving.register_keras_serializable(package="zoo_text")
class ClsPooling(keras.layers.Layer):
    """The hidden state of the first token ([CLS] for BERT, <s> for RoBERTa)."""

    def call(self, sequence):
        return sequence[:, 0, :]

    def compute_output_shape(self, sequence_shape):
        return (sequence_shape[0], sequence_shape[-1])
