"""Question answering end to end on the demo in small mode: fine-tune, evaluate, export, `zoo predict` (slow)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

#: small mode: 96 word pieces a window (a few demo contexts need two), the first 256 training windows
SMALL = {"max_length": 96, "doc_stride": 48}

#: new questions on a context the model never saw: accents, punctuation, two spaces, an unanswerable one
NEW = [
    {"id": "n1", "question": "Who built the bridge?",
     "context": "The old bridge at  Carrow Ford was built by José Müller in 1850. It is 40 metres long and "
                "was painted dark green in 1990."},
    {"id": "n2", "question": "When was the bridge built?",
     "context": "The old bridge at  Carrow Ford was built by José Müller in 1850. It is 40 metres long and "
                "was painted dark green in 1990."},
    {"id": "n3", "question": "How long is the bridge?",
     "context": "The old bridge at  Carrow Ford was built by José Müller in 1850. It is 40 metres long and "
                "was painted dark green in 1990."},
]


@pytest.fixture(scope="module")
def qa_run(tmp_path_factory):
    from zoo.training.finetune import finetune
    from zoo_text import qa_plugin

    recipe = qa_plugin.resolve_recipe(overrides={"epochs": 3, "max_samples": 256, "batch_size": 8, "warmup_epochs": 0, "options": SMALL}, origin="test")
    return finetune(qa_plugin, recipe, runs_dir=tmp_path_factory.mktemp("qa") / "runs", verbose=0)


def test_fine_tuning_answers_questions_about_passages_it_never_saw(qa_run):
    """SQuAD exact match / F1 on the demo's test contexts (none of them seen in training), windows recombined
    and the no-answer threshold tuned on validation, computed by the plugin's analyze hook."""
    meta = json.loads((qa_run.path / "zoo.json").read_text())
    test = qa_run.test_metrics
    print("test:", {k: round(v, 3) for k, v in test.items()}, "threshold", meta["decision_threshold"])
    split = meta["data_metadata"]["split"]["test"]
    abstaining = split["unanswerable"] / split["questions"]  # the F1 of answering nothing at all: 0.18
    # measured in small mode: F1 0.50, has-answer F1 0.52 (the full demo recipe reaches 0.71 on test)
    assert test["f1"] >= 0.4 > 2 * abstaining and test["has_answer_f1"] >= 0.4, test
    assert 0 <= test["exact_match"] <= test["f1"] <= 1
    scores = meta["analysis"]["qa_scores"]
    assert scores["test"]["questions"] == meta["data_metadata"]["split"]["test"]["questions"] > 100
    assert scores["test"]["has_answer_questions"] + scores["test"]["no_answer_questions"] == scores["test"]["questions"]
    assert isinstance(meta["decision_threshold"], float)
    assert meta["task"]["kind"] == "answer-span" and meta["task"]["max_answer_length"] == 30
    page = (qa_run.path / "report.html").read_text()
    assert "Answers" in page and "has-answer F1" in page
    assert "exact match" in (qa_run.path / "MODEL_CARD.md").read_text()


def test_exports_verify_and_answer_like_keras(qa_run, tmp_path):
    from zoo.deploy import export_run, predict

    questions = tmp_path / "new.jsonl"
    questions.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in NEW), encoding="utf-8")
    from_keras = predict(qa_run.path, [str(questions)])
    assert [r["input"] for r in from_keras] == [f"{questions}:{i} n{i}" for i in (1, 2, 3)]
    for row, q in zip(from_keras, NEW):
        if row["answered"]:  # an answer is the context's own characters, accents and spacing kept
            assert q["context"][row["start"]:row["end"]] == row["answer"]
    assert sum(r["answer"] in ("José Müller", "1850", "40 metres") for r in from_keras) >= 2, from_keras
    for fmt in ("onnx", "tflite"):
        exported = export_run(qa_run.path, fmt)
        assert exported.verification.passed, exported.verification
        assert exported.verification.agreement >= 0.99  # a near tie between two spans may fall either way
        sidecar = json.loads(exported.sidecar_path.read_text())
        tokenizer = sidecar["deployment"]["text_tokenizer"]
        assert (tokenizer["max_length"], tokenizer["doc_stride"]) == (96, 48) and tokenizer["vocabulary_size"] == 30522
        from_artifact = predict(exported.path, [str(questions)])
        assert [r["answer"] for r in from_artifact] == [r["answer"] for r in from_keras], fmt
        for a, b in zip(from_keras, from_artifact):
            assert a["margin"] == pytest.approx(b["margin"], abs=1e-3)

    # the CLI prints one answer per question
    out = subprocess.run([sys.executable, "-m", "zoo.cli", "predict", str(exported.path), str(questions)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = [line for line in out.stdout.splitlines() if line.startswith(str(questions))]
    assert len(lines) == 3 and all("threshold" in line for line in lines), out.stdout
    for line, row in zip(lines, from_keras):
        assert (json.dumps(row["answer"], ensure_ascii=False) in line) if row["answered"] else "no answer" in line


def test_conformance_kit_trains_exports_and_predicts_the_examples(tmp_path):
    from zoo.testing import check_plugin
    from zoo_text import qa_plugin

    report = check_plugin(qa_plugin, recipe={"options": SMALL}, check_import=False, workdir=tmp_path,
                          export_format="onnx")
    assert report["contract"] == 2 and report["backbones"]["minilm_l6"]["blocks"] == 7
    assert report["predict"]["rows"] == 6  # the six questions write_examples wrote


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
