"""keras-zoo's object detection plugin: ImageNet CNNs with a feature pyramid, COCO/VOC/YOLO data, COCO mAP.

Found through the entry point `vision-detect = "zoo_vision_detect:plugin"` (group
`keras_zoo.plugins`); uses only the public plugin contract (`zoo.api`, `zoo.tasks`,
`zoo.detection`, `zoo.data`, `zoo.errors`) and the vision plugin's backbones.

```
zoo finetune --plugin vision-detect                              # the generated scenes, MobileNetV2 + pyramid
zoo finetune --plugin vision-detect --data coco/annotations.json --strategy partial
zoo export --format tflite                                       # boxes after NMS, in the graph
zoo predict runs/<run>/exports/model.tflite photos/
```

Importing this package imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from zoo.api import Plugin
from zoo.tasks import Detection
from zoo_vision_detect.backbones import BACKBONES, DEFAULT_BACKBONE
from zoo_vision_detect.data import OPTIONS, DetectData

__version__ = "0.1.0"

#: a frozen ImageNet backbone with the pyramid, tower and head training: minutes on 2 cores.
DEFAULT_RECIPE = {
    "strategy": "linear-probe",
    "epochs": 30,
    "batch_size": 16,
    "learning_rate": 0.002,
    "warmup_epochs": 1,
    "patience": 8,
    "min_epochs": 8,  # val_map stays near 0 for the first epochs, while the new pyramid and head settle
    "dropout": 0.0,
    "per_strategy": {
        "partial": {"learning_rate": 5e-4},
        "full": {"learning_rate": 3e-4},
        "gradual": {"learning_rate": 5e-4},
        "discriminative": {"learning_rate": 5e-4},
    },
}

plugin = Plugin(
    name="vision-detect",
    domain="vision",
    summary="Object detection: MobileNetV2 / EfficientNet-Lite0 (ImageNet, offline) + feature pyramid, "
            "one-stage anchor-free head; COCO, VOC and YOLO data",
    backbones=dict(BACKBONES),
    default_backbone=DEFAULT_BACKBONE,
    task=Detection(),
    data=DetectData(),
    recipe=dict(DEFAULT_RECIPE),
    version=__version__,
    custom_objects_module="zoo_vision_detect.layers",
    options=dict(OPTIONS),
    contract=2,
)

__all__ = ["plugin", "DetectData", "DEFAULT_RECIPE", "OPTIONS"]
