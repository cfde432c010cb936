"""Reading CSV/TSV/JSONL and CoNLL: columns, pairs, label sets, splits, alignment, and bad input with line numbers."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from text_helpers import SHORT, recipe_for, topic_rows, write_csv

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
    recipe = recipe_for(text_plugin)
    bundles = [text_plugin.data.load(str(tmp_path / f"d.{ext}"), recipe) for ext in ("csv", "tsv", "jsonl")]
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
    a = text_plugin.data.load(str(tmp_path / "d.csv"), recipe_for(text_plugin, seed=1))
    b = text_plugin.data.load(str(tmp_path / "d.csv"), recipe_for(text_plugin, seed=1))
    c = text_plugin.data.load(str(tmp_path / "d.csv"), recipe_for(text_plugin, seed=2))
    ids = lambda bundle: [tuple(x["token_ids"]) for x, _ in bundle.validation.as_numpy_iterator()]  # noqa: E731
    assert ids(a) == ids(b) and ids(a) != ids(c)


def test_custom_columns_and_text_pairs(tmp_path):
    rows = [("A man plays guitar", "Someone plays an instrument", "same"),
            ("A man plays guitar", "The stock market fell", "different")] * 6
    write_csv(tmp_path / "pairs.csv", rows, header=("first", "second", "relation"))
    recipe = recipe_for(text_plugin, options={"text_column": "first", "text_pair_column": "second",
                                               "label_column": "relation"})
    bundle = text_plugin.data.load(str(tmp_path / "pairs.csv"), recipe)
    x, _ = first(bundle.train)
    assert x["segment_ids"].max() == 1 and x["segment_ids"][0] == 0  # the second text is segment 1
    assert (x["token_ids"] == 102).sum() == 2                          # [SEP] after each text
    assert x["padding_mask"].sum() == int((x["token_ids"] != 0).sum())
    assert bundle.deployment["text_tokenizer"]["text_pair_column"] == "second"


def test_labels_option_fixes_order(tmp_path):
    write_csv(tmp_path / "d.csv", topic_rows())
    recipe = recipe_for(text_plugin, options={"labels": "weather,sports,food"})
    assert text_plugin.data.load(str(tmp_path / "d.csv"), recipe).class_names == ["weather", "sports", "food"]


def test_multilabel_sets_from_text_and_json(tmp_path):
    rows = [("rain stopped the match", "sports|weather"), ("pizza after the game", "food|sports"),
            ("sunny day", "weather"), ("hot soup", "food")] * 4
    write_csv(tmp_path / "m.csv", rows, header=("text", "labels"))
    bundle = multilabel_plugin.data.load(str(tmp_path / "m.csv"), recipe_for(multilabel_plugin))
    assert bundle.class_names == ["food", "sports", "weather"]
    y = all_labels(bundle.train)
    assert y.shape[1] == 3 and set(y.sum(axis=1).tolist()) <= {1.0, 2.0}
    (tmp_path / "m.jsonl").write_text("".join(json.dumps({"text": t, "labels": y.split("|")}) + "\n" for t, y in rows))
    assert multilabel_plugin.data.load(str(tmp_path / "m.jsonl"), recipe_for(multilabel_plugin)).class_names == \
        bundle.class_names


def test_binary_needs_two_labels(tmp_path):
    write_csv(tmp_path / "d.csv", topic_rows())
    with pytest.raises(DataError, match="exactly 2 labels"):
        binary_plugin.data.load(str(tmp_path / "d.csv"), recipe_for(binary_plugin))
    demo = binary_plugin.data.demo(recipe_for(binary_plugin))
    assert demo.class_names == ["negative", "positive"]
    y = all_labels(demo.train)
    assert y.shape[1:] == (1,) and y.dtype == np.float32 and set(np.unique(y)) == {0.0, 1.0}


def test_split_folder(tmp_path):
    rows = topic_rows()
    write_csv(tmp_path / "train.csv", rows)
    write_csv(tmp_path / "dev.csv", rows[::3])
    bundle = text_plugin.data.load(str(tmp_path), recipe_for(text_plugin))
    assert bundle.metadata["split"] == {"train": 18, "validation": 6} and bundle.test is None
    write_csv(tmp_path / "test.csv", [("a cold morning", "winter")])
    with pytest.raises(DataError, match=r"test\.csv line 2: unknown label 'winter'"):
        text_plugin.data.load(str(tmp_path), recipe_for(text_plugin))


def test_demo_sets():
    for plugin, n_classes in ((text_plugin, 4), (binary_plugin, 2), (multilabel_plugin, 4), (ner_plugin, 7)):
        bundle = plugin.data.demo(recipe_for(plugin))
        assert len(bundle.class_names) == n_classes
        assert bundle.metadata["split"]["validation"] >= 40 and bundle.test is not None
    y = all_labels(multilabel_plugin.data.demo(recipe_for(multilabel_plugin)).train)
    assert 0.2 < (y.sum(axis=1) == 2).mean() < 0.6


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
        text_plugin.data.load(str(path), recipe_for(text_plugin, options=options))


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
        ner_plugin.data.load(str(path), recipe_for(ner_plugin, options=options))


def test_bad_conll_encoding(tmp_path):
    path = tmp_path / "latin1.conll"
    path.write_bytes(b"Maria B-PER\n\nJos\xe9 B-PER\n")
    with pytest.raises(DataError, match=r"latin1\.conll line 3: not valid UTF-8"):
        ner_plugin.data.load(str(path), recipe_for(ner_plugin))


def test_bad_options():
    with pytest.raises(ConfigError, match="sequence_length"):
        text_plugin.data.demo(recipe_for(text_plugin, options={"sequence_length": 4}))
    with pytest.raises(ConfigError, match="unknown plugin option 'text_col'"):
        recipe_for(text_plugin, options={"text_col": "x"})


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
    bundle = ner_plugin.data.load(str(path), recipe_for(ner_plugin))
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


def test_read_inputs_with_the_runs_tokenizer(tmp_path):
    bundle = text_plugin.data.demo(recipe_for(text_plugin))
    deployment = json.loads(json.dumps(bundle.deployment))  # as it travels in zoo.json and sidecars
    (tmp_path / "a.txt").write_text("The marathon was great.\n\nHeavy rain all night.\n")
    write_csv(tmp_path / "b.csv", [("Fresh bread", "food")])
    arrays = text_plugin.data.read_inputs([str(tmp_path / "a.txt"), str(tmp_path / "b.csv")],
                                          bundle.input_signature, deployment=deployment)
    assert arrays["token_ids"].shape == (3, 32) and arrays["token_ids"].dtype == np.int32
    encoder = text_plugin.data._encoders.get(None, 32)
    expected = encoder.encode_numpy(["The marathon was great.", "Heavy rain all night.", "Fresh bread"])
    assert all((arrays[k] == expected[k]).all() for k in expected)
    rows = text_plugin.data.group_predictions([], arrays, np.zeros((3, 4)))
    assert [name for name, _ in rows] == [f"{tmp_path / 'a.txt'}:1", f"{tmp_path / 'a.txt'}:3", f"{tmp_path / 'b.csv'}:2"]


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
    bundle = ner_plugin.data.demo(recipe_for(ner_plugin))
    (tmp_path / "s.txt").write_text("Maria Kowalski visited Marrakesh .\nHello world\n")
    arrays = ner_plugin.data.read_inputs([str(tmp_path / "s.txt")], bundle.input_signature,
                                         deployment=bundle.deployment)
    scores = np.random.default_rng(0).random((2, 32, 7))
    rows = ner_plugin.data.group_predictions([], arrays, scores)
    assert [name for name, _ in rows] == [f"{tmp_path / 's.txt'}:1", f"{tmp_path / 's.txt'}:2"]
    assert rows[0][1].shape == (5, 7) and rows[1][1].shape == (2, 7)
