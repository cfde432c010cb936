"""Question answering without training: offsets on tricky text, windows, recombination, SQuAD scores, bad files.

The tokenizer is the real all-MiniLM-L6-v2 word-piece tokenizer (lower-casing, accents stripped),
so every answer that comes back as the context's own characters went through real normalisation.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from zoo.errors import ConfigError, DataError
from zoo.tasks import AnswerSpan, best_span, span_exact, span_f1, span_loss
from zoo_text.qa import (Question, Split, Window, Windower, answers, normalize_answer, read_questions, score_answers,
                         split_words, squad_exact, squad_f1, tune_threshold)

TRICKY = ("Zoë  Müller   opened the Ångström Café in St. Ives on 3 May 1998. It seats 1,200 guests, and "
          "O'Neill, the U.S. architect, drew it. The roof is painted  vermilion")
ANSWERS = ["Zoë  Müller", "Ångström Café", "St. Ives", "3 May 1998", "1,200 guests", "O'Neill", "U.S. architect",
           "vermilion"]


def _squad(path, paragraphs):
    """Write a SQuAD v2.0 file: paragraphs = [(context, [(question, answer_text or None), ...]), ...]."""
    data, n = [], 0
    for context, qas in paragraphs:
        items = []
        for question, answer in qas:
            n += 1
            items.append({"id": f"q{n}", "question": question, "is_impossible": answer is None,
                          "answers": [] if answer is None else [{"text": answer, "answer_start": context.index(answer)}]})
        data.append({"title": f"t{len(data)}", "paragraphs": [{"context": context, "qas": items}]})
    path.write_text(json.dumps({"version": "v2.0", "data": data}, indent=1, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def encoder():
    from zoo_text.data import _EncoderCache

    return _EncoderCache().get(None, 48)


def _answer_text(question: Question, window: Window) -> str:
    start, end = window.label
    return question.context[window.spans[start][0]:window.spans[end][1]]


def test_words_keep_their_characters():
    words = split_words(TRICKY)
    assert [w for w, _, _ in words[:4]] == ["Zoë", "Müller", "opened", "the"]
    assert all(TRICKY[s:e] == w for w, s, e in words)
    assert [w for w, _, _ in split_words("O'Neill, U.S.")] == ["O", "'", "Neill", ",", "U", ".", "S", "."]


def test_answers_round_trip_through_word_pieces_on_tricky_text(encoder):
    """Accents, punctuation inside and next to answers, runs of spaces, the very last word: each answer's
    positions map back to exactly its characters, in every window that holds it, however the context is cut."""
    questions = [Question(f"q{i}", "What is it?", TRICKY, [(a, TRICKY.index(a))], "test") for i, a in enumerate(ANSWERS)]
    for length, stride in ((48, 8), (48, 20), (32, 5)):
        windower = Windower(encoder, length, stride)
        split = windower.windows(questions, training=True)
        for q_index, q in enumerate(questions):
            mine = [w for w in split.windows if w.question == q_index]
            assert len(mine) > 1  # the context needs several windows at these lengths
            holding = [w for w in mine if w.label != (0, 0)]
            assert holding, (q.answers, length, stride)
            assert all(_answer_text(q, w) == q.answers[0][0] for w in holding)
            assert all(len(w.token_ids) == length == len(w.spans) for w in mine)
        assert split.widened == 0
        x, y = windower.arrays(split)
        assert x["token_ids"].shape == (len(split.windows), length) and y.shape == (len(split.windows), 2)
        assert set(x) == {"token_ids", "padding_mask", "segment_ids"}
        # the context's pieces are segment 1, the question's segment 0; the label sits in the context
        for w, seg in zip(split.windows, x["segment_ids"]):
            if w.label != (0, 0):
                assert seg[w.label[0]] == 1 and seg[w.label[1]] == 1


def test_an_answer_at_the_very_end_of_a_window(encoder):
    windower = Windower(encoder, 32, 4)
    question = Question("q", "Where?", TRICKY, [("vermilion", TRICKY.index("vermilion"))], "test")
    split = windower.windows([question], training=True)
    last_piece = [w for w in split.windows if w.label != (0, 0) and w.spans[w.label[1] + 1] is None]
    assert last_piece, "some window ends right after the answer's last word piece"
    assert all(_answer_text(question, w) == "vermilion" for w in last_piece)


def test_an_answer_inside_a_word_is_widened_and_counted(encoder):
    context = "The 1990s were loud."
    split = Windower(encoder, 32, 8).windows([Question("q", "When?", context, [("1990", 4)], "t")], training=True)
    assert split.widened == 1 and _answer_text(split.questions[0], split.windows[0]) == "1990s"


def test_recombination_picks_the_best_span_across_windows():
    """Two windows of one question: the stronger span wins, weighed against the lower no-answer score."""
    task = AnswerSpan(max_answer_length=5)
    context = "alpha beta gamma delta"
    spans = [None, (0, 5), (6, 10), None], [None, (11, 16), (17, 22), None]
    windows = [Window(0, [], [], (0, 0), list(s)) for s in spans]
    scores = np.zeros((2, 4, 2))
    scores[0, 1] = [2.0, 2.0]    # "alpha": 4.0
    scores[1, 2] = [3.0, 3.5]    # "delta": 6.5, the best
    scores[0, 0] = [1.0, 1.0]    # no-answer 2.0 in window 0 ...
    scores[1, 0] = [3.0, 3.0]    # ... and 6.0 in window 1: the lower one counts
    found = answers(task, Split([Question("q", "?", context, [], "t")], windows), scores)
    assert found[0]["answer"] == "delta" and found[0]["margin"] == pytest.approx(6.5 - 2.0)
    assert (found[0]["start"], found[0]["end"]) == (17, 22)
    decoded = task.decode(found[0], [], threshold=5.0)  # a stricter threshold drops it
    assert decoded["answered"] is False and decoded["answer"] == "" and decoded["start"] is None
    assert task.decode(found[0], [], threshold=4.0)["answer"] == "delta"
    # a question whose windows were not all scored gets no answer rather than a partial one
    assert answers(task, Split([Question("q", "?", context, [], "t")], windows), scores[:1], count=1) == [None]


def test_best_span_keeps_end_after_start_and_the_length_cap():
    assert best_span([5, 0, 3, 1], [5, 0, 1, 4], 2)[:2] == (2, 3)
    # the best start (3) comes after the best end (1): the best pair with end >= start is (1, 1) at 1 + 9
    start, end, score, null = best_span([0, 1, 0, 9], [0, 9, 0, 1], 3)
    assert (start, end, score, null) == (1, 1, 10.0, 0.0)
    # (1, 4) spans 4 positions, more than 2: the best allowed pair is (3, 4) at 1 + 9
    assert best_span([0, 9, 0, 1, 0], [0, 0, 0, 0, 9], 2)[:3] == (3, 4, 10.0)
    assert best_span([0, 9, 0], [0, 0, 9], 5, allowed=[False, False, True])[:2] == (2, 2)


def test_a_long_question_does_not_skip_context(encoder):
    """When a question leaves less room than doc_stride, windows still overlap: every context piece is read."""
    question = Question("q", "Which " * 30 + "answer?", TRICKY, [("vermilion", TRICKY.index("vermilion"))], "t")
    windower = Windower(encoder, 48, 40)
    split = windower.windows([question], training=True)
    room = 48 - len(windower._pieces([question.question])[0]) - 3
    assert room < 40 and len(split.windows) > 2
    seen = {span for w in split.windows for span in w.spans if span is not None}
    assert seen == {(start, end) for _, start, end in split_words(TRICKY)}
    assert any(w.label != (0, 0) for w in split.windows) and split.unheld == 0


def test_an_answer_too_long_for_any_window_is_counted(encoder):
    answer = TRICKY[:TRICKY.index(" It seats")]
    split = Windower(encoder, 16, 4).windows([Question("q", "What?", TRICKY, [(answer, 0)], "t")], training=True)
    assert split.unheld == 1 and all(w.label == (0, 0) for w in split.windows)


def test_decomposed_accents_stay_with_their_word(encoder):
    import unicodedata

    context = unicodedata.normalize("NFD", "We met at the café near Zoë's house.")
    answer = unicodedata.normalize("NFD", "café")
    assert [w for w, _, _ in split_words(context)][4] == answer
    split = Windower(encoder, 32, 8).windows([Question("q", "Where?", context, [(answer, context.index(answer))],
                                                       "t")], training=True)
    assert split.widened == 0 and _answer_text(split.questions[0], split.windows[0]) == answer


def test_squad_normalisation_matches_the_official_script():
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert squad_exact("the Eiffel Tower", "Eiffel tower!") == 1.0
    assert squad_f1("the cat sat", "cat sat on mat") == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert squad_f1("", "") == 1.0 and squad_f1("x", "") == 0.0 and squad_f1("", "x") == 0.0
    questions = [Question("a", "?", "c", [("Paris", 0), ("paris city", 0)], "t"), Question("b", "?", "c", [], "t")]
    found = [{"answer": "Paris city", "margin": 1.0}, {"answer": "London", "margin": 0.5}]
    scores = score_answers(questions, found, threshold=0.0)
    assert scores["exact_match"] == 0.5 and scores["has_answer_f1"] == 1.0 and scores["no_answer_f1"] == 0.0
    assert score_answers(questions, found, threshold=0.7)["f1"] == 1.0  # "London" dropped: right to abstain
    assert tune_threshold(questions, found) == pytest.approx(1.0)  # the lowest cut that drops London, keeps Paris
    # SQuAD 1.1: every question has an answer, so the tuned cut answers all of them, even at negative margins
    answerable = [Question("a", "?", "c", [("Paris", 0)], "t"), Question("b", "?", "c", [("Rome", 0)], "t")]
    guesses = [{"answer": "Paris", "margin": -3.0}, {"answer": "Rome", "margin": 2.0}]
    assert tune_threshold(answerable, guesses) <= -3.0
    assert score_answers(answerable, guesses, tune_threshold(answerable, guesses))["f1"] == 1.0
    # a gold answer that normalises to nothing ("The") does not count, as in evaluate-v2.0.py
    assert score_answers([Question("c", "?", "c", [("The", 0)], "t")], [{"answer": "", "margin": None}])["f1"] == 1.0


def test_the_task_metrics_agree_with_their_numpy_forms():
    task = AnswerSpan()
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 10, 2)).astype("float32")
    labels = np.array([[0, 0], [2, 4], [3, 3], [1, 8], [5, 6], [2, 2]], "int32")
    scores[1, 2, 0] = scores[1, 4, 1] = 9  # one exact hit
    import keras

    for name, fn in (("span_exact", span_exact), ("span_f1", span_f1)):
        keras_value = float(np.mean(keras.ops.convert_to_numpy(fn(labels, scores))))
        assert task.numpy_metric(name, labels, scores) == pytest.approx(keras_value, abs=1e-6), name
    assert task.numpy_loss(labels, scores) == pytest.approx(
        float(np.mean(keras.ops.convert_to_numpy(span_loss(labels, scores)))), rel=1e-5)
    assert task.numpy_metric("span_exact", labels, scores) >= 1 / 6
    assert AnswerSpan(loss="span_crossentropy").keras_loss() is span_loss  # its default loss, by name
    assert AnswerSpan(loss="span_crossentropy").numpy_loss(labels, scores) == pytest.approx(task.numpy_loss(labels, scores))
    task.check_labels(labels, [], "train")
    with pytest.raises(DataError, match="start <= end"):
        task.check_labels(np.array([[3, 2]]), [], "train")
    with pytest.raises(DataError, match=r"\(N, 2\)"):
        task.check_labels(np.zeros((3, 5)), [], "train")
    assert task.agreement(scores, scores)[1] == 1.0


def test_squad_and_flat_files_read_alike(tmp_path):
    context = "The Ångström Café opened in 1998 in St. Ives."
    squad = _squad(tmp_path / "train.json", [(context, [("When did it open?", "1998"), ("Who owns it?", None)])])
    flat = tmp_path / "train.csv"
    import csv

    with open(flat, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["question", "context", "answer_text", "answer_start"])
        writer.writerow(["When did it open?", context, "1998", context.index("1998")])
        writer.writerow(["Who owns it?", context, "", ""])
    for path in (squad, flat):
        qs = read_questions(path)
        assert [(q.question, q.answers) for q in qs] == [("When did it open?", [("1998", 28)]), ("Who owns it?", [])]
    # zoo predict leaves answers unread: a stale offset does not stop it
    stale = json.loads(squad.read_text())
    stale["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3
    squad.write_text(json.dumps(stale), encoding="utf-8")
    with pytest.raises(DataError, match="not at answer_start 3"):
        read_questions(squad)
    assert [q.answers for q in read_questions(squad, answers=False)] == [[], []]


@pytest.mark.parametrize("case, message", [
    ("offset", r"train.json:\d+: answer '1998' is not at answer_start 3 of its context \(it occurs at 28\)"),
    ("empty-context", r"train.json:\d+: question 'q1' has an empty context"),
    ("long-question", r"train.json:\d+: question 'q1' is \d+ word pieces long.*raise -o max_length"),
])
def test_bad_questions_name_file_and_line(tmp_path, case, message, encoder):
    context = "The Ångström Café opened in 1998 in St. Ives."
    doc = {"version": "v2.0", "data": [{"title": "t", "paragraphs": [{"context": context, "qas": [
        {"id": "q1", "question": "When did it open?", "is_impossible": False,
         "answers": [{"text": "1998", "answer_start": 28}]}]}]}]}
    qa = doc["data"][0]["paragraphs"][0]
    if case == "offset":
        qa["qas"][0]["answers"][0]["answer_start"] = 3
    elif case == "empty-context":
        qa["context"] = "  "
    else:
        qa["qas"][0]["question"] = "When " * 60 + "?"
    path = tmp_path / "train.json"
    path.write_text(json.dumps(doc, indent=1, ensure_ascii=False), encoding="utf-8")
    with pytest.raises(DataError, match=message):
        Windower(encoder, 48, 16).windows(read_questions(path), training=True)
    # the line named is the question's own
    if case != "empty-context":
        line = int(str(pytest.raises(DataError, lambda: Windower(encoder, 48, 16).windows(
            read_questions(path), training=True)).value).split(":")[1])
        assert '"id": "q1"' in path.read_text().splitlines()[line - 1]


def test_options_that_cannot_work_are_refused(tmp_path):
    from zoo_text import qa_plugin

    with pytest.raises(ConfigError, match="doc_stride"):
        recipe = qa_plugin.resolve_recipe(overrides={"options": {"max_length": 32, "doc_stride": 30}})
        qa_plugin.data.demo(recipe, qa_plugin.options_for(recipe))
    with pytest.raises(ConfigError, match="max_length"):
        qa_plugin.resolve_recipe(overrides={"options": {"max_length": 4}})


def test_the_demo_splits_by_context_and_has_unanswerable_questions():
    from zoo_text import qa_plugin

    recipe = qa_plugin.resolve_recipe(overrides={"options": {"max_length": 128, "doc_stride": 64}})
    parts = qa_plugin.data.splits(None, recipe, qa_plugin.options_for(recipe))
    contexts = {name: {q.context for q in p.questions} for name, p in parts.items()}
    assert not contexts["train"] & contexts["validation"] and not contexts["train"] & contexts["test"]
    for name, p in parts.items():
        unanswerable = sum(not q.answers for q in p.questions)
        assert 0 < unanswerable < len(p.questions), name
        for w in p.windows:
            if w.label != (0, 0):
                q = p.questions[w.question]
                assert normalize_answer(_answer_text(q, w)) == normalize_answer(q.answers[0][0])
    assert len(parts["train"].questions) >= 400


def test_lora_and_partial_open_what_they_say():
    """The span head trains from random under every strategy; LoRA adds adapters, partial opens the top blocks."""
    from zoo.training.finetune import assemble
    from zoo_text import qa_plugin

    options = {"max_length": 32, "doc_stride": 16}
    recipe = qa_plugin.resolve_recipe(overrides={"options": options})
    bundle = qa_plugin.data.demo(recipe, qa_plugin.options_for(recipe))
    for strategy in ("lora", "partial"):
        recipe = qa_plugin.resolve_recipe(overrides={"strategy": strategy, "options": options})
        parts = assemble(qa_plugin, recipe, bundle)
        paths = [w.path for w in parts.model.trainable_weights]
        if strategy == "lora":
            adapters = [p for p in paths if "lora_kernel" in p]
            assert len(adapters) == 6 * 6 * 2, strategy
            assert sorted(set(paths) - set(adapters)) == ["output/bias", "output/kernel"]
        else:
            assert {p.split("/")[0] for p in paths} == {"output", "transformer_layer_4", "transformer_layer_5"}
        assert tuple(parts.model.output.shape[1:]) == (32, 2)
