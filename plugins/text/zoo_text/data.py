"""Data adapters: text classification tables and CoNLL named-entity files -> tokenised `tf.data`.

`TextData(kind)` reads CSV, TSV or JSONL files with a text column (and optionally a second text
column for pairs) and a label column; `NerData` reads CoNLL files. Both tokenise with the chosen
backbone's own keras-hub tokenizer inside `tf.data`, so the model takes integer inputs, and both
raise `DataError` naming the file and line of bad input (bad encoding, empty text, unknown label,
malformed line). Every hook receives the run's recipe and plugin options; an adapter keeps only a
cache of loaded tokenizers, keyed by backbone and sequence length.

`--data` is a file, split into train/validation/test deterministically by `zoo.data.split_indices`
(stratified by class for single-label tasks, at random for label sets and sentences; by `seed`,
`val_fraction`, `test_fraction`), or a folder holding `train.<ext>` plus `validation.<ext>` (or
`valid`/`dev`/`val`) and optionally `test.<ext>`.

Example:

```python
from zoo_text import plugin
recipe = plugin.resolve_recipe(overrides={"options": {"text_column": "review", "label_column": "stars"}})
bundle = plugin.data.load("reviews.csv", recipe, plugin.options_for(recipe))
```
"""

from __future__ import annotations

import csv
import hashlib
import json
import logging
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.api import DataAdapter, DataBundle, Rows, TensorSpec
from zoo.data import split_indices
from zoo.errors import ConfigError, DataError, PluginError
from zoo_text import io
from zoo_text.backbones import DEFAULT_BACKBONE
from zoo_text.entities import OUTSIDE, is_bio_tag, split_tag, tag_names

log = logging.getLogger(__name__)

DEFAULT_SEQUENCE_LENGTH = 64
SPLIT_NAMES = {"train": ("train",), "validation": ("validation", "valid", "val", "dev"), "test": ("test",)}


# --------------------------------------------------------------------------- shared helpers

def demo_file(name: str) -> Path:
    return Path(str(resources.files("zoo_text") / "data" / name))


def parse_label_list(value, option: str = "labels") -> list[str] | None:
    """`-o labels=[a, b]` or `-o labels=a,b` -> `["a", "b"]`; None when unset."""
    if value in (None, "", []):
        return None
    if isinstance(value, str):
        items = [v.strip() for v in value.split(",")]
    elif isinstance(value, (list, tuple)):
        items = [str(v).strip() for v in value]
    else:
        raise ConfigError(f"-o {option} must be a list of names, got {value!r}")
    if any(not v for v in items):
        raise ConfigError(f"-o {option} has an empty name: {value!r}")
    if len(set(items)) != len(items):
        raise ConfigError(f"-o {option} names a label twice: {value!r}")
    return items


def find_split_files(folder: Path, suffixes: Sequence[str]) -> dict[str, Path]:
    """`train.*`, `validation.*` (`valid`, `val`, `dev`) and `test.*` files of a folder."""
    found: dict[str, Path] = {}
    for split, stems in SPLIT_NAMES.items():
        for stem in stems:
            for suffix in suffixes:
                path = folder / f"{stem}{suffix}"
                if path.is_file() and split not in found:
                    found[split] = path
    if "train" not in found:
        raise DataError(f"{folder}: a data folder needs train{suffixes[0]} (and validation{suffixes[0]}, "
                        f"test{suffixes[0]}); or pass one file, which is split by the recipe's val_fraction/test_fraction")
    if "validation" not in found:
        raise DataError(f"{folder}: found {found['train'].name} but no validation file "
                        f"(validation{suffixes[0]}, valid, val or dev)")
    return found


