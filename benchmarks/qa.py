"""Question answering (`text-qa`): SQuAD F1 of pretrained MiniLM against random initialisation, and
how often the exported artifacts answer as Keras does.

Both runs use the plugin's default recipe on the demo (90 passages written for the project, split
by passage: a test passage was never seen in training); only `--weights` differs. F1 and exact
match are SQuAD's (official normalisation), on the test questions, windows recombined, with the
no-answer threshold each run tuned on its validation split. The pretrained run is then exported to
ONNX and TFLite (float32), and `zoo predict` answers the test questions from the run and from each
artifact: the row is the fraction of questions whose answer text is identical.

```
python benchmarks/qa.py            # about 20 minutes on 2 CPU cores
python benchmarks/qa.py --small    # 2 epochs each
```
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def test_questions(run: Path, folder: Path) -> tuple[Path, list]:
    """The run's test questions as a JSONL file `zoo predict` reads (answers left out)."""
    from zoo.runs import read_run
    from zoo_text import qa_plugin

    meta = read_run(run)
    recipe = qa_plugin.resolve_recipe(base=meta["recipe"])
    questions = qa_plugin.data.questions(meta.get("data"), recipe)["test"]
    path = folder / "test_questions.jsonl"
    path.write_text("".join(json.dumps({"id": q.qid, "question": q.question, "context": q.context},
                                       ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
    return path, questions


def main(epochs: int | None = None) -> dict:
    from zoo.deploy import export_run, predict
    from zoo.training.finetune import finetune
    from zoo_text import qa_plugin

    runs = Path(tempfile.mkdtemp(prefix="qa-bench-"))
    overrides = {} if epochs is None else {"epochs": epochs}
    results: dict = {"rows": [], "test": {}, "seconds": {}}
    done = {}
    for label, weights in (("pretrained", None), ("random", "none")):
        t0 = time.time()
        recipe = qa_plugin.resolve_recipe(overrides=dict(overrides, **({"weights": weights} if weights else {})))
        result = finetune(qa_plugin, recipe, runs_dir=runs, verbose=0)
        done[label] = result
        results["seconds"][label] = round(time.time() - t0, 1)
        results["test"][label] = {k: round(v, 4) for k, v in result.test_metrics.items()}
    f1 = {label: results["test"][label]["f1"] for label in done}
    ratio = f1["pretrained"] / f1["random"] if f1["random"] else float("inf")
    print(f"\ntext-qa demo, test questions: F1 pretrained {f1['pretrained']:.3f}, random init {f1['random']:.3f}")
    results["rows"].append({
        "benchmark": "qa[text-qa] transfer",
        "compared": f"test SQuAD F1, pretrained MiniLM ({f1['pretrained']:.3f}) / random initialisation "
                    f"({f1['random']:.3f}), same recipe",
        "ratio": {"median": ratio, "min": ratio, "max": ratio, "n": 1},
        "goal": ">= 2", "passed": ratio >= 2,
        "exact_match": {k: v["exact_match"] for k, v in results["test"].items()},
    })

    run = done["pretrained"].path
    path, questions = test_questions(run, runs)
    from_keras = [r["answer"] for r in predict(run, [str(path)])]
    for fmt in ("onnx", "tflite"):
        t0 = time.time()
        exported = export_run(run, fmt)
        answers = [r["answer"] for r in predict(exported.path, [str(path)])]
        same = sum(a == b for a, b in zip(answers, from_keras)) / len(from_keras)
        results["seconds"][f"export {fmt}"] = round(time.time() - t0, 1)
        print(f"{fmt}: the same answer text as Keras on {same:.3f} of {len(questions)} test questions")
        results["rows"].append({
            "benchmark": f"qa[text-qa] {fmt} answers",
            "compared": f"{fmt} answers identical to Keras' ({len(questions)} test questions, float32)",
            "ratio": {"median": same, "min": same, "max": same, "n": 1},
            "goal": ">= 0.99", "passed": same >= 0.99,
        })
    print(json.dumps(results["seconds"]))
    return results


if __name__ == "__main__":
    from _common import run_cli

    run_cli(main, {"epochs": 2})
