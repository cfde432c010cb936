"""Entity-level scores (seqeval semantics) on hand-made cases, and CoNLL files written and read back."""

from __future__ import annotations

import numpy as np
import pytest

from zoo.errors import DataError
from zoo_text.entities import entities, entity_scores, majority_tag_scores, tag_names, word_tags
from zoo_text.io import Sentence, read_conll, write_conll


def test_entities_follow_conlleval():
    assert entities(["B-PER", "I-PER", "O", "B-LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]
    assert entities(["B-PER", "B-PER"]) == [("PER", 0, 1), ("PER", 1, 2)]      # B starts a new entity
    assert entities(["O", "I-ORG", "I-ORG"]) == [("ORG", 1, 3)]                  # I after O starts one
    assert entities(["B-PER", "I-LOC"]) == [("PER", 0, 1), ("LOC", 1, 2)]        # type change
    assert entities(["O", "O"]) == []


def test_exact_match_scores():
    true = [["B-PER", "I-PER", "O", "B-LOC"], ["B-ORG", "O"]]
    scores = entity_scores(true, true)
    assert scores["precision"] == scores["recall"] == scores["f1"] == 1.0
    assert scores["true_entities"] == 3


def test_partial_span_is_a_miss():
    true = [["B-PER", "I-PER", "O"]]
    for pred in (["B-PER", "O", "O"], ["O", "B-PER", "O"], ["B-PER", "I-PER", "I-PER"]):
        scores = entity_scores(true, [pred])
        assert scores["correct_entities"] == 0 and scores["f1"] == 0.0, pred


def test_wrong_type_is_a_miss_and_counts_add_up():
    true = [["B-PER", "I-PER", "O", "B-LOC", "O", "B-ORG"]]
    pred = [["B-PER", "I-PER", "O", "B-ORG", "O", "O"]]  # PER right, LOC typed as ORG, ORG missed
    scores = entity_scores(true, pred)
    assert (scores["true_entities"], scores["predicted_entities"], scores["correct_entities"]) == (3, 2, 1)
    assert scores["precision"] == pytest.approx(1 / 2)
    assert scores["recall"] == pytest.approx(1 / 3)
    assert scores["f1"] == pytest.approx(2 * (1 / 2) * (1 / 3) / (1 / 2 + 1 / 3))
    assert scores["per_type"]["PER"]["f1"] == 1.0 and scores["per_type"]["LOC"]["recall"] == 0.0


def test_nothing_predicted_scores_zero():
    scores = entity_scores([["B-LOC", "O"]], [["O", "O"]])
    assert scores["precision"] == 0.0 and scores["recall"] == 0.0 and scores["f1"] == 0.0


def test_word_tags_use_only_labelled_positions():
    names = tag_names(["PER", "LOC"])
    assert names == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    labels = np.array([[-1, 3, -1, 4, 0, -1, -1]])  # [CLS] Ma ##ria Kowalski left [SEP] [PAD]
    scores = np.zeros((1, 7, 5))
    scores[0, [1, 2, 3, 4, 5, 6], [3, 0, 4, 0, 1, 1]] = 1  # the prediction at "##ria" does not count
    true, pred = word_tags(labels, scores, names)
    assert true == pred == [["B-PER", "I-PER", "O"]]
    assert majority_tag_scores(labels, labels, names)["f1"] == 0.0  # "all O" finds no entity


def test_conll_round_trip(tmp_path):
    sentences = [(["Maria", "Kowalski", "visited", "New", "York", "."], ["B-PER", "I-PER", "O", "B-LOC", "I-LOC", "O"]),
                 (["Nothing", "here"], ["O", "O"]),
                 (["Acme", "Robotics", "hired", "Ünal"], ["B-ORG", "I-ORG", "O", "B-PER"])]
    path = tmp_path / "data.conll"
    write_conll(path, sentences)
    back = read_conll(path)
    assert [(s.words, s.tags) for s in back] == sentences
    assert [s.line for s in back] == [1, 8, 11]
    write_conll(tmp_path / "again.conll", back)
    assert (tmp_path / "again.conll").read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_conll_reader_takes_first_and_last_columns_and_skips_docstart(tmp_path):
    path = tmp_path / "multi.conll"
    path.write_text("-DOCSTART- -X- O O\n\nEU NNP B-NP B-ORG\nrejects VBZ B-VP O\n\n\nGerman JJ B-NP B-MISC\n")
    assert [(s.words, s.tags, s.line) for s in read_conll(path)] == [
        (["EU", "rejects"], ["B-ORG", "O"], 3), (["German"], ["B-MISC"], 7)]


def test_write_conll_refuses_words_with_spaces(tmp_path):
    with pytest.raises(DataError, match="whitespace"):
        write_conll(tmp_path / "x.conll", [Sentence(1, ["New York"], ["B-LOC"])])