class _EncoderCache:
    """One `TextEncoder` per (backbone, sequence length): loading a tokenizer takes a second."""

    def __init__(self):
        self._encoders: dict[tuple, Any] = {}

    def get(self, backbone: str | None, sequence_length) -> Any:
        from zoo_text.tokenize import TextEncoder, check_sequence_length

        key = (backbone or DEFAULT_BACKBONE, check_sequence_length(sequence_length))
        if key not in self._encoders:
            self._encoders[key] = TextEncoder.for_backbone(*key)
        return self._encoders[key]

    def from_settings(self, settings: Mapping) -> Any:
        from zoo_text.tokenize import TextEncoder

        vocabulary = settings.get("vocabulary")
        if not isinstance(vocabulary, str) and vocabulary is not None:
            vocabulary = "\n".join(vocabulary)
        digest = None if vocabulary is None else hashlib.sha256(vocabulary.encode("utf-8")).hexdigest()
        rest = {k: v for k, v in settings.items() if k != "vocabulary"}
        key = ("settings", digest, json.dumps(rest, sort_keys=True, default=str))
        if key not in self._encoders:
            self._encoders[key] = TextEncoder.from_settings(settings)
        return self._encoders[key]


def _deployment_settings(deployment: Mapping | None) -> Mapping | None:
    """The tokenizer settings the run saved (`DataBundle.deployment`, handed back by `zoo predict`)."""
    if not deployment:
        return None
    return deployment.get("text_tokenizer") or None


def _signature(encoder) -> dict[str, TensorSpec]:
    return {name: TensorSpec((encoder.sequence_length,), "int32") for name in encoder.input_names}


# --------------------------------------------------------------------------- classification

