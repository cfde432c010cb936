"""Data adapters: text classification tables and CoNLL named-entity files -> tokenised `tf.data`.

`TextData(kind)` reads CSV, TSV or JSONL files with a text column (and optionally a second text
column for pairs) and a label column; `NerData` reads CoNLL files. Both tokenise with the chosen
backbone's own keras-hub tokenizer inside `tf.data`, so the model takes integer inputs, and both
raise `DataError` naming the file and line of bad input (bad encoding, empty text, unknown label,
malformed line).

`--data` is a file, split into train/validation/test deterministically (stratified by class for
single-label tasks, by `seed`, `val_fraction`, `test_fraction`), or a folder holding
`train.<ext>` plus `validation.<ext>` (or `valid`/`dev`/`val`) and optionally `test.<ext>`.

Example:

```python
from zoo.training.recipe import Recipe
recipe = Recipe.resolve(overrides={"options": {"text_column": "review", "label_column": "stars"}},
                        option_defaults=TextData("multiclass").options)
bundle = TextData("multiclass").load("reviews.csv", recipe)
```
"""

from __future__ import annotations

import logging
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.api import DataAdapter, DataBundle, TensorSpec
from zoo.errors import ConfigError, DataError
from zoo_text import io
from zoo_text.backbones import DEFAULT_BACKBONE, POOLINGS
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


