"""keras-zoo's text plugins: keras-hub BERT-family encoders, text classification and NER.

One distribution, four entry points (group `keras_zoo.plugins`), because a `Plugin` has one
`TaskSpec` and the task kind follows from the data:

| plugin | task kind | data |
| --- | --- | --- |
| `text` | multiclass (2 or more classes, softmax) | CSV/TSV/JSONL, one label per text or text pair |
| `text-binary` | binary (one sigmoid, AUC, decision threshold) | same, exactly 2 labels |
| `text-multilabel` | multilabel (one sigmoid per label) | same, `a|b` label sets or JSON lists |
| `text-ner` | token-multiclass (one BIO tag per word) | CoNLL files |
| `text-qa` | answer-span (start and end logits per word piece) | SQuAD v1.1 / v2.0 JSON, JSONL / CSV |

```
zoo finetune --plugin text                                      # demo topics, all-MiniLM-L6-v2, offline
zoo finetune --plugin text --data reviews.csv -o text_column=review -o label_column=stars --strategy lora
zoo finetune --plugin text-ner --data train.conll --strategy full --epochs 5
zoo finetune --plugin text-qa --data train-v2.0.json -o max_length=256 -o doc_stride=128
zoo finetune --plugin text --backbone hub:bert_tiny_en_uncased  # any keras-hub BERT-family preset or folder
```

Importing this package imports neither TensorFlow, Keras nor keras-hub.
"""

from __future__ import annotations

from functools import partial

from zoo.api import Option, Plugin, TaskSpec
from zoo.tasks import AnswerSpan
from zoo_text.analysis import analyze_ner, ner_report_sections
from zoo_text.backbones import DEFAULT_BACKBONE, DEFAULT_POOLING, POOLINGS, resolve_text_backbone, text_spec
from zoo_text.data import DEFAULT_SEQUENCE_LENGTH, NerData, TextData
from zoo_text.qa import (DEFAULT_DOC_STRIDE, DEFAULT_MAX_ANSWER_LENGTH, DEFAULT_MAX_LENGTH, QaData, analyze_qa,
                         qa_report_sections)
from zoo_text.tokenize import MAX_SEQUENCE_LENGTH, MIN_SEQUENCE_LENGTH

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


#: CPU defaults for question answering: the sentence recipe (full fine-tuning, 4 epochs, lr 1e-4); the span
#: head starts from random.
QA_RECIPE = dict(SENTENCE_RECIPE)


def _sequence_length_option() -> Option:
    return Option(DEFAULT_SEQUENCE_LENGTH, "word pieces per input, special tokens included (padded or truncated)",
                  type=int, min=MIN_SEQUENCE_LENGTH, max=MAX_SEQUENCE_LENGTH)


def sentence_options(kind: str) -> dict[str, Option]:
    """The `-o` options of the sentence plugins (`text`, `text-binary`, `text-multilabel`).

    Example: `sentence_options("multilabel")["label_separator"].default == "|"`.
    """
    options = {
        "sequence_length": _sequence_length_option(),
        "text_column": Option("text", "column (CSV/TSV header or JSON key) holding the text"),
        "text_pair_column": Option(None, "column of the second text, for text-pair tasks (null: single texts)",
                                   type=str),
        "label_column": Option("labels" if kind == "multilabel" else "label",
                               "column holding the label" + (" set" if kind == "multilabel" else "")),
        "labels": Option(None, "label names in order, e.g. [negative, positive] (null: those in the data, sorted); "
                               "any other label is an error", type=list),
        "pooling": Option(DEFAULT_POOLING, "sentence vector from the encoder: padding-masked mean of the last layer, "
                                           "or the first ([CLS]) token", choices=POOLINGS),
    }
    if kind == "multilabel":
        options["label_separator"] = Option("|", "separator of the labels in one CSV/TSV cell (a|b)")
    return options


#: The `-o` options of `text-ner`.
NER_OPTIONS = {
    "sequence_length": _sequence_length_option(),
    "labels": Option(None, "the BIO tag set in order, e.g. [O, B-PER, I-PER] (null: O, then B-X, I-X for each "
                           "type in the data)", type=list),
}


#: The `-o` options of `text-qa`.
QA_OPTIONS = {
    "max_length": Option(DEFAULT_MAX_LENGTH, "word pieces per window: [CLS] question [SEP] context part [SEP]",
                         type=int, min=MIN_SEQUENCE_LENGTH, max=MAX_SEQUENCE_LENGTH),
    "doc_stride": Option(DEFAULT_DOC_STRIDE, "word pieces between the starts of a long context's windows "
                                             "(BERT's doc_stride; smaller = more overlap)", type=int, min=1),
}


def _text_plugin(name: str, kind: str, summary: str, recipe: dict) -> Plugin:
    ner = kind == "token-multiclass"
    output = "sequence" if ner else "pooled"  # NER tags every position; sentence tasks pool
    data = NerData() if ner else TextData(kind)
    return Plugin(
        name=name,
        domain="text",
        summary=summary,
        backbones={DEFAULT_BACKBONE: text_spec(DEFAULT_BACKBONE, output)},
        default_backbone=DEFAULT_BACKBONE,
        task=TaskSpec(kind=kind),
        data=data,
        recipe=dict(recipe),
        version=__version__,
        custom_objects_module="zoo_text.layers",
        analyze=analyze_ner if ner else None,
        report_sections=ner_report_sections if ner else None,
        preview=None if ner else data.preview,  # NER has no worst-scored sentence list: scores are per word
        options=dict(NER_OPTIONS) if ner else sentence_options(kind),
        resolve_backbone=partial(resolve_text_backbone, output=output),
        contract=2,
    )


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
qa_plugin = Plugin(
    name="text-qa",
    domain="text",
    summary="Extractive question answering (SQuAD 1.1 / 2.0 with no-answer, JSONL / CSV): answer spans "
            "from all-MiniLM-L6-v2 or a keras-hub BERT-family preset",
    backbones={DEFAULT_BACKBONE: text_spec(DEFAULT_BACKBONE, "sequence")},
    default_backbone=DEFAULT_BACKBONE,
    task=AnswerSpan(max_answer_length=DEFAULT_MAX_ANSWER_LENGTH),
    data=QaData(),
    recipe=dict(QA_RECIPE),
    version=__version__,
    custom_objects_module="zoo_text.layers",
    analyze=analyze_qa,
    report_sections=qa_report_sections,
    options=dict(QA_OPTIONS),
    resolve_backbone=partial(resolve_text_backbone, output="sequence"),
    contract=2,
)

__all__ = ["plugin", "binary_plugin", "multilabel_plugin", "ner_plugin", "qa_plugin", "TextData", "NerData", "QaData",
           "SENTENCE_RECIPE", "NER_RECIPE", "QA_RECIPE", "NER_OPTIONS", "QA_OPTIONS", "sentence_options"]
