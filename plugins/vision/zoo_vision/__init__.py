"""keras-zoo's vision plugin: ImageNet backbones, image folders and CSVs, a generated demo.

Found through the entry point `vision = "zoo_vision:plugin"` (group
`keras_zoo.plugins`); uses only the public plugin contract (`zoo.api`, `zoo.data`, `zoo.runs`, `zoo.errors`).

```
zoo finetune --plugin vision                                  # demo data, MobileNetV2 (shipped weights)
zoo finetune --plugin vision --data photos/ --strategy gradual --epochs 12 -o image_size=160
zoo finetune --plugin vision --backbone resnet50 --weights none --data photos/
zoo finetune --plugin vision --backbone hub:resnet_50_imagenet --data photos/   # needs keras-hub
```

Importing this package imports neither TensorFlow nor Keras.
"""

from __future__ import annotations

from zoo.api import Plugin, TaskSpec
from zoo_vision.backbones import DEFAULT_BACKBONE, IMAGENET_BACKBONES, imagenet_spec
from zoo_vision.data import OPTIONS, VisionData
from zoo_vision.hub import hub_spec

__version__ = "0.1.0"

#: defaults for CPU: a cached-feature linear probe finishes the demo in about a minute on 2 cores.
DEFAULT_RECIPE = {
    "strategy": "linear-probe",
    "epochs": 30,
    "batch_size": 32,
    "learning_rate": 0.003,
    "warmup_epochs": 0,
    "patience": 8,
    "dropout": 0.2,
    # 0.003 suits a head on frozen features, not a backbone: on a small real photo set `partial` at
    # 0.003 diverged in 2 of 6 runs, at 3e-4 in none of 4. Applied when that strategy is chosen,
    # unless a recipe file or the command line sets the learning rate.
    "per_strategy": {
        "partial": {"learning_rate": 3e-4, "warmup_epochs": 1},
        "full": {"learning_rate": 1e-4, "warmup_epochs": 1},
        "gradual": {"learning_rate": 3e-4, "warmup_epochs": 1},
        "discriminative": {"learning_rate": 3e-4, "warmup_epochs": 1},
        "lora": {"learning_rate": 1e-3},
    },
}

def preview(inputs, recipe, options, metadata) -> bytes:
    """`Plugin.preview`: a thumbnail of the image (pixel values 0-255, as the dataset yields them)."""
    from zoo.data import thumbnail_png

    return thumbnail_png(inputs["image"])


plugin = Plugin(
    name="vision",
    domain="vision",
    summary="Image classification: ImageNet backbones (MobileNetV2 weights shipped), folders/CSVs of images",
    backbones={name: imagenet_spec(name) for name in IMAGENET_BACKBONES},
    default_backbone=DEFAULT_BACKBONE,
    task=TaskSpec(kind="multiclass"),
    data=VisionData(),
    recipe=dict(DEFAULT_RECIPE),
    version=__version__,
    custom_objects_module="zoo_vision.layers",
    options=dict(OPTIONS),
    resolve_backbone=hub_spec,  # `hub:<preset-or-folder>` names
    preview=preview,
    contract=2,
)

__all__ = ["plugin", "VisionData", "DEFAULT_RECIPE", "OPTIONS"]
