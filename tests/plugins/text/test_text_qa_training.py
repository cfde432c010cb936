"""Question answering end to end on the demo in small mode: fine-tune, evaluate, export, `zoo predict` (slow)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tutorial_runner import run_tutorial, tutorial_blocks

pytestmark = pytest.mark.slow

#: small mode: 96 word pieces a window (a few demo contexts need two), the first 256 training windows
SMALL = {"max_length": 96, "doc_stride": 48}
TUTORIAL = Path(__file__).resolve().parents[3] / "tutorials" / "question_answering.md"
SMALL_RUN = ("zoo finetune --plugin text-qa -o max_length=96 -o doc_stride=48 --epochs 3 --batch-size 8 "
             "--warmup-epochs 0 --max-samples 256")


@pytest.fixture(scope="module")
def tutorial(tmp_path_factory):
    """tutorials/question_answering.md run as written, fine-tuning in small mode; its folder."""
    folder = tmp_path_factory.mktemp("qa")
    run_tutorial(TUTORIAL, folder, replace={"zoo finetune --plugin text-qa\n": SMALL_RUN + "\n"}, timeout=900)
    return folder


def _run(folder):
    return next((folder / "runs").glob("text-qa-*"))


def test_tutorial_names_the_commands():
    blocks = "\n".join(tutorial_blocks(TUTORIAL))
    for command in ("zoo finetune --plugin text-qa\n", "zoo export --format onnx",
                    "zoo predict runs/text-qa-*/exports/model.onnx questions.jsonl"):
        assert command in blocks


def test_fine_tuning_answers_questions_about_passages_it_never_saw(tutorial):
    """SQuAD exact match / F1 on the demo's test contexts (none of them seen in training), windows recombined
    and the no-answer threshold tuned on validation, computed by the plugin's analyze hook."""
    run = _run(tutorial)
    meta = json.loads((run / "zoo.json").read_text())
    assert meta["recipe"]["options"] == SMALL and meta["samples"]["train"] == 256
    test = meta["metrics"]["test"]
    print("test:", {k: round(v, 3) for k, v in test.items()}, "threshold", meta["decision_threshold"])
    split = meta["data_metadata"]["split"]["test"]
    abstaining = split["unanswerable"] / split["questions"]  # the F1 of answering nothing at all: 0.18
    # measured in small mode: F1 0.50, has-answer F1 0.52 (the full demo recipe reaches 0.71 on test)
    assert test["f1"] >= 0.4 > 2 * abstaining and test["has_answer_f1"] >= 0.4, test
    assert 0 <= test["exact_match"] <= test["f1"] <= 1
    scores = meta["analysis"]["qa_scores"]
    assert scores["test"]["questions"] == split["questions"] > 100
    assert scores["test"]["has_answer_questions"] + scores["test"]["no_answer_questions"] == scores["test"]["questions"]
    assert isinstance(meta["decision_threshold"], float)
    assert meta["task"]["kind"] == "answer-span" and meta["task"]["max_answer_length"] == 30
    page = (run / "report.html").read_text()
    assert "Answers" in page and "has-answer F1" in page
    assert "exact match" in (run / "MODEL_CARD.md").read_text()


def test_onnx_tflite_and_savedmodel_answer_like_keras(tutorial):
    from zoo.deploy import export_run, predict

    questions = tutorial / "questions.jsonl"
    contexts = {json.loads(line)["id"]: json.loads(line)["context"] for line in questions.read_text().splitlines()}
    from_onnx = json.loads((tutorial / "answers.json").read_text())
    from_keras = json.loads((tutorial / "answers_keras.json").read_text())
    assert [r["input"] for r in from_keras] == [f"questions.jsonl:{i} {q}" for i, q in
                                                enumerate(("bridge-who", "bridge-when", "bridge-toll"), start=1)]
    for row in from_keras:
        if row["answered"]:  # an answer is the context's own characters, accents and spacing kept
            assert contexts[row["input"].split()[-1]][row["start"]:row["end"]] == row["answer"]
    assert sum(r["answer"] in ("José Müller", "1850") for r in from_keras[:2]) >= 1, from_keras
    assert [r["answer"] for r in from_onnx] == [r["answer"] for r in from_keras]

    run = _run(tutorial)
    sidecar = json.loads((run / "exports" / "model.onnx.zoo.json").read_text())
    tokenizer = sidecar["deployment"]["text_tokenizer"]
    assert (tokenizer["max_length"], tokenizer["doc_stride"]) == (96, 48) and tokenizer["vocabulary_size"] == 30522
    assert sidecar["decision_threshold"] == json.loads((run / "zoo.json").read_text())["decision_threshold"]
    assert sidecar["verification"]["agreement"] >= 0.99  # a near tie between two spans may fall either way

    for fmt in ("tflite", "savedmodel"):
        exported = export_run(run, fmt)
        assert exported.verification.passed and exported.verification.agreement >= 0.99, fmt
        from_artifact = predict(exported.path, [str(questions)])
        assert [r["answer"] for r in from_artifact] == [r["answer"] for r in from_keras], fmt
        for a, b in zip(from_keras, from_artifact):
            assert (a["margin"] is None) == (b["margin"] is None)
            assert a["margin"] is None or a["margin"] == pytest.approx(b["margin"], abs=1e-3)

    # what `zoo predict` prints for each question (the tutorial ran it on the ONNX file)
    from zoo.cli import _predict_line

    for row in from_artifact:
        line = _predict_line(row)
        assert line.startswith(row["input"] + ": ") and "threshold" in line
        assert (json.dumps(row["answer"], ensure_ascii=False) in line) if row["answered"] else "no answer" in line


def test_conformance_kit_passes():
    from zoo.testing import check_plugin
    from zoo_text import qa_plugin

    # train=False: the tutorial above is the trained path (fine-tune, export, read_inputs -> predict)
    report = check_plugin(qa_plugin, recipe={"options": SMALL}, check_import=True, train=False)
    assert report["contract"] == 2 and report["backbones"]["minilm_l6"]["blocks"] == 7


def test_cli_refuses_a_bad_file_with_its_line(tmp_path):
    bad = tmp_path / "train.jsonl"
    context = "The mill was built in 1820."
    bad.write_text(json.dumps({"question": "When?", "context": context, "answer_text": "1820", "answer_start": 3})
                   + "\n", encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "zoo.cli", "finetune", "--plugin", "text-qa", "--data", str(bad),
                          "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and f"{bad}:1: answer '1820' is not at answer_start 3" in last, last
    assert not list((tmp_path / "runs").glob("*/model.keras"))
