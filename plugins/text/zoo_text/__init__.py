"""keras-zoo's text plugins: keras-hub BERT-family encoders, text classification and NER.

One distribution, four entry points (group `keras_zoo.plugins`), because a `Plugin` has one
`TaskSpec` and the task kind follows from the data:

| plugin | task kind | data |
| --- | --- | --- |
| `text` | multiclass (2 or more classes, softmax) | CSV/TSV/JSONL, one label per text or text pair |
| `text-binary` | binary (one sigmoid, AUC, decision threshold) | same, exactly 2 labels |
| `text-multilabel` | multilabel (one sigmoid per label) | same, `a|b` label sets or JSON lists |
| `text-ner` | token-multiclass (one BIO tag per word) | CoNLL files |

```
zoo finetune --plugin text                                      # demo topics, all-MiniLM-L6-v2, offline
zoo finetune --plugin text --data reviews.csv -o text_column=review -o label_column=stars --strategy lora
zoo finetune --plugin text-ner --data train.conll --strategy full --epochs 5
zoo finetune --plugin text --backbone hub:bert_tiny_en_uncased  # any keras-hub BERT-family preset or folder
```

Importing this package imports neither TensorFlow, Keras nor keras-hub.
"""

from __future__ import annotations

from dataclasses import dataclass

from zoo.api import BackboneSpec, Plugin, TaskSpec
from zoo_text.analysis import analyze_ner
from zoo_text.backbones import DEFAULT_BACKBONE, is_backbone_name, text_spec
from zoo_text.data import NerData, TextData

__version__ = "0.1.0"

#: CPU defaults for sentence tasks: full fine-tuning of MiniLM (22M parameters) for a few epochs.
SENTENCE_RECIPE = {
    "strategy": "full",
    "epochs": 4,
    "batch_size": 16,
    "learning_rate": 1e-4,
    "warmup_epochs": 1,
    "patience": 2,
    "dropout": 0.1,
    "optimizer": "adamw",
    "weight_decay": 0.01,
}

#: CPU defaults for NER: full fine-tuning, a higher learning rate for the randomly initialised tag head.
NER_RECIPE = {
    "strategy": "full",
    "epochs": 5,
    "batch_size": 16,
    "learning_rate": 2e-4,
    "warmup_epochs": 1,
    "patience": 2,
    "dropout": 0.1,
    "optimizer": "adamw",
    "weight_decay": 0.01,
}


@dataclass
class TextPlugin(Plugin):
    """A text `Plugin` that also resolves `hub:<preset-or-folder>` (and folder paths) as backbones."""

    mode: str = "pooled"

    def resolve_backbone(self, name: str) -> BackboneSpec | None:
        if not is_backbone_name(name):
            return None
        return text_spec(name, self._mode_getter())

    def _mode_getter(self):
        if self.mode == "sequence":
            return "sequence"
        data = self.data
        return lambda: data.pooling


def _text_plugin(name: str, kind: str, summary: str, recipe: dict) -> TextPlugin:
    data = NerData() if kind == "token-multiclass" else TextData(kind)
    plugin = TextPlugin(
        name=name,
        domain="text",
        summary=summary,
        backbones={},
        default_backbone=DEFAULT_BACKBONE,
        task=TaskSpec(kind=kind),
        data=data,
        recipe=dict(recipe),
        version=__version__,
        custom_objects_module="zoo_text.layers",
        mode="sequence" if kind == "token-multiclass" else "pooled",
        analyze=analyze_ner if kind == "token-multiclass" else None,
    )
    plugin.backbones[DEFAULT_BACKBONE] = text_spec(DEFAULT_BACKBONE, plugin._mode_getter())
    return plugin


plugin = _text_plugin("text", "multiclass",
                      "Text / text-pair classification: all-MiniLM-L6-v2 (offline) or a keras-hub BERT-family "
                      "preset (--backbone hub:NAME); CSV/TSV/JSONL", SENTENCE_RECIPE)
binary_plugin = _text_plugin("text-binary", "binary",
                             "Binary text / text-pair classification (sigmoid, AUC, threshold), CSV/TSV/JSONL",
                             SENTENCE_RECIPE)
multilabel_plugin = _text_plugin("text-multilabel", "multilabel",
                                 "Multi-label text classification (label sets), CSV/TSV/JSONL", SENTENCE_RECIPE)
ner_plugin = _text_plugin("text-ner", "token-multiclass",
                          "Named-entity recognition from CoNLL files (BIO tags, entity-level F1)", NER_RECIPE)

__all__ = ["plugin", "binary_plugin", "multilabel_plugin", "ner_plugin", "TextPlugin", "TextData", "NerData",
           "SENTENCE_RECIPE", "NER_RECIPE"]