def split_indices(n: int, seed: int, val_fraction: float, test_fraction: float,
                  strata: Sequence[Any] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deterministic train/validation/test indices; per stratum (class) when `strata` is given."""
    rng = np.random.default_rng(seed)
    groups = [np.arange(n)] if strata is None else [
        np.flatnonzero(np.asarray(strata, dtype=object) == s) for s in sorted(set(strata), key=str)]
    train, val, test = [], [], []
    for group in groups:
        group = group[rng.permutation(len(group))]
        n_val = int(round(len(group) * val_fraction))
        n_test = int(round(len(group) * test_fraction))
        if n_val + n_test >= len(group):
            n_val, n_test = min(n_val, max(len(group) - 1, 0)), 0
        val.append(group[:n_val])
        test.append(group[n_val:n_val + n_test])
        train.append(group[n_val + n_test:])
    train, val, test = (np.sort(np.concatenate(p)).astype(int) for p in (train, val, test))
    if len(val) == 0 and len(train) > 1 and val_fraction > 0:
        val, train = train[-1:], train[:-1]
    return train, val, test


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

        key = ("settings", settings.get("vocabulary_sha256") or settings.get("preset"), settings["sequence_length"])
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
    """Text or text-pair classification from CSV / TSV / JSONL (kinds multiclass, binary, multilabel)."""

    def __init__(self, kind: str = "multiclass"):
        if kind not in ("multiclass", "binary", "multilabel"):
            raise ValueError(f"TextData kind {kind!r}")
        self.kind = kind
        self.options = {
            "sequence_length": DEFAULT_SEQUENCE_LENGTH,
            "text_column": "text",
            "text_pair_column": None,
            "label_column": "labels" if kind == "multilabel" else "label",
            "labels": None,
            "pooling": "mean",
        }
        if kind == "multilabel":
            self.options["label_separator"] = "|"
        self.pooling = "mean"  # read by the backbone when it is built (the recipe does not reach build())
        self._encoders = _EncoderCache()
        self._last_rows: list[str] | None = None

    # ------------------------------------------------------------------ options
    def _configure(self, options) -> dict:
        opts = dict(self.options)
        opts.update(getattr(options, "options", {}) or {})
        pooling = opts.get("pooling") or "mean"
        if pooling not in POOLINGS:
            raise ConfigError(f"-o pooling={pooling!r} must be one of: {', '.join(POOLINGS)}")
        self.pooling = pooling
        for key in ("text_column", "label_column"):
            if not isinstance(opts.get(key), str) or not opts[key].strip():
                raise ConfigError(f"-o {key} must name a column, got {opts.get(key)!r}")
        pair = opts.get("text_pair_column")
        if pair is not None and (not isinstance(pair, str) or not pair.strip()):
            raise ConfigError(f"-o text_pair_column must name a column, got {pair!r}")
        return opts

    # ------------------------------------------------------------------ reading
    def _rows(self, path: Path, opts: Mapping) -> tuple[list[str], list[str] | None, list, list[int]]:
        records = io.read_table(path)
        if not records:
            raise DataError(f"{path}: no data rows")
        text_col, pair_col, label_col = opts["text_column"], opts.get("text_pair_column"), opts["label_column"]
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
    def _text(path, record: io.Record, column: str, option: str = "text_column") -> str:
        if column not in record.fields:
            raise DataError(f"{path} line {record.line}: no field {column!r}; pass -o {option}=NAME")
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
            if isinstance(value, list):
                items = [str(v).strip() for v in value]
            elif isinstance(value, str):
                sep = opts.get("label_separator") or "|"
                items = [v.strip() for v in value.split(sep)] if value.strip() else []
            else:
                raise DataError(f"{path} line {record.line}: {column} must be a list or "
                                f"{opts.get('label_separator') or '|'}-separated text, got {value!r}")
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
        names = parse_label_list(opts.get("labels"))
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
    def load(self, source: str, options) -> DataBundle:
        opts = self._configure(options)
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
                                options, {"source": str(path), "files": {k: str(v) for k, v in files.items()},
                                          "split": counts})
        texts, pairs, labels, lines = self._rows(path, opts)
        names = self._class_names(opts, labels)
        y = self._encode_labels(path, labels, lines, names)
        return self._split_bundle(texts, pairs, y, names, opts, options, {"source": str(path)})

    def demo(self, options) -> DataBundle:
        opts = self._configure(options)
        records = io.read_table(demo_file("topics.csv"))
        texts = [r.fields["text"] for r in records]
        if self.kind == "multiclass":
            labels = [r.fields["topic"] for r in records]
        elif self.kind == "binary":
            labels = [r.fields["sentiment"] for r in records]
        else:
            texts, labels = _multilabel_demo(texts, [r.fields["topic"] for r in records], options.seed)
        names = sorted({x for label in labels for x in (label if isinstance(label, list) else [label])})
        y = self._encode_labels("demo", labels, [r.line for r in records], names)
        description = {"multiclass": "topics.csv: 320 short texts, topic (4 classes)",
                       "binary": "topics.csv: 320 short texts, sentiment (positive/negative)",
                       "multilabel": "topics.csv: 320 texts, 40% of them two texts joined, labels = their topics"}
        opts = dict(opts, text_pair_column=None)
        return self._split_bundle(texts, None, y, names, opts, options, {"source": "demo: " + description[self.kind]})

    def _split_bundle(self, texts, pairs, y, names, opts, options, metadata) -> DataBundle:
        strata = None if self.kind == "multilabel" else y.reshape(len(y), -1)[:, 0].astype(int).tolist()
        tr, va, te = split_indices(len(texts), options.seed, options.val_fraction, options.test_fraction, strata)

        def take(ix):
            return ([texts[i] for i in ix], None if pairs is None else [pairs[i] for i in ix], y[ix])

        metadata = dict(metadata, split={"train": len(tr), "validation": len(va), "test": len(te)},
                        split_rule="stratified by label" if strata else "random", seed=options.seed)
        return self._bundle(take(tr), take(va), take(te) if len(te) else None, names, opts, options, metadata)

    def _bundle(self, train, validation, test, names, opts, options, metadata) -> DataBundle:
        encoder = self._encoders.get(options.backbone, opts["sequence_length"])

        def ds(part):
            if part is None or not len(part[0]):
                return None
            return encoder.dataset(part[0], part[2], part[1])

        settings = encoder.settings()
        settings["vocabulary"] = None if settings["vocabulary"] is None else "\n".join(settings["vocabulary"])
        settings.update(task="sentences", text_column=opts["text_column"],
                        text_pair_column=opts.get("text_pair_column"))
        metadata = dict(metadata, backbone=options.backbone or DEFAULT_BACKBONE, pooling=self.pooling,
                        sequence_length=encoder.sequence_length)
        validation_ds = ds(validation)
        if validation_ds is None:
            raise DataError("the validation split is empty; give more rows or a larger val_fraction (--config recipe file)")
        return DataBundle(train=ds(train), validation=validation_ds, test=ds(test), class_names=list(names),
                          input_signature=_signature(encoder), metadata=metadata,
                          deployment={"text_tokenizer": settings})

    # ------------------------------------------------------------------ zoo predict
    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec],
                    deployment: Mapping | None = None) -> dict:
        """Text files (one text per line; `text<TAB>pair` for pair models) or CSV/TSV/JSONL -> int arrays.

        `deployment` is the run's `DataBundle.deployment` (from zoo.json or the export sidecar): the
        tokenizer settings and vocabulary, so the texts are tokenised exactly as in training.
        """
        encoder, settings = _predict_encoder(self._encoders, input_signature, deployment)
        text_col = settings.get("text_column") or "text"
        pair_col = settings.get("text_pair_column")
        texts, pairs, rows = [], [] if pair_col else None, []
        for p in paths:
            path = Path(p)
            if path.suffix.lower() in io.TABLE_SUFFIXES:
                records = io.read_table(path)
                opts = {"text_column": text_col, "text_pair_column": pair_col}
                for record in records:
                    texts.append(self._text(path, record, opts["text_column"]))
                    if pairs is not None:
                        pairs.append(self._text(path, record, pair_col, "text_pair_column"))
                    rows.append(f"{path}:{record.line}")
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
                    rows.append(f"{path}:{line}")
        if not texts:
            raise DataError(f"no text to classify in {', '.join(paths)}")
        self._last_rows = rows
        return encoder.encode_numpy(texts, pairs)

    def group_predictions(self, paths, inputs, scores) -> list:
        rows = self._last_rows
        if rows is not None and len(rows) == len(scores):
            return [(name, scores[i]) for i, name in enumerate(rows)]
        return super().group_predictions(paths, inputs, scores)


def _predict_encoder(cache: _EncoderCache, input_signature: Mapping, deployment: Mapping | None):
    settings = _deployment_settings(deployment)
    if settings is not None:
        return cache.from_settings(settings), settings
    lengths = {tuple(s.shape)[0] for s in input_signature.values()} if input_signature else set()
    length = next(iter(lengths)) if len(lengths) == 1 else DEFAULT_SEQUENCE_LENGTH
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

class NerData(DataAdapter):
    """Token classification (BIO tags) from CoNLL files, word pieces aligned to words."""

    options = {"sequence_length": DEFAULT_SEQUENCE_LENGTH, "labels": None}

    def __init__(self):
        self._encoders = _EncoderCache()
        self._last_rows: list[tuple[str, np.ndarray]] | None = None

    def _check(self, path, sentences: list[io.Sentence], names: list[str] | None) -> None:
        for sentence in sentences:
            for tag, line in zip(sentence.tags, sentence.tag_lines):
                if not is_bio_tag(tag):
                    raise DataError(f"{path} line {line}: tag {tag!r} is not BIO (O, B-TYPE or I-TYPE)")
                if names is not None and tag not in names:
                    raise DataError(f"{path} line {line}: unknown tag {tag!r}; the tags are: {', '.join(names)}")

    def _tag_names(self, opts, sentences) -> list[str]:
        explicit = parse_label_list(opts.get("labels"))
        if explicit is not None:
            types = []
            for tag in explicit:
                if not is_bio_tag(tag):
                    raise ConfigError(f"-o labels: {tag!r} is not a BIO tag (O, B-TYPE or I-TYPE)")
                kind = split_tag(tag)[1]
                if kind is not None:
                    types.append(kind)
        else:
            types = [split_tag(t)[1] for s in sentences for t in s.tags if t != OUTSIDE]
        if not types:
            raise DataError("the data has no entity tags (only O); nothing to learn")
        return tag_names(types)

    def load(self, source: str, options) -> DataBundle:
        opts = dict(self.options, **(getattr(options, "options", {}) or {}))
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"{source}: no such file or folder")
        if path.is_dir():
            files = find_split_files(path, (".conll", ".txt", ".bio", ".iob", ".tsv"))
            parts = {split: io.read_conll(f) for split, f in files.items()}
            explicit = parse_label_list(opts.get("labels"))
            for split, sentences in parts.items():
                self._check(files[split], sentences, None)
            names = self._tag_names(opts, parts["train"])
            for split, sentences in parts.items():
                self._check(files[split], sentences, explicit or names)
            return self._bundle(parts["train"], parts["validation"], parts.get("test"), names, opts, options,
                                {"source": str(path), "files": {k: str(v) for k, v in files.items()}})
        sentences = io.read_conll(path)
        self._check(path, sentences, None)
        names = self._tag_names(opts, sentences)
        self._check(path, sentences, names)
        return self._split_bundle(sentences, names, opts, options, {"source": str(path)})

    def demo(self, options) -> DataBundle:
        opts = dict(self.options, **(getattr(options, "options", {}) or {}))
        sentences = io.read_conll(demo_file("ner.conll"))
        names = self._tag_names({}, sentences)
        return self._split_bundle(sentences, names, opts, options,
                                  {"source": "demo: ner.conll, 300 sentences, PER/LOC/ORG in BIO tags"})

    def _split_bundle(self, sentences, names, opts, options, metadata) -> DataBundle:
        tr, va, te = split_indices(len(sentences), options.seed, options.val_fraction, options.test_fraction)
        pick = lambda ix: [sentences[i] for i in ix]  # noqa: E731
        metadata = dict(metadata, split={"train": len(tr), "validation": len(va), "test": len(te)},
                        split_rule="random", seed=options.seed)
        return self._bundle(pick(tr), pick(va), pick(te) if len(te) else None, names, opts, options, metadata)

    def _bundle(self, train, validation, test, names, opts, options, metadata) -> DataBundle:
        encoder = self._encoders.get(options.backbone, opts["sequence_length"])
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
        metadata = dict(metadata, backbone=options.backbone or DEFAULT_BACKBONE, sequence_length=encoder.sequence_length,
                        tag_scheme="BIO")
        if not validation:
            raise DataError("the validation split is empty; give more sentences or a larger val_fraction "
                            "(--config recipe file)")
        return DataBundle(train=ds(train), validation=ds(validation), test=ds(test), class_names=list(names),
                          input_signature=_signature(encoder), metadata=metadata,
                          deployment={"text_tokenizer": settings})

    # ------------------------------------------------------------------ zoo predict
    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec],
                    deployment: Mapping | None = None) -> dict:
        """CoNLL files (first column; tags ignored) or text files (one sentence per line) -> int arrays."""
        encoder, _ = _predict_encoder(self._encoders, input_signature, deployment)
        sentences, names = [], []
        for p in paths:
            path = Path(p)
            if path.suffix.lower() in (".conll", ".conllu", ".bio", ".iob", ".iob2"):
                for sentence in io.read_conll(path):
                    sentences.append(sentence.words)
                    names.append(f"{path}:{sentence.line}")
            else:
                for line, text in io.read_lines(path):
                    sentences.append(text.split())
                    names.append(f"{path}:{line}")
        if not sentences:
            raise DataError(f"no sentence to tag in {', '.join(paths)}")
        inputs, firsts = encoder.encode_sentences_numpy(sentences)
        self._last_rows = [(name, positions) for name, (positions, _) in zip(names, firsts)]
        return inputs

    def group_predictions(self, paths, inputs, scores) -> list:
        """One row per sentence: the scores at the first word piece of each word (one tag per word)."""
        rows = self._last_rows
        if rows is not None and len(rows) == len(scores):
            return [(name, np.asarray(scores[i])[positions]) for i, (name, positions) in enumerate(rows)]
        return super().group_predictions(paths, inputs, scores)
