"""Reading CSV/TSV/JSONL and CoNLL: columns, pairs, label sets, splits, alignment, and bad input with line numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from text_helpers import SHORT, demo, load, recipe_for, topic_rows, write_csv

from zoo.errors import ConfigError, DataError
from zoo_text import binary_plugin, multilabel_plugin, ner_plugin
from zoo_text import plugin as text_plugin


def first(dataset):
    x, y = next(iter(dataset.take(1)))
    return {k: v.numpy() for k, v in x.items()}, y.numpy()


def all_labels(dataset):
    return np.stack([y for _, y in dataset.as_numpy_iterator()])


def test_csv_tsv_jsonl_read_alike(tmp_path):
    rows = topic_rows()
    write_csv(tmp_path / "d.csv", rows)
    write_csv(tmp_path / "d.tsv", rows, delimiter="\t")
    (tmp_path / "d.jsonl").write_text("".join(json.dumps({"text": t, "label": y}) + "\n" for t, y in rows))
    bundles = [load(text_plugin, tmp_path / f"d.{ext}") for ext in ("csv", "tsv", "jsonl")]
    for bundle in bundles:
        assert bundle.class_names == ["food", "sports", "weather"]
        assert set(bundle.input_signature) == {"token_ids", "padding_mask", "segment_ids"}
        assert all(s.shape == (32,) and s.dtype == "int32" for s in bundle.input_signature.values())
        assert bundle.metadata["split"] == {"train": 12, "validation": 3, "test": 3}  # stratified: 1 per class
        assert sorted(all_labels(bundle.validation).tolist()) == [0, 1, 2]
    x0, y0 = first(bundles[0].train)
    for bundle in bundles[1:]:
        x, y = first(bundle.train)
        assert y == y0 and all((x[k] == x0[k]).all() for k in x0)
    assert bundles[0].deployment["text_tokenizer"]["text_column"] == "text"


def test_split_is_deterministic_and_follows_the_seed(tmp_path):
    write_csv(tmp_path / "d.csv", topic_rows())
    a = load(text_plugin, tmp_path / "d.csv", seed=1)
    b = load(text_plugin, tmp_path / "d.csv", seed=1)
    c = load(text_plugin, tmp_path / "d.csv", seed=2)
    ids = lambda bundle: [tuple(x["token_ids"]) for x, _ in bundle.validation.as_numpy_iterator()]  # noqa: E731
    assert ids(a) == ids(b) and ids(a) != ids(c)


def test_custom_columns_and_text_pairs(tmp_path):
    rows = [("A man plays guitar", "Someone plays an instrument", "same"),
            ("A man plays guitar", "The stock market fell", "different")] * 6
    write_csv(tmp_path / "pairs.csv", rows, header=("first", "second", "relation"))
    bundle = load(text_plugin, tmp_path / "pairs.csv", options={"text_column": "first", "text_pair_column": "second",
                                                               "label_column": "relation"})
    x, _ = first(bundle.train)
    assert x["segment_ids"].max() == 1 and x["segment_ids"][0] == 0  # the second text is segment 1
    assert (x["token_ids"] == 102).sum() == 2                          # [SEP] after each text
    assert x["padding_mask"].sum() == int((x["token_ids"] != 0).sum())
    assert bundle.deployment["text_tokenizer"]["text_pair_column"] == "second"


def test_labels_option_fixes_order(tmp_path):
    write_csv(tmp_path / "d.csv", topic_rows())
    bundle = load(text_plugin, tmp_path / "d.csv", options={"labels": "weather,sports,food"})  # -o text: a list
    assert bundle.class_names == ["weather", "sports", "food"]


def test_multilabel_sets_from_text_and_json(tmp_path):
    rows = [("rain stopped the match", "sports|weather"), ("pizza after the game", "food|sports"),
            ("sunny day", "weather"), ("hot soup", "food")] * 4
    write_csv(tmp_path / "m.csv", rows, header=("text", "labels"))
    bundle = load(multilabel_plugin, tmp_path / "m.csv")
    assert bundle.class_names == ["food", "sports", "weather"]
    y = all_labels(bundle.train)
    assert y.shape[1] == 3 and set(y.sum(axis=1).tolist()) <= {1.0, 2.0}
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"text": t, "labels": y.split("|")}) + "\n" for t, y in rows))
    assert load(multilabel_plugin, tmp_path / "m.jsonl").class_names == bundle.class_names


def test_binary_needs_two_labels(tmp_path):
    write_csv(tmp_path / "d.csv", topic_rows())
    with pytest.raises(DataError, match="exactly 2 labels"):
        load(binary_plugin, tmp_path / "d.csv")
    bundle = demo(binary_plugin)
    assert bundle.class_names == ["negative", "positive"]
    y = all_labels(bundle.train)
    assert y.shape[1:] == (1,) and y.dtype == np.float32 and set(np.unique(y)) == {0.0, 1.0}


def test_split_folder(tmp_path):
    rows = topic_rows()
    write_csv(tmp_path / "train.csv", rows)
    write_csv(tmp_path / "dev.csv", rows[::3])
    bundle = load(text_plugin, tmp_path)
    assert bundle.metadata["split"] == {"train": 18, "validation": 6} and bundle.test is None
    write_csv(tmp_path / "test.csv", [("a cold morning", "winter")])
    with pytest.raises(DataError, match=r"test\.csv line 2: unknown label 'winter'"):
        load(text_plugin, tmp_path)


def test_demo_sets():
    for plugin, n_classes in ((text_plugin, 4), (binary_plugin, 2), (multilabel_plugin, 4), (ner_plugin, 7)):
        bundle = demo(plugin)
        assert len(bundle.class_names) == n_classes
        assert bundle.metadata["split"]["validation"] >= 40 and bundle.test is not None
    y = all_labels(demo(multilabel_plugin).train)
    assert 0.2 < (y.sum(axis=1) == 2).mean() < 0.6


def test_datasets_know_their_length():
    """Tokenising in batches and unbatching must keep the row count, or Keras warns "ran out of data"."""
    bundle = demo(text_plugin)
    for split, key in (("train", "train"), ("validation", "validation"), ("test", "test")):
        dataset = getattr(bundle, split)
        assert int(dataset.cardinality()) == bundle.metadata["split"][key] > 0


# --------------------------------------------------------------------------- bad input


def _csv_bytes(path, lines):
    path.write_bytes(b"\n".join(lines) + b"\n")
    return path


BAD_TABLES = [
    ("encoding.csv", [b"text,label", b"good text,food", b"also fine,sports", b"caf\xe9 au lait,food"],
     {}, r"encoding\.csv line 4: not valid UTF-8"),
    ("empty.csv", [b"text,label", b"good text,food", b'"   ",sports'], {}, r"empty\.csv line 3: empty text"),
    ("unknown.csv", [b"text,label", b"good text,food", b"nice,sports", b"odd,space"],
     {"labels": "food,sports"}, r"unknown\.csv line 4: unknown label 'space'"),
    ("nolabel.csv", [b"text,label", b"good text,food", b"no label here,"], {}, r"nolabel\.csv line 3: empty label"),
    ("fields.csv", [b"text,label", b"one,two,three"], {}, r"fields\.csv line 2: 3 fields"),
    ("column.csv", [b"review,label", b"good,food"], {}, r"no column 'text' \(columns: review, label\)"),
    ("bad.jsonl", [b'{"text": "ok", "label": "food"}', b'{"text": "oops", "label": }'], {},
     r"bad\.jsonl line 2: not valid JSON"),
    ("number.jsonl", [b'{"text": "ok", "label": "food"}', b'{"text": 42, "label": "food"}'], {},
     r"number\.jsonl line 2: text must be text"),
]


@pytest.mark.parametrize("name,lines,options,match", BAD_TABLES, ids=[c[0] for c in BAD_TABLES])
def test_bad_tables_name_the_line(tmp_path, name, lines, options, match):
    path = _csv_bytes(tmp_path / name, lines)
    with pytest.raises(DataError, match=match):
        load(text_plugin, path, options=options)


BAD_CONLL = [
    ("notag.conll", "Maria B-PER\nvisited O\nParis\n", {}, r"notag\.conll line 3: 'Paris' has no tag"),
    ("scheme.conll", "Maria B-PER\n\nvisited O\nParis LOC\n", {}, r"scheme\.conll line 4: tag 'LOC' is not BIO"),
    ("unknown.conll", "Maria B-PER\nvisited O\nParis B-LOC\n", {"labels": "O,B-PER,I-PER"},
     r"unknown\.conll line 3: unknown tag 'B-LOC'"),
]


@pytest.mark.parametrize("name,text,options,match", BAD_CONLL, ids=[c[0] for c in BAD_CONLL])
def test_bad_conll_names_the_line(tmp_path, name, text, options, match):
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(DataError, match=match):
        load(ner_plugin, path, options=options)


def test_bad_conll_encoding(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes(b"Maria B-PER\n\nJos\xe9 B-PER\n")
    with pytest.raises(DataError, match=r"latin1\.conll line 3: not valid UTF-8"):
        load(ner_plugin, path)


def test_declared_options_convert_and_refuse_in_one_line():
    recipe = recipe_for(text_plugin, options={"sequence_length": "48", "labels": "neg, pos", "text_pair_column": None})
    options = text_plugin.options_for(recipe)
    assert options.sequence_length == 48 and options.labels == ["neg", "pos"] and options.text_pair_column is None
    assert options.pooling == "mean" and "label_separator" not in options
    assert multilabel_plugin.options_for(recipe_for(multilabel_plugin)).label_separator == "|"
    assert set(ner_plugin.options) == {"sequence_length", "labels"}
    described = text_plugin.describe()["options"]
    assert described["sequence_length"]["min"] == 8 and described["sequence_length"]["max"] == 512
    assert described["pooling"]["choices"] == ["mean", "cls"]
    for plugin, options, match in [
        (text_plugin, {"sequence_length": 4}, "option sequence_length must be >= 8"),
        (ner_plugin, {"sequence_length": 1024}, "option sequence_length must be <= 512"),
        (text_plugin, {"sequence_length": "long"}, "option sequence_length must be an integer"),
        (text_plugin, {"pooling": "max"}, "option pooling must be one of mean, cls"),
        (text_plugin, {"text_col": "x"}, "unknown plugin option 'text_col'"),
        (ner_plugin, {"pooling": "cls"}, "unknown plugin option 'pooling'"),
        (text_plugin, {"label_separator": ";"}, "unknown plugin option 'label_separator'"),
    ]:
        with pytest.raises(ConfigError, match=match) as caught:
            recipe_for(plugin, options=options)
        assert "\n" not in str(caught.value) and str(caught.value).startswith("test: ")


@pytest.mark.parametrize("plugin,options,match", [
    (text_plugin, {"text_column": " "}, "-o text_column must name a column"),
    (text_plugin, {"text_pair_column": "text"}, "is the text_column too"),
    (text_plugin, {"labels": "food,food"}, "names a label twice"),
    (multilabel_plugin, {"label_separator": ""}, "label_separator must not be empty"),
    (ner_plugin, {"labels": "O,PER"}, "'PER' is not a BIO tag"),
], ids=["empty-column", "pair-is-text", "twice", "separator", "bio"])
def test_options_checked_across_fields(tmp_path, plugin, options, match):
    path = tmp_path / ("d.conll" if plugin is ner_plugin else "d.csv")
    if plugin is ner_plugin:
        path.write_text("Maria B-PER\nvisited O\n")
    else:
        write_csv(path, topic_rows())
    with pytest.raises(ConfigError, match=match):
        load(plugin, path, options=options)


@pytest.mark.parametrize("plugin,name,content,line", [
    ("text", "bad.csv", b"text,label\nfine,food\nalso fine,sports\n\xff\xfe oops,food\n", 4),
    ("text-ner", "bad.conll", b"Maria B-PER\nvisited O\n\nParis\n", 4),
])
def test_cli_bad_data_exits_2_with_the_line(tmp_path, plugin, name, content, line):
    path = tmp_path / name
    path.write_bytes(content)
    out = subprocess.run([sys.executable, "-m", "zoo.cli", "finetune", "--plugin", plugin, "--data", str(path)],
                         capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    errors = [ln for ln in out.stderr.splitlines() if ln.startswith("Error:")]
    assert len(errors) == 1 and f"{name} line {line}" in errors[0], out.stderr[-2000:]


# --------------------------------------------------------------------------- word pieces and zoo predict inputs


def test_ner_first_word_piece_carries_the_tag(tmp_path):
    path = tmp_path / "d.conll"
    path.write_text("Maria B-PER\nKowalski I-PER\nvisited O\nMarrakesh B-LOC\n.\tO\n\n" * 10)
    bundle = load(ner_plugin, path)
    assert bundle.class_names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    x, y = first(bundle.train)
    encoder = ner_plugin.data._encoders.get(None, SHORT["sequence_length"])
    pieces = [encoder.tokenizer.id_to_token(int(i)) for i in x["token_ids"][x["padding_mask"] == 1]]
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]"
    tags = {p: int(t) for p, t in zip(pieces, y) if t >= 0}
    assert list(tags) == ["maria", "kowalski", "visited", "marrakesh", "."] or len(tags) == 5
    # "Kowalski" and "Marrakesh" split into several pieces: only the first is labelled
    assert (y >= 0).sum() == 5 and (y[x["padding_mask"] == 0] == -1).all() and y[0] == -1
    assert len(pieces) > 7


def _read(plugin, paths, bundle, deployment=None, **overrides):
    options = plugin.options_for(recipe_for(plugin, **overrides))
    deployment = bundle.deployment if deployment is None else deployment
    rows = plugin.data.read_inputs([str(p) for p in paths], bundle.input_signature, options, deployment)
    rows.check()
    return rows, options


def test_read_inputs_with_the_runs_tokenizer(tmp_path):
    bundle = demo(text_plugin)
    deployment = json.loads(json.dumps(bundle.deployment))  # as it travels in zoo.json and sidecars
    (tmp_path / "a.txt").write_text("The marathon was great.\n\nHeavy rain all night.\n")
    write_csv(tmp_path / "b.csv", [("Fresh bread", "food")])
    rows, options = _read(text_plugin, [tmp_path / "a.txt", tmp_path / "b.csv"], bundle, deployment)
    assert rows.inputs["token_ids"].shape == (3, 32) and rows.inputs["token_ids"].dtype == np.int32
    encoder = text_plugin.data._encoders.get(None, 32)
    expected = encoder.encode_numpy(["The marathon was great.", "Heavy rain all night.", "Fresh bread"])
    assert all((rows.inputs[k] == expected[k]).all() for k in expected)
    sources = [f"{tmp_path / 'a.txt'}:1", f"{tmp_path / 'a.txt'}:3", f"{tmp_path / 'b.csv'}:2"]
    assert rows.sources == sources and rows.context is None
    grouped = text_plugin.data.group_predictions(rows, np.eye(3, 4), options)
    assert [name for name, _ in grouped] == sources and [int(s.argmax()) for _, s in grouped] == [0, 1, 2]


def test_read_inputs_reads_the_runs_columns_and_pairs(tmp_path):
    pairs = {"text_column": "first", "text_pair_column": "second", "label_column": "relation"}
    write_csv(tmp_path / "pairs.csv", [("A man plays guitar", "Someone plays music", "same"),
                                       ("A man plays guitar", "The market fell", "different")] * 6,
              header=("first", "second", "relation"))
    bundle = load(text_plugin, tmp_path / "pairs.csv", options=pairs)
    write_csv(tmp_path / "new.csv", [("A cat sleeps", "A cat is asleep")], header=("first", "second"))
    (tmp_path / "new.txt").write_text("A cat sleeps\tA cat is asleep\n")
    # the columns come from the run's deployment, whatever options the caller holds
    rows, _ = _read(text_plugin, [tmp_path / "new.csv", tmp_path / "new.txt"], bundle)
    assert rows.inputs["segment_ids"].max(axis=1).tolist() == [1, 1]
    assert (rows.inputs["token_ids"][0] == rows.inputs["token_ids"][1]).all()
    (tmp_path / "single.txt").write_text("no tab on this line\n")
    with pytest.raises(DataError, match=r"single\.txt line 1: this model classifies text pairs"):
        _read(text_plugin, [tmp_path / "single.txt"], bundle)
    # with no deployment (a run that saved none) the options name the columns
    rows, _ = _read(text_plugin, [tmp_path / "new.csv"], bundle, deployment={}, options=pairs)
    assert rows.inputs["segment_ids"].max() == 1
    # `zoo predict` has no -o: a missing column is named with the run's column, not an option to pass
    write_csv(tmp_path / "other.csv", [("A cat sleeps", "A cat is asleep")], header=("text", "second"))
    with pytest.raises(DataError) as caught:
        _read(text_plugin, [tmp_path / "other.csv"], bundle)
    assert "no field 'first'" in str(caught.value) and "-o " not in str(caught.value)


def test_rows_carry_everything_grouping_needs(tmp_path):
    """Reading a second batch of files does not change how the first batch is reported."""
    bundle = demo(ner_plugin)
    (tmp_path / "a.txt").write_text("Maria Kowalski visited Marrakesh .\n")
    (tmp_path / "b.txt").write_text("Hello world\nAcme hired Ana\n")
    rows_a, options = _read(ner_plugin, [tmp_path / "a.txt"], bundle)
    rows_b, _ = _read(ner_plugin, [tmp_path / "b.txt"], bundle)
    scores_a = np.random.default_rng(0).random((1, 32, 7))
    grouped = ner_plugin.data.group_predictions(rows_a, scores_a, options)
    assert [name for name, _ in grouped] == [f"{tmp_path / 'a.txt'}:1"] and grouped[0][1].shape == (5, 7)
    assert len(ner_plugin.data.group_predictions(rows_b, np.zeros((2, 32, 7)), options)) == 2


@pytest.mark.parametrize("plugin", [text_plugin, binary_plugin, multilabel_plugin, ner_plugin],
                         ids=lambda p: p.name)
def test_write_examples_read_back(tmp_path, plugin):
    recipe = recipe_for(plugin)
    options = plugin.options_for(recipe)
    bundle = plugin.data.demo(recipe, options)
    paths = plugin.data.write_examples(tmp_path / "examples", recipe, options)
    assert paths and all(Path(p).is_file() and Path(p).parent == tmp_path / "examples" for p in paths)
    rows = plugin.data.read_inputs(paths, bundle.input_signature, options, bundle.deployment)
    rows.check()
    assert set(rows.inputs) == set(bundle.input_signature)
    assert all(a.shape[1:] == (32,) and a.dtype == np.int32 for a in rows.inputs.values())
    assert all(s.startswith(tuple(paths)) and s.rsplit(":", 1)[1].isdigit() for s in rows.sources)
    if plugin is ner_plugin:
        assert len(rows) == 12  # 6 demo sentences, from the CoNLL file and from the text file
        assert rows.context[:6] == rows.context[6:]
        assert all(len(c["positions"]) == len(c["words"]) for c in rows.context)
    else:
        assert len(rows) == 16  # 2 texts of each of 4 topics, in a CSV and in a text file
        assert (rows.inputs["token_ids"][:8] == rows.inputs["token_ids"][8:]).all()


def test_write_examples_uses_the_runs_columns(tmp_path):
    options = text_plugin.options_for(recipe_for(text_plugin, options={"text_column": "message",
                                                                       "text_pair_column": "reply"}))
    [table, text] = text_plugin.data.write_examples(tmp_path, recipe_for(text_plugin), options)
    assert open(table, encoding="utf-8").readline().strip() == "message,reply"
    assert all(line.count("\t") == 1 for line in open(text, encoding="utf-8"))


def test_tokenizer_rebuilt_from_settings_alone(tmp_path):
    from zoo_text.tokenize import TextEncoder

    encoder = text_plugin.data._encoders.get(None, 32)
    settings = json.loads(json.dumps(encoder.settings()))
    settings["preset"] = str(tmp_path / "gone")  # the vocabulary travels inline: no preset needed
    again = TextEncoder.from_settings(settings)
    texts = ["Ünïcode café, naïve résumé!", "The quick brown fox"]
    a, b = encoder.encode_numpy(texts), again.encode_numpy(texts)
    assert all((a[k] == b[k]).all() for k in a)


def test_ner_read_inputs_one_row_per_sentence_one_score_per_word(tmp_path):
    bundle = demo(ner_plugin)
    (tmp_path / "s.txt").write_text("Maria Kowalski visited Marrakesh .\nHello world\n")
    rows, options = _read(ner_plugin, [tmp_path / "s.txt"], bundle)
    assert rows.sources == [f"{tmp_path / 's.txt'}:1", f"{tmp_path / 's.txt'}:2"]
    assert rows.context[0]["words"] == ["Maria", "Kowalski", "visited", "Marrakesh", "."]
    first_pieces = rows.context[0]["positions"]
    assert first_pieces[0] == 1 and first_pieces == sorted(first_pieces) and rows.context[0]["word_indices"] == [0, 1, 2, 3, 4]
    assert len(set(first_pieces)) == 5 and first_pieces[-1] > 5  # Kowalski and Marrakesh take several pieces
    scores = np.random.default_rng(0).random((2, 32, 7))
    grouped = ner_plugin.data.group_predictions(rows, scores, options)
    assert [name for name, _ in grouped] == rows.sources
    assert grouped[0][1].shape == (5, 7) and grouped[1][1].shape == (2, 7)
    np.testing.assert_array_equal(grouped[0][1], scores[0][first_pieces])


def test_ner_words_past_the_sequence_are_reported(tmp_path, caplog):
    bundle = demo(ner_plugin)
    (tmp_path / "long.txt").write_text(" ".join(["word"] * 40) + "\n")
    rows, options = _read(ner_plugin, [tmp_path / "long.txt"], bundle)
    assert len(rows.context[0]["positions"]) == 30  # 32 pieces less [CLS] and [SEP]
    with caplog.at_level("WARNING"):
        grouped = ner_plugin.data.group_predictions(rows, np.zeros((1, 32, 7)), options)
    assert grouped[0][1].shape == (30, 7)
    assert "long.txt:1: 30 of 40 words fit in sequence_length=32" in caplog.text
