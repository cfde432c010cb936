"""Registered Keras layers of the medical-ct plugin (imported before a saved model loads).

`CTWindow` turns raw Hounsfield units into one channel per CT window, 0..255,
so that the vision plugin's `ImageNetPreprocess` can follow it. Both live in
the model, so a deployed model (Keras, SavedModel, TFLite, ONNX) takes raw HU
and cannot get the windowing wrong. Importing this module also registers
`zoo_vision.layers` (the run's `zoo.json` names this module as the plugin's
`custom_objects_module`).

Example:

```python
import numpy as np
from zoo_medical_ct.layers import CTWindow

layer = CTWindow(windows=["lung", "mediastinum", "bone"])
layer(np.full((1, 4, 4, 1), -600.0, "float32"))[0, 0, 0]   # [127.5, 0.0, 0.0]
```
"""

from __future__ import annotations

import keras
import zoo_vision.layers  # noqa: F401  (registers ImageNetPreprocess for models that use it)

from zoo_medical_ct.windows import DEFAULT_WINDOWS, resolve_windows


@keras.saving.register_keras_serializable(package="zoo_medical_ct")
class CTWindow(keras.layers.Layer):
    """Raw HU `(H, W, k)` -> `(H', W', k * len(windows))` window channels scaled to 0..255.

    - `windows`: names (`lung` W1500/L-600, `mediastinum` W350/L50, `bone`
      W2000/L500, `brain` W80/L40) or custom `{"width": W, "level": L}`
      mappings. Each maps `level - width/2` and below to 0, `level + width/2`
      and above to 255, linearly in between.
    - `k` input channels are adjacent slices (2.5D; 1 for a single slice).
      Output channels are window-major: all slices under the first window,
      then all slices under the second...
    - `size`: when set, HU are first resized (bilinear) to `size x size`.

    It computes in float32 whatever the global dtype policy is: HU need more
    precision than bfloat16 carries (a W80 brain window spans 80 HU).

    Example: `CTWindow(windows=[{"width": 400, "level": 40}], size=224)`.
    """

    def __init__(self, windows=DEFAULT_WINDOWS, size: int | None = None, **kwargs):
        kwargs["dtype"] = "float32"
        super().__init__(**kwargs)
        self.windows = resolve_windows(windows)
        self.size = None if size is None else int(size)

    def call(self, inputs):
        ops = keras.ops
        x = ops.cast(inputs, "float32")
        if self.size is not None and (x.shape[1] != self.size or x.shape[2] != self.size):
            x = ops.image.resize(x, (self.size, self.size), interpolation="bilinear", antialias=False)
        channels = []
        for window in self.windows:
            low = window["level"] - window["width"] / 2.0
            scaled = (x - low) * (255.0 / window["width"])
            channels.append(ops.clip(scaled, 0.0, 255.0))
        return channels[0] if len(channels) == 1 else ops.concatenate(channels, axis=-1)

    def compute_output_shape(self, input_shape):
        height, width = (self.size, self.size) if self.size is not None else tuple(input_shape[1:3])
        k = input_shape[-1]
        return (input_shape[0], height, width, None if k is None else k * len(self.windows))

    def get_config(self):
        config = super().get_config()
        config.update({"windows": [dict(w) for w in self.windows], "size": self.size})
        return config