class TextData(DataAdapter):
    """Text or text-pair classification from CSV / TSV / JSONL (kinds multiclass, binary, multilabel).

    Example: `TextData("binary").demo(recipe, options).class_names == ["negative", "positive"]`.
    """

    def __init__(self, kind: str = "multiclass"):
        if kind not in ("multiclass", "binary", "multilabel"):
            raise ValueError(f"TextData kind {kind!r}")
        self.kind = kind
        self._encoders = _EncoderCache()

    def preview(self, inputs, recipe, options, metadata) -> str:
        """`Plugin.preview`: the sample's text back from its token ids (a pair joined by ` | `)."""
        encoder = self._encoders.get(recipe.backbone, options["sequence_length"])
        ids = np.asarray(inputs["token_ids"]).reshape(-1)
        mask = np.asarray(inputs.get("padding_mask", ids != 0)).reshape(-1).astype(bool)
        segments = np.asarray(inputs.get("segment_ids", np.zeros_like(ids))).reshape(-1)
        special = set(int(t) for t in getattr(encoder.tokenizer, "special_token_ids", []) or [])
        texts = []
        for segment in sorted(set(segments[mask].tolist())):
            keep = [int(t) for t, m, g in zip(ids, mask, segments) if m and g == segment and int(t) not in special]
            if keep:
                text = encoder.tokenizer.detokenize(np.asarray(keep, "int32"))
                texts.append(text.numpy().decode("utf-8") if hasattr(text, "numpy") else str(text))
        return " | ".join(texts)

    # ------------------------------------------------------------------ options
    def _checked(self, options: Mapping) -> Mapping:
        """`options` after the checks that span fields or values the declarations cannot express."""
        for key in ("text_column", "label_column"):
            if not options[key].strip():
                raise ConfigError(f"-o {key} must name a column, got {options[key]!r}")
        pair = options["text_pair_column"]
        if pair is not None:
            if not pair.strip():
                raise ConfigError(f"-o text_pair_column must name a column (or be null for single texts), got {pair!r}")
            if pair == options["text_column"]:
                raise ConfigError(f"-o text_pair_column={pair} is the text_column too; name the column of the "
                                  "second text")
        if self.kind == "multilabel" and not options["label_separator"]:
            raise ConfigError("-o label_separator must not be empty; the default is |")
        parse_label_list(options["labels"])
        return options

    # ------------------------------------------------------------------ reading
    def _rows(self, path: Path, opts: Mapping) -> tuple[list[str], list[str] | None, list, list[int]]:
        records = io.read_table(path)
        if not records:
            raise DataError(f"{path}: no data rows")
        text_col, pair_col, label_col = opts["text_column"], opts["text_pair_column"], opts["label_column"]
        columns = list(records[0].fields)
        for col, option in ((text_col, "text_column"), (pair_col, "text_pair_column"), (label_col, "label_column")):
            if col is not None and io.table_format(path) != "jsonl" and col not in columns:
                raise DataError(f"{path}: no column {col!r} (columns: {', '.join(columns)}); pass -o {option}=NAME")
        texts, pairs, labels, lines = [], [] if pair_col else None, [], []
        for record in records:
            texts.append(self._text(path, record, text_col))
            if pairs is not None:
                pairs.append(self._text(path, record, pair_col, "text_pair_column"))
            labels.append(self._label(path, record, label_col, opts))
            lines.append(record.line)
        return texts, pairs, labels, lines

    @staticmethod
    def _text(path, record: io.Record, column: str, option: str = "text_column", predicting: bool = False) -> str:
        if column not in record.fields:
            # `zoo predict` has no -o: the run fixed the column, so the file must name it
            fix = (f"the model was trained on column {column!r}: name that column in the file" if predicting
                   else f"pass -o {option}=NAME")
            raise DataError(f"{path} line {record.line}: no field {column!r}; {fix}")
        value = record.fields[column]
        if not isinstance(value, str):
            raise DataError(f"{path} line {record.line}: {column} must be text, got {value!r}")
        if not value.strip():
            raise DataError(f"{path} line {record.line}: empty text in column {column!r}; remove the row or fill it in")
        return value.strip()

    def _label(self, path, record: io.Record, column: str, opts: Mapping):
        if column not in record.fields:
            raise DataError(f"{path} line {record.line}: no field {column!r}; pass -o label_column=NAME")
        value = record.fields[column]
        if self.kind == "multilabel":
            sep = opts["label_separator"]
            if isinstance(value, list):
                items = [str(v).strip() for v in value]
            elif isinstance(value, str):
                items = [v.strip() for v in value.split(sep)] if value.strip() else []
            else:
                raise DataError(f"{path} line {record.line}: {column} must be a list or {sep}-separated text, "
                                f"got {value!r}")
            if any(not v for v in items):
                raise DataError(f"{path} line {record.line}: an empty label in {value!r}")
            return items
        if value is None or isinstance(value, (list, dict)):
            raise DataError(f"{path} line {record.line}: {column} must be one label, got {value!r}")
        text = str(value).strip() if not isinstance(value, bool) else str(value).lower()
        if not text:
            raise DataError(f"{path} line {record.line}: empty label in column {column!r}")
        return text

    def _class_names(self, opts: Mapping, labels: Sequence) -> list[str]:
        names = parse_label_list(opts["labels"])
        if names is None:
            seen = set()
            for label in labels:
                seen.update(label if isinstance(label, list) else [label])
            names = sorted(seen)
        if self.kind == "binary" and len(names) != 2:
            raise DataError(f"a binary task needs exactly 2 labels; found {len(names)}: {names[:10]} "
                            "(use the `text` plugin for more classes, or -o labels=NEGATIVE,POSITIVE)")
        if self.kind == "multiclass" and len(names) < 2:
            raise DataError(f"a classification task needs at least 2 labels; found {names}")
        if self.kind == "multilabel" and not names:
            raise DataError("no labels found: every row has an empty label set")
        return names

    def _encode_labels(self, path, labels: Sequence, lines: Sequence[int], names: list[str]) -> np.ndarray:
        index = {n: i for i, n in enumerate(names)}
        if self.kind == "multilabel":
            out = np.zeros((len(labels), len(names)), "float32")
            for row, (items, line) in enumerate(zip(labels, lines)):
                for item in items:
                    if item not in index:
                        raise DataError(f"{path} line {line}: unknown label {item!r}; the labels are: {', '.join(names)}")
                    out[row, index[item]] = 1.0
            return out
        out = np.zeros((len(labels),), "int32")
        for row, (label, line) in enumerate(zip(labels, lines)):
            if label not in index:
                raise DataError(f"{path} line {line}: unknown label {label!r}; the labels are: {', '.join(names)}")
            out[row] = index[label]
        if self.kind == "binary":  # (N, 1) floats, like the model's one sigmoid output
            return out.astype("float32").reshape(-1, 1)
        return out

    # ------------------------------------------------------------------ DataAdapter
    def load(self, source: str, recipe, options: Mapping) -> DataBundle:
        opts = self._checked(options)
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"{source}: no such file or folder")
        if path.is_dir():
            files = find_split_files(path, (".csv", ".tsv", ".jsonl", ".ndjson", ".tab"))
            parts = {split: self._rows(f, opts) for split, f in files.items()}
            names = self._class_names(opts, parts["train"][2])
            arrays = {split: (p[0], p[1], self._encode_labels(files[split], p[2], p[3], names))
                      for split, p in parts.items()}
            counts = {split: len(a[0]) for split, a in arrays.items()}
            return self._bundle(arrays.get("train"), arrays.get("validation"), arrays.get("test"), names, opts,
                                recipe, {"source": str(path), "files": {k: str(v) for k, v in files.items()},
                                         "split": counts})
        texts, pairs, labels, lines = self._rows(path, opts)
        names = self._class_names(opts, labels)
        y = self._encode_labels(path, labels, lines, names)
        return self._split_bundle(texts, pairs, y, names, opts, recipe, {"source": str(path)})

    def demo(self, recipe, options: Mapping) -> DataBundle:
        opts = self._checked(options)
        records = io.read_table(demo_file("topics.csv"))
        texts = [r.fields["text"] for r in records]
        if self.kind == "multiclass":
            labels = [r.fields["topic"] for r in records]
        elif self.kind == "binary":
            labels = [r.fields["sentiment"] for r in records]
        else:
            texts, labels = _multilabel_demo(texts, [r.fields["topic"] for r in records], recipe.seed)
        names = sorted({x for label in labels for x in (label if isinstance(label, list) else [label])})
        y = self._encode_labels("demo", labels, [r.line for r in records], names)
        description = {"multiclass": "topics.csv: 320 short texts, topic (4 classes)",
                       "binary": "topics.csv: 320 short texts, sentiment (positive/negative)",
                       "multilabel": "topics.csv: 320 texts, 40% of them two texts joined, labels = their topics"}
        opts = dict(opts, text_pair_column=None)  # the demo has single texts
        return self._split_bundle(texts, None, y, names, opts, recipe, {"source": "demo: " + description[self.kind]})

    def _split_bundle(self, texts, pairs, y, names, opts, recipe, metadata) -> DataBundle:
        if self.kind == "multilabel":
            # label sets are often unique to a row, and a stratum of one cannot be split: at random
            strata, rule = [0] * len(texts), "random"
        else:
            strata, rule = y.reshape(len(y), -1)[:, 0].astype(int).tolist(), "stratified by label"
        tr, va, te = split_indices(strata, recipe.val_fraction, recipe.test_fraction, recipe.seed)

        def take(ix):
            return ([texts[i] for i in ix], None if pairs is None else [pairs[i] for i in ix], y[ix])

        metadata = dict(metadata, split={"train": len(tr), "validation": len(va), "test": len(te)},
                        split_rule=rule, seed=recipe.seed)
        return self._bundle(take(tr), take(va), take(te) if len(te) else None, names, opts, recipe, metadata)

    def _bundle(self, train, validation, test, names, opts, recipe, metadata) -> DataBundle:
        encoder = self._encoders.get(recipe.backbone, opts["sequence_length"])

        def ds(part):
            if part is None or not len(part[0]):
                return None
            return encoder.dataset(part[0], part[2], part[1])

        settings = encoder.settings()
        settings["vocabulary"] = None if settings["vocabulary"] is None else "\n".join(settings["vocabulary"])
        settings.update(task="sentences", text_column=opts["text_column"], text_pair_column=opts["text_pair_column"])
        metadata = dict(metadata, backbone=recipe.backbone or DEFAULT_BACKBONE, pooling=opts["pooling"],
                        sequence_length=encoder.sequence_length)
        validation_ds = ds(validation)
        if validation_ds is None:
            raise DataError("the validation split is empty; give more rows or a larger val_fraction (--config recipe file)")
        return DataBundle(train=ds(train), validation=validation_ds, test=ds(test), class_names=list(names),
                          input_signature=_signature(encoder), metadata=metadata,
                          deployment={"text_tokenizer": settings})

    # ------------------------------------------------------------------ zoo predict
    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec], options: Mapping,
                    deployment: Mapping) -> Rows:
        """Text files (one text per line; `text<TAB>pair` for pair models) or CSV/TSV/JSONL -> `Rows`.

        `deployment` is the run's `DataBundle.deployment` (from zoo.json or the export sidecar): the
        tokenizer settings and vocabulary, so the texts are tokenised exactly as in training, and the
        columns the run read. Each row's source is `file:line`.
        """
        encoder, settings = _predict_encoder(self._encoders, input_signature, options, deployment)
        text_col = settings["text_column"] if "text_column" in settings else options["text_column"]
        pair_col = settings["text_pair_column"] if "text_pair_column" in settings else options["text_pair_column"]
        texts, pairs, sources = [], [] if pair_col else None, []
        for p in paths:
            path = Path(p)
            if path.suffix.lower() in io.TABLE_SUFFIXES:
                for record in io.read_table(path):
                    texts.append(self._text(path, record, text_col, predicting=True))
                    if pairs is not None:
                        pairs.append(self._text(path, record, pair_col, "text_pair_column", predicting=True))
                    sources.append(f"{path}:{record.line}")
            else:
                for line, text in io.read_lines(path):
                    if pairs is not None:
                        first, sep, second = text.partition("\t")
                        if not sep or not first.strip() or not second.strip():
                            raise DataError(f"{path} line {line}: this model classifies text pairs; "
                                            "write each pair as TEXT<TAB>SECOND TEXT")
                        texts.append(first.strip())
                        pairs.append(second.strip())
                    else:
                        texts.append(text)
                    sources.append(f"{path}:{line}")
        if not texts:
            raise DataError(f"no text to classify in {', '.join(map(str, paths))}")
        return Rows(encoder.encode_numpy(texts, pairs), sources)

    def write_examples(self, folder, recipe, options: Mapping) -> list[str]:
        """Demo texts as `zoo predict` reads them: a CSV with the text column(s) of `options` and a text
        file with one text per line (`text<TAB>pair` for pairs); returns both paths.

        Example: `plugin.data.write_examples("examples/", recipe, options)`
        -> `["examples/texts.csv", "examples/texts.txt"]`.
        """
        opts = self._checked(options)
        records = io.read_table(demo_file("topics.csv"))
        picked = _first_of_each([r.fields["topic"] for r in records], per_value=2)
        header = [opts["text_column"]]
        rows = [[records[i].fields["text"]] for i in picked]
        if opts["text_pair_column"] is not None:
            header.append(opts["text_pair_column"])
            for row, i in zip(rows, picked):
                row.append(records[(i + 1) % len(records)].fields["text"])
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        table, text = folder / "texts.csv", folder / "texts.txt"
        with open(table, "w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            writer.writerows(rows)
        text.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")
        return [str(table), str(text)]


def _first_of_each(values: Sequence[str], per_value: int) -> list[int]:
    """Indices of the first `per_value` rows of each distinct value, in file order."""
    seen: dict[str, int] = {}
    picked = []
    for i, value in enumerate(values):
        if seen.get(value, 0) < per_value:
            seen[value] = seen.get(value, 0) + 1
            picked.append(i)
    return picked


def _predict_encoder(cache: _EncoderCache, input_signature: Mapping, options: Mapping, deployment: Mapping | None):
    """The run's tokenizer (from `deployment`), or the default backbone's when a run saved none."""
    settings = _deployment_settings(deployment)
    if settings is not None:
        return cache.from_settings(settings), settings
    lengths = {tuple(s.shape)[0] for s in input_signature.values()} if input_signature else set()
    length = next(iter(lengths)) if len(lengths) == 1 else options["sequence_length"]
    log.warning("no tokenizer settings reached the text plugin; tokenising with the default backbone's (%s, "
                "sequence length %s), which is right only for runs of the default backbone", DEFAULT_BACKBONE, length)
    return cache.get(DEFAULT_BACKBONE, length), {}


def _multilabel_demo(texts: list[str], topics: list[str], seed: int) -> tuple[list[str], list[list[str]]]:
    """Demo multilabel texts: 40% are two texts of different topics joined, labelled with both topics."""
    rng = np.random.default_rng(seed + 1)
    out_texts, out_labels = [], []
    for i, (text, topic) in enumerate(zip(texts, topics)):
        if rng.random() < 0.4:
            j = int(rng.integers(len(texts)))
            while topics[j] == topic:
                j = int(rng.integers(len(texts)))
            out_texts.append(f"{text} {texts[j]}")
            out_labels.append(sorted({topic, topics[j]}))
        else:
            out_texts.append(text)
            out_labels.append([topic])
    return out_texts, out_labels


# --------------------------------------------------------------------------- named-entity recognition

CONLL_INPUT_SUFFIXES = (".conll", ".conllu", ".bio", ".iob", ".iob2")


class NerData(DataAdapter):
    """Token classification (BIO tags) from CoNLL files, word pieces aligned to words.

    Example: `NerData().demo(recipe, options).class_names == ["O", "B-LOC", "I-LOC", "B-ORG", ...]`.
    """

    def __init__(self):
        self._encoders = _EncoderCache()

    def _check(self, path, sentences: list[io.Sentence], names: list[str] | None) -> None:
        for sentence in sentences:
            for tag, line in zip(sentence.tags, sentence.tag_lines):
                if not is_bio_tag(tag):
                    raise DataError(f"{path} line {line}: tag {tag!r} is not BIO (O, B-TYPE or I-TYPE)")
                if names is not None and tag not in names:
                    raise DataError(f"{path} line {line}: unknown tag {tag!r}; the tags are: {', '.join(names)}")

    @staticmethod
    def _explicit_tags(options: Mapping) -> list[str] | None:
        explicit = parse_label_list(options["labels"])
        for tag in explicit or []:
            if not is_bio_tag(tag):
                raise ConfigError(f"-o labels: {tag!r} is not a BIO tag (O, B-TYPE or I-TYPE)")
        return explicit

    def _tag_names(self, options: Mapping, sentences) -> list[str]:
        explicit = self._explicit_tags(options)
        if explicit is not None:
            types = [split_tag(tag)[1] for tag in explicit if tag != OUTSIDE]
        else:
            types = [split_tag(t)[1] for s in sentences for t in s.tags if t != OUTSIDE]
        if not types:
            raise DataError("the data has no entity tags (only O); nothing to learn")
        return tag_names(types)

    def load(self, source: str, recipe, options: Mapping) -> DataBundle:
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"{source}: no such file or folder")
        explicit = self._explicit_tags(options)
        if path.is_dir():
            files = find_split_files(path, (".conll", ".txt", ".bio", ".iob", ".tsv"))
            parts = {split: io.read_conll(f) for split, f in files.items()}
            for split, sentences in parts.items():
                self._check(files[split], sentences, None)
            names = self._tag_names(options, parts["train"])
            for split, sentences in parts.items():
                self._check(files[split], sentences, explicit or names)
            return self._bundle(parts["train"], parts["validation"], parts.get("test"), names, options, recipe,
                                {"source": str(path), "files": {k: str(v) for k, v in files.items()}})
        sentences = io.read_conll(path)
        self._check(path, sentences, None)
        names = self._tag_names(options, sentences)
        self._check(path, sentences, explicit or names)
        return self._split_bundle(sentences, names, options, recipe, {"source": str(path)})

    def demo(self, recipe, options: Mapping) -> DataBundle:
        sentences = io.read_conll(demo_file("ner.conll"))
        names = self._tag_names({"labels": None}, sentences)
        return self._split_bundle(sentences, names, options, recipe,
                                  {"source": "demo: ner.conll, 300 sentences, PER/LOC/ORG in BIO tags"})

    def _split_bundle(self, sentences, names, options, recipe, metadata) -> DataBundle:
        tr, va, te = split_indices([0] * len(sentences), recipe.val_fraction, recipe.test_fraction, recipe.seed)
        pick = lambda ix: [sentences[i] for i in ix]  # noqa: E731
        metadata = dict(metadata, split={"train": len(tr), "validation": len(va), "test": len(te)},
                        split_rule="random", seed=recipe.seed)
        return self._bundle(pick(tr), pick(va), pick(te) if len(te) else None, names, options, recipe, metadata)

    def _bundle(self, train, validation, test, names, options, recipe, metadata) -> DataBundle:
        encoder = self._encoders.get(recipe.backbone, options["sequence_length"])
        index = {n: i for i, n in enumerate(names)}

        def ds(sentences):
            if not sentences:
                return None
            return encoder.word_dataset([s.words for s in sentences], [[index[t] for t in s.tags] for s in sentences])

        longest = max(len(s.words) for s in train)
        if longest > encoder.sequence_length - 2:
            log.warning("some sentences have %d words, more than fit in sequence_length=%d; the words past it are "
                        "cut off (raise -o sequence_length)", longest, encoder.sequence_length)
        settings = encoder.settings()
        settings["vocabulary"] = None if settings["vocabulary"] is None else "\n".join(settings["vocabulary"])
        settings.update(task="tokens")
        metadata = dict(metadata, backbone=recipe.backbone or DEFAULT_BACKBONE, sequence_length=encoder.sequence_length,
                        tag_scheme="BIO")
        if not validation:
            raise DataError("the validation split is empty; give more sentences or a larger val_fraction "
                            "(--config recipe file)")
        return DataBundle(train=ds(train), validation=ds(validation), test=ds(test), class_names=list(names),
                          input_signature=_signature(encoder), metadata=metadata,
                          deployment={"text_tokenizer": settings})

    # ------------------------------------------------------------------ zoo predict
    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec], options: Mapping,
                    deployment: Mapping) -> Rows:
        """CoNLL files (first column; tags ignored) or text files (one sentence per line) -> `Rows`.

        One row per sentence, its source `file:line`; `rows.context[i]` holds the sentence's `words`,
        the `positions` of the first word piece of each word that fits in the sequence, and
        `word_indices`, which word each position belongs to (what `group_predictions` maps back).
        """
        encoder, _ = _predict_encoder(self._encoders, input_signature, options, deployment)
        sentences, sources = [], []
        for p in paths:
            path = Path(p)
            if path.suffix.lower() in CONLL_INPUT_SUFFIXES:
                for sentence in io.read_conll(path):
                    sentences.append(sentence.words)
                    sources.append(f"{path}:{sentence.line}")
            else:
                for line, text in io.read_lines(path):
                    sentences.append(text.split())
                    sources.append(f"{path}:{line}")
        if not sentences:
            raise DataError(f"no sentence to tag in {', '.join(map(str, paths))}")
        inputs, firsts = encoder.encode_sentences_numpy(sentences)
        context = [{"words": list(words), "positions": positions.tolist(), "word_indices": word_indices.tolist()}
                   for words, (positions, word_indices) in zip(sentences, firsts)]
        return Rows(inputs, sources, context=context)

    def group_predictions(self, rows: Rows, scores, options: Mapping) -> list:
        """One result per sentence: the scores at the first word piece of each word (one tag per word).

        Words past `sequence_length` get no tag; a warning names the sentence.
        """
        if rows.context is None:
            raise PluginError("text-ner group_predictions needs the rows of NerData.read_inputs (with their context)")
        scores = np.asarray(scores)
        out = []
        for i, (source, context) in enumerate(zip(rows.sources, rows.context)):
            positions = np.asarray(context["positions"], dtype=np.int64)
            if len(positions) < len(context["words"]):
                log.warning("%s: %d of %d words fit in sequence_length=%d and are tagged; fine-tune with a larger "
                            "-o sequence_length to tag the rest", source, len(positions), len(context["words"]),
                            scores.shape[1])
            out.append((source, scores[i][positions]))
        return out

    def write_examples(self, folder, recipe, options: Mapping) -> list[str]:
        """A CoNLL file of demo sentences (tags included, as a user's file would have them) and the
        same sentences as plain text, one per line; returns both paths.

        Example: `ner_plugin.data.write_examples("examples/", recipe, options)`
        -> `["examples/sentences.conll", "examples/sentences.txt"]`.
        """
        sentences = io.read_conll(demo_file("ner.conll"))[:6]
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        conll, text = folder / "sentences.conll", folder / "sentences.txt"
        io.write_conll(conll, sentences)
        text.write_text("".join(" ".join(s.words) + "\n" for s in sentences), encoding="utf-8")
        return [str(conll), str(text)]
