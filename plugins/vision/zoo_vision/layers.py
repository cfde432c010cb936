"""Registered Keras layers of the vision plugin (imported before a saved model loads).

`ImageNetPreprocess` turns raw pixels (0..255, RGB) into what an ImageNet
backbone expects. It is saved and exported with the model, so a deployed model
takes raw pixels. `zoo.json` names this module (`custom_objects_module`), so
`model.keras` loads in Keras safe mode.

Example:

```python
from zoo_vision.layers import ImageNetPreprocess

layer = ImageNetPreprocess(mode="tf")      # MobileNetV2: 0..255 -> -1..1
layer(np.full((1, 8, 8, 3), 255.0))        # all ones
```
"""

from __future__ import annotations

import keras

MODES = ("tf", "torch", "caffe", "none", "affine", "edge")

#: torchvision / keras "torch" mode statistics (RGB, on 0..1 pixels).
TORCH_MEAN = (0.485, 0.456, 0.406)
TORCH_STD = (0.229, 0.224, 0.225)
#: keras "caffe" mode means (BGR, on 0..255 pixels).
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


@keras.saving.register_keras_serializable(package="zoo_vision")
class ImageNetPreprocess(keras.layers.Layer):
    """Raw RGB pixels 0..255 -> a backbone's input range, as `keras.applications` defines it.

    - `"tf"`: scale to -1..1 (MobileNetV2).
    - `"torch"`: 0..1, then per-channel ImageNet mean/std (RGB).
    - `"caffe"`: RGB -> BGR, then subtract the ImageNet channel means (ResNet50).
    - `"edge"`: `(x - 127) / 128`, the inception-style scaling of Google's edge models
      (EfficientNet-Lite).
    - `"none"`: pass through (models that preprocess inside themselves, such as
      MobileNetV3, EfficientNetV2 and ConvNeXt in `keras.applications`).
    - `"affine"`: `x * scale + offset`, per channel or scalar (keras-hub image
      converters).

    Example: `ImageNetPreprocess(mode="affine", scale=[1/255] * 3, offset=[0.0] * 3)`.
    """

    def __init__(self, mode: str = "tf", scale=None, offset=None, **kwargs):
        super().__init__(**kwargs)
        if mode not in MODES:
            raise ValueError(f"ImageNetPreprocess mode must be one of {', '.join(MODES)}, got {mode!r}")
        if mode == "affine" and scale is None and offset is None:
            raise ValueError("ImageNetPreprocess mode 'affine' needs scale and/or offset")
        self.mode = mode
        self.scale = _as_list(scale)
        self.offset = _as_list(offset)

    def call(self, inputs):
        ops = keras.ops
        x = ops.cast(inputs, self.compute_dtype)
        if self.mode == "tf":
            return x / 127.5 - 1.0
        if self.mode == "torch":
            mean = ops.convert_to_tensor(TORCH_MEAN, dtype=self.compute_dtype)
            std = ops.convert_to_tensor(TORCH_STD, dtype=self.compute_dtype)
            return (x / 255.0 - mean) / std
        if self.mode == "caffe":
            mean = ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype=self.compute_dtype)
            return ops.flip(x, axis=-1) - mean
        if self.mode == "edge":
            return (x - 127.0) / 128.0
        if self.mode == "affine":
            if self.scale is not None:
                x = x * ops.convert_to_tensor(self.scale, dtype=self.compute_dtype)
            if self.offset is not None:
                x = x + ops.convert_to_tensor(self.offset, dtype=self.compute_dtype)
            return x
        return x

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "scale": self.scale, "offset": self.offset})
        return config


def _as_list(value):
    if value is None:
        return None
    if isinstance(value, (int, float)):
        return float(value)
    return [float(v) for v in value]
