"""Extractive question answering (`text-qa`): SQuAD / flat files -> windows of word pieces -> answers as text.

A question and its context become one or more *windows* of `max_length` word pieces:
`[CLS] question [SEP] context part [SEP]`, the context parts `doc_stride` pieces apart, so a long
context is read whole. The core's `answer-span` task (`zoo.tasks.AnswerSpan`) gives each window a
start and an end logit per position; a window that does not hold the answer is labelled (0, 0), the
[CLS] position (SQuAD 2.0 style).

Characters never go through the tokenizer's normalisation on their way back: the context is split
into words and punctuation marks with their character offsets (`split_words`), each word is
tokenised on its own, and every word piece remembers the characters of its word. An answer is the
context's own text from the first character of its first word to the last of its last word, so
accents, punctuation and runs of spaces come back exactly as written. An answer that starts or
ends inside a word is widened to whole words (counted in the run's metadata).

At evaluation and `zoo predict` time the windows of one question are recombined: the best span
over all windows against the lowest no-answer score among them; the answer is kept when its margin
reaches the decision threshold that `analyze` tunes on validation (SQuAD 2.0's "best threshold").

Data (`--data`): SQuAD v1.1 / v2.0 JSON, or a flat JSONL / CSV / TSV file with columns
`question, context, answer_text, answer_start` (an empty `answer_text` is a question with no answer
in its context), or a folder with `train.*` and `validation.*` (`dev`, `valid`, `val`), optionally
`test.*`. Questions about one context stay in one split.

Example:

```python
split_words("Zoë met  O'Neill.")   # [("Zoë", 0, 3), ("met", 4, 7), ("O", 9, 10), ("'", 10, 11), ...]
squad_f1("the Eiffel Tower", "Eiffel tower!")   # 1.0 (SQuAD normalisation)
```
"""

from __future__ import annotations

import json
import logging
import re
import string
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from zoo.api import DataAdapter, DataBundle, Rows, TensorSpec
from zoo.data import split_indices
from zoo.errors import ConfigError, DataError, PluginError
from zoo_text import io
from zoo_text.backbones import DEFAULT_BACKBONE

log = logging.getLogger(__name__)

DEFAULT_MAX_LENGTH = 128
DEFAULT_DOC_STRIDE = 64
DEFAULT_MAX_ANSWER_LENGTH = 30
#: context word pieces a window must have room for next to its question
MIN_CONTEXT_PIECES = 8
QA_SUFFIXES = (".json", ".jsonl", ".ndjson", ".csv", ".tsv")
FLAT_COLUMNS = ("question", "context", "answer_text", "answer_start")

#: a word (letters, digits, and the combining marks of decomposed accents: "cafe" + U+0301) or one mark
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_PUNCTUATION = frozenset(string.punctuation)
_WORD = re.compile(rf"\w[\w{_MARKS}]*|[^\w\s]", re.UNICODE)


# --------------------------------------------------------------------------- text

def split_words(text: str) -> list[tuple[str, int, int]]:
    """Words (runs of letters and digits) and single punctuation marks, with `[start, end)` character offsets."""
    return [(m.group(0), m.start(), m.end()) for m in _WORD.finditer(text)]


def normalize_answer(text: str) -> str:
    """The official SQuAD normalisation: lower case, no punctuation, no articles (a, an, the), single spaces."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


def squad_exact(prediction: str, truth: str) -> float:
    return float(normalize_answer(prediction) == normalize_answer(truth))


def squad_f1(prediction: str, truth: str) -> float:
    """Token-overlap F1 after normalisation; two empty answers agree (1.0), one empty one does not (0.0)."""
    pred, true = normalize_answer(prediction).split(), normalize_answer(truth).split()
    if not pred or not true:
        return float(pred == true)
    common = sum((Counter(pred) & Counter(true)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(true)
    return 2 * precision * recall / (precision + recall)


def best_over_truths(fn, prediction: str, truths: Sequence[str]) -> float:
    """SQuAD scores a prediction against its best-matching true answer ("" when there is none)."""
    return max(fn(prediction, t) for t in (truths or [""]))


# --------------------------------------------------------------------------- reading

@dataclass
class Question:
    """One question: its context, true answers (empty: no answer) and where it came from."""

    qid: str
    question: str
    context: str
    answers: list[tuple[str, int]]
    source: str
    context_id: int = 0


def _json_lines(text: str) -> dict[str, int]:
    """The line of each `"id": "..."` in a SQuAD file (for error messages that name the line)."""
    found = {}
    for number, line in enumerate(text.splitlines(), start=1):
        for match in re.finditer(r'"id"\s*:\s*"((?:[^"\\]|\\.)*)"', line):
            found.setdefault(json.loads(f'"{match.group(1)}"'), number)
    return found


def read_squad(path: str | Path, answers: bool = True) -> list[Question]:
    """Questions of a SQuAD v1.1 / v2.0 JSON file, every answer checked against its offset (`answers=False`:
    answers are left out unread, as `zoo predict` reads a file)."""
    path = Path(path)
    text = io.read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(f"{path} line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise DataError(f"{path}: not a SQuAD file (a JSON object with a \"data\" list of articles)")
    lines = _json_lines(text)
    out: list[Question] = []
    for a, article in enumerate(data["data"]):
        for p, paragraph in enumerate((article or {}).get("paragraphs") or []):
            context = paragraph.get("context")
            where = f"data[{a}].paragraphs[{p}]"
            for q, qa in enumerate(paragraph.get("qas") or []):
                qid = str(qa.get("id", f"{a}.{p}.{q}"))
                line = lines.get(qid)
                source = f"{path}:{line}" if line else f"{path} {where}.qas[{q}]"
                given = [] if qa.get("is_impossible") or not answers else \
                    [(str(x.get("text", "")), x.get("answer_start")) for x in qa.get("answers") or []]
                out.append(_checked_question(qid, qa.get("question"), context, given, source))
    if not out:
        raise DataError(f"{path}: no questions (data[].paragraphs[].qas[] is empty)")
    return out


def read_flat(path: str | Path, answers: bool = True) -> list[Question]:
    """Questions of a JSONL / CSV / TSV file with `question, context, answer_text, answer_start` columns."""
    path = Path(path)
    records = io.read_table(path)
    if not records:
        raise DataError(f"{path}: no data rows")
    out = []
    for record in records:
        fields = record.fields
        source = f"{path}:{record.line}"
        for column in ("question", "context"):
            if column not in fields:
                raise DataError(f"{source}: no {column!r} field; the columns are {', '.join(FLAT_COLUMNS)}")
        answer = fields.get("answer_text") if answers else None
        given = [] if answer in (None, "") else [(str(answer), fields.get("answer_start"))]
        out.append(_checked_question(str(fields.get("id") or ""), fields["question"],
                                     fields["context"], given, source))
    return out


def read_questions(path: str | Path, answers: bool = True) -> list[Question]:
    """SQuAD JSON (`.json`) or a flat table (`.jsonl`, `.csv`, `.tsv`); `answers=False` leaves answers unread."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        return read_squad(path, answers)
    if suffix in (".jsonl", ".ndjson", ".csv", ".tsv"):
        return read_flat(path, answers)
    raise DataError(f"{path}: unknown file type {suffix or '(none)'}; use SQuAD .json, or .jsonl / .csv / .tsv "
                    f"with columns {', '.join(FLAT_COLUMNS)}")


def _named(qid: str) -> str:
    return f"question {qid!r}" if qid else "the question"


def _checked_question(qid, question, context, answers, source) -> Question:
    if not isinstance(question, str) or not question.strip():
        raise DataError(f"{source}: {_named(qid)} is empty")
    if not isinstance(context, str) or not context.strip():
        raise DataError(f"{source}: {_named(qid)} has an empty context; give the passage its answer comes from")
    checked = []
    for text, start in answers:
        try:
            start = int(start)
        except (TypeError, ValueError):
            raise DataError(f"{source}: answer {text!r} has answer_start {start!r}, not a character offset") from None
        if not text.strip():
            raise DataError(f"{source}: an answer of {_named(qid)} is empty; give no answer for an unanswerable "
                            "question")
        if context[start:start + len(text)] != text:
            found = context.find(text)
            hint = f" (it occurs at {found})" if found >= 0 else " (it does not occur in the context)"
            raise DataError(f"{source}: answer {text!r} is not at answer_start {start} of its context{hint}; "
                            "fix answer_start")
        checked.append((text, start))
    return Question(qid, question, context, checked, source)


def _number_contexts(questions: list[Question]) -> list[Question]:
    ids: dict[str, int] = {}
    for q in questions:
        q.context_id = ids.setdefault(q.context, len(ids))
    return questions


# --------------------------------------------------------------------------- windows

@dataclass
class Window:
    """One window of one question: its inputs, label, and the characters behind each position."""

    question: int  # index into the split's questions
    token_ids: list[int]
    segment_ids: list[int]
    label: tuple[int, int]
    spans: list[tuple[int, int] | None]  # per position: [start, end) characters of its word in the context


@dataclass
class Split:
    questions: list[Question]
    windows: list[Window] = field(default_factory=list)
    widened: int = 0  # answers that start or end inside a word
    unheld: int = 0  # answers longer than a window's room for context: no window holds them whole


class Windower:
    """Questions -> windows, with one tokenizer (a `TextEncoder`'s) and the window settings."""

    def __init__(self, encoder, max_length: int, doc_stride: int):
        self.encoder = encoder
        self.length = int(max_length)
        self.stride = int(doc_stride)
        config = encoder.packer.get_config()
        self.start_id = _single(config.get("start_value"))
        self.end_id = _single(config.get("end_value"))
        self.pad_id = int(config.get("pad_value") or 0)

    def _pieces(self, texts: Sequence[str]) -> list[list[int]]:
        import tensorflow as tf

        if not texts:
            return []
        out = []
        for i in range(0, len(texts), 4096):
            pieces = self.encoder.tokenizer(tf.constant(list(texts[i:i + 4096])))
            pieces = pieces.to_list() if hasattr(pieces, "to_list") else pieces
            out += [[int(t) for t in (p.tolist() if hasattr(p, "tolist") else p)] for p in pieces]
        return out

    def windows(self, questions: list[Question], *, training: bool) -> Split:
        split = Split(questions)
        words = [split_words(q.context) for q in questions]
        flat = [w for ws in words for w, _, _ in ws]
        pieces = self._pieces(flat)
        asked = self._pieces([q.question for q in questions])
        at = 0
        for index, (q, ws, question_ids) in enumerate(zip(questions, words, asked)):
            context_ids, char_spans, first_piece, last_piece = [], [], [], []
            for w, start, end in ws:
                ids = pieces[at]
                at += 1
                first_piece.append(len(context_ids))
                context_ids += ids
                char_spans += [(start, end)] * len(ids)
                last_piece.append(len(context_ids) - 1)
            room = self.length - len(question_ids) - 3
            if room < MIN_CONTEXT_PIECES:
                raise DataError(f"{q.source}: {_named(q.qid)} is {len(question_ids)} word pieces long, which leaves "
                                f"{max(room, 0)} of max_length={self.length} for its context; shorten the question "
                                "or raise -o max_length")
            answer = None
            if q.answers and training:
                text, start = q.answers[0]
                end = start + len(text)
                inside = [k for k, (_, ws_, we_) in enumerate(ws) if we_ > start and ws_ < end]
                inside = [k for k in inside if last_piece[k] >= first_piece[k]]
                if not inside:
                    raise DataError(f"{q.source}: answer {text!r} of {_named(q.qid)} has no word the tokenizer "
                                    "keeps; give an answer made of words")
                if ws[inside[0]][1] != start or ws[inside[-1]][2] != end:
                    split.widened += 1
                answer = (first_piece[inside[0]], last_piece[inside[-1]])
            offset = len(question_ids) + 2
            begin, held = 0, False
            while True:
                part = context_ids[begin:begin + room]
                token_ids = [self.start_id] + question_ids + [self.end_id] + part + [self.end_id]
                segment_ids = [0] * offset + [1] * (len(part) + 1)
                spans: list = [None] * offset + char_spans[begin:begin + room] + [None]
                pad = self.length - len(token_ids)
                label = (0, 0)
                if answer is not None and begin <= answer[0] and answer[1] < begin + room:
                    label = (offset + answer[0] - begin, offset + answer[1] - begin)
                    held = True
                split.windows.append(Window(index, token_ids + [self.pad_id] * pad, segment_ids + [0] * pad, label,
                                            spans + [None] * pad))
                if begin + room >= len(context_ids):
                    break
                begin += min(self.stride, room)  # a long question leaves less room: no context piece is skipped
            if answer is not None and not held:
                split.unheld += 1
        return split

    def arrays(self, split: Split) -> tuple[dict[str, np.ndarray], np.ndarray]:
        token_ids = np.asarray([w.token_ids for w in split.windows], "int32").reshape(-1, self.length)
        inputs = {"token_ids": token_ids,
                  "padding_mask": (token_ids != self.pad_id).astype("int32"),
                  "segment_ids": np.asarray([w.segment_ids for w in split.windows], "int32").reshape(-1, self.length)}
        inputs = {k: inputs[k] for k in self.encoder.input_names}
        labels = np.asarray([w.label for w in split.windows], "int32").reshape(-1, 2)
        return inputs, labels


def _single(value) -> int:
    if isinstance(value, (list, tuple)):
        if len(value) != 1:
            raise ConfigError(f"text-qa needs a tokenizer with one start and one end token, not {value!r}")
        value = value[0]
    if value is None:
        raise ConfigError("text-qa needs a tokenizer whose packer has start and end tokens ([CLS], [SEP])")
    return int(value)


# --------------------------------------------------------------------------- answers from windows

def window_allowed(window: Window) -> np.ndarray:
    """Positions that may start or end an answer: the context's word pieces."""
    return np.asarray([s is not None for s in window.spans], dtype=bool)


def answers(task, split: Split, scores: np.ndarray, count: int | None = None) -> list[dict[str, Any] | None]:
    """The best answer candidate of each question of `split`, windows recombined.

    The best span over all of a question's windows is weighed against the lowest no-answer score
    among them: `{"answer": text, "start", "end" (characters), "margin"}`; the answer stands when
    `margin` reaches the decision threshold (`decide`). `scores[i]` belongs to `split.windows[i]`;
    a question whose windows were not all scored (only `count` were) gets None.
    """
    from zoo.tasks import best_span

    count = len(split.windows) if count is None else count
    best: dict[int, dict[str, Any]] = {}
    complete = set(range(len(split.questions)))
    for i, window in enumerate(split.windows):
        if i >= count:
            complete.discard(window.question)
            continue
        logits = np.asarray(scores[i], dtype=np.float64)
        start, end, score, null = best_span(logits[:, 0], logits[:, 1], task.max_answer_length,
                                            window_allowed(window))
        entry = best.setdefault(window.question, {"score": float("-inf"), "null": float("inf"), "span": None})
        entry["null"] = min(entry["null"], null)
        if end > 0 and score > entry["score"]:
            entry["score"] = score
            entry["span"] = (window.spans[start][0], window.spans[end][1])
    out: list[dict[str, Any] | None] = []
    for index, question in enumerate(split.questions):
        entry = best.get(index)
        if entry is None or index not in complete:
            out.append(None)
            continue
        span = entry["span"]
        out.append({"answer": question.context[span[0]:span[1]] if span else "",
                    "start": span[0] if span else None, "end": span[1] if span else None,
                    "margin": float(entry["score"] - entry["null"]) if span else None})
    return out


def decide(candidate: Mapping[str, Any], threshold: float | None) -> str:
    """The answer text of a candidate at a no-answer threshold ("" when the question goes unanswered)."""
    cut = 0.0 if threshold is None else float(threshold)
    margin = candidate["margin"]
    return candidate["answer"] if margin is not None and margin >= cut else ""


def score_answers(questions: Sequence[Question], predicted: Sequence[dict | None],
                  threshold: float | None = None) -> dict[str, Any]:
    """SQuAD exact match and F1 (fractions 0..1) of answer candidates decided at `threshold`, with the
    has-answer / no-answer split."""
    rows = {"all": [], "has_answer": [], "no_answer": []}
    for q, p in zip(questions, predicted):
        if p is None:
            continue
        text = decide(p, threshold)
        truths = [t for t, _ in q.answers if normalize_answer(t)]  # as evaluate-v2.0.py: "The" is no answer
        pair = (best_over_truths(squad_exact, text, truths), best_over_truths(squad_f1, text, truths))
        rows["all"].append(pair)
        rows["has_answer" if truths else "no_answer"].append(pair)
    out: dict[str, Any] = {}
    for key, values in rows.items():
        prefix = "" if key == "all" else f"{key}_"
        out[f"{prefix}exact_match"] = float(np.mean([v[0] for v in values])) if values else float("nan")
        out[f"{prefix}f1"] = float(np.mean([v[1] for v in values])) if values else float("nan")
        out[f"{prefix}questions"] = len(values)
    return out


def tune_threshold(questions: Sequence[Question], predicted: Sequence[dict | None]) -> float:
    """The no-answer margin that maximises F1 (SQuAD 2.0's best threshold); the lowest one of the ties.

    When every question has an answer (SQuAD 1.1) that is at or below the lowest margin: always answer.
    """
    margins = sorted({p["margin"] for p in predicted if p is not None and p["margin"] is not None})
    candidates = [0.0] + [m for m in margins] + [margins[-1] + 1.0 if margins else 1.0]
    best, best_f1 = 0.0, -1.0
    for cut in sorted(candidates):
        f1 = score_answers(questions, predicted, cut)["f1"]
        if f1 > best_f1 + 1e-12:
            best, best_f1 = cut, f1
    return float(best)


# --------------------------------------------------------------------------- the adapter

class QaData(DataAdapter):
    """Question answering data for the `answer-span` task (see the module docstring)."""

    def __init__(self):
        from zoo_text.data import _EncoderCache

        self._encoders = _EncoderCache()

    # ------------------------------------------------------------------ options
    @staticmethod
    def _checked(options: Mapping) -> Mapping:
        length, stride = options["max_length"], options["doc_stride"]
        if stride > length - MIN_CONTEXT_PIECES - 3:
            raise ConfigError(f"-o doc_stride={stride} leaves no overlap room in max_length={length}; use at most "
                              f"{length - MIN_CONTEXT_PIECES - 3} (half of max_length is usual)")
        return options

    def windower(self, backbone: str | None, options: Mapping) -> Windower:
        options = self._checked(options)
        return Windower(self._encoders.get(backbone, options["max_length"]), options["max_length"],
                        options["doc_stride"])

    # ------------------------------------------------------------------ splits
    def questions(self, source: str | None, recipe) -> dict[str, list[Question]]:
        """The questions of each split (`source` None: the demo), as `load` / `demo` split them."""
        if source is None:
            from zoo_text.data import demo_file

            return self._split(read_squad(demo_file("qa_demo.json")), recipe)
        path = Path(source).expanduser()
        if not path.exists():
            raise DataError(f"{source}: no such file or folder")
        if path.is_dir():
            from zoo_text.data import find_split_files

            files = find_split_files(path, QA_SUFFIXES)
            return {split: _number_contexts(read_questions(f)) for split, f in files.items()}
        return self._split(read_questions(path), recipe)

    @staticmethod
    def _split(questions: list[Question], recipe) -> dict[str, list[Question]]:
        questions = _number_contexts(questions)
        groups = [q.context_id for q in questions]
        strata = [bool(q.answers) for q in questions]
        tr, va, te = split_indices(strata, recipe.val_fraction, recipe.test_fraction, recipe.seed, groups=groups)
        parts = {"train": [questions[i] for i in tr], "validation": [questions[i] for i in va]}
        if len(te):
            parts["test"] = [questions[i] for i in te]
        return parts

    def splits(self, source: str | None, recipe, options: Mapping) -> dict[str, Split]:
        """Windows of every split; what `load` turns into datasets and `analyze` turns back into answers."""
        windower = self.windower(recipe.backbone, options)
        return {name: windower.windows(qs, training=True) for name, qs in self.questions(source, recipe).items()}

    def load(self, source: str, recipe, options: Mapping) -> DataBundle:
        return self._bundle(source, recipe, options)

    def demo(self, recipe, options: Mapping) -> DataBundle:
        return self._bundle(None, recipe, options)

    def _bundle(self, source, recipe, options) -> DataBundle:
        import tensorflow as tf

        windower = self.windower(recipe.backbone, options)
        parts = self.splits(source, recipe, options)
        if not parts.get("validation") or not parts["validation"].questions:
            raise DataError("the validation split has no questions; give more contexts or a larger val_fraction")

        def ds(name):
            if name not in parts or not parts[name].windows:
                return None
            x, y = windower.arrays(parts[name])
            return tf.data.Dataset.from_tensor_slices((x, y))

        encoder = windower.encoder
        settings = encoder.settings()
        settings["vocabulary"] = None if settings["vocabulary"] is None else "\n".join(settings["vocabulary"])
        settings.update(task="answer-span", max_length=windower.length, doc_stride=windower.stride)
        counts = {name: {"questions": len(p.questions), "windows": len(p.windows),
                         "unanswerable": sum(1 for q in p.questions if not q.answers),
                         "contexts": len({q.context_id for q in p.questions})} for name, p in parts.items()}
        metadata = {"source": "demo: qa_demo.json, short passages written for the project, SQuAD 2.0 format"
                    if source is None else str(source),
                    "split": counts, "split_rule": "by context (a context's questions stay in one split)",
                    "seed": recipe.seed, "backbone": recipe.backbone or DEFAULT_BACKBONE,
                    "max_length": windower.length, "doc_stride": windower.stride,
                    "answers_widened_to_words": sum(p.widened for p in parts.values()),
                    "answers_in_no_window": sum(p.unheld for p in parts.values())}
        signature = {name: TensorSpec((windower.length,), "int32") for name in encoder.input_names}
        return DataBundle(train=ds("train"), validation=ds("validation"), test=ds("test"), class_names=[],
                          input_signature=signature, metadata=metadata, deployment={"text_tokenizer": settings})

    # ------------------------------------------------------------------ zoo predict
    def _predict_windower(self, input_signature, options, deployment) -> Windower:
        from zoo_text.data import _predict_encoder

        encoder, settings = _predict_encoder(self._encoders, input_signature, options, deployment)
        length = settings.get("max_length", encoder.sequence_length)
        return Windower(encoder, length, settings.get("doc_stride", options["doc_stride"]))

    def read_inputs(self, paths: Sequence[str], input_signature: Mapping[str, TensorSpec], options: Mapping,
                    deployment: Mapping) -> Rows:
        """Questions from SQuAD JSON or JSONL / CSV / TSV (`question` and `context`; answers, when present,
        are ignored) -> one row per window; `rows.context[i]` ties the window to its question."""
        windower = self._predict_windower(input_signature, options, deployment)
        questions = []
        for p in paths:
            questions += read_questions(p, answers=False)
        split = windower.windows(_number_contexts(questions), training=False)
        inputs, _ = windower.arrays(split)
        context = [{"question": w.question, "spans": w.spans, "qid": questions[w.question].qid,
                    "text": questions[w.question].context, "asked": questions[w.question].question,
                    "source": questions[w.question].source} for w in split.windows]
        return Rows(inputs, [c["source"] for c in context], context=context)

    def group_predictions(self, rows: Rows, scores, options: Mapping) -> list:
        """One answer per question (its windows recombined), as text with its character offsets."""
        from zoo_text import qa_plugin

        if rows.context is None:
            raise PluginError("text-qa group_predictions needs the rows of QaData.read_inputs (with their context)")
        order: dict[int, Question] = {}
        windows = []
        for c in rows.context:
            order.setdefault(c["question"], Question(c["qid"], c["asked"], c["text"], [], c["source"]))
            windows.append(Window(c["question"], [], [], (0, 0), c["spans"]))
        indices = sorted(order)
        renumber = {old: new for new, old in enumerate(indices)}
        for w in windows:
            w.question = renumber[w.question]
        split = Split([order[i] for i in indices], windows)
        found = answers(qa_plugin.task, split, np.asarray(scores))
        return [(f"{q.source} {q.qid}".strip(), {"question": q.question, **a}) for q, a in zip(split.questions, found)]

    def write_examples(self, folder, recipe, options: Mapping) -> list[str]:
        """A JSONL file of demo questions with their contexts (no answers), as a user would pass them."""
        from zoo_text.data import demo_file

        questions = read_squad(demo_file("qa_demo.json"))[:6]
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "questions.jsonl"
        path.write_text("".join(json.dumps({"id": q.qid, "question": q.question, "context": q.context},
                                           ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
        return [str(path)]


# --------------------------------------------------------------------------- analysis

def analyze_qa(run_dir, recipe, options, validation, test) -> dict:
    """`Plugin.analyze` of `text-qa`: windows recombined into answers, SQuAD exact match and F1, the
    no-answer threshold tuned on validation and applied to test."""
    from zoo.runs import read_run
    from zoo_text import qa_plugin

    meta = read_run(Path(run_dir), require_complete=False)
    parts = qa_plugin.data.splits(meta.get("data"), recipe, options)
    task = qa_plugin.task
    predicted = {}
    for name, pair in (("validation", validation), ("test", test)):
        if pair is None or name not in parts:
            continue
        labels, scores = pair
        predicted[name] = answers(task, parts[name], scores, count=len(scores))
    threshold = tune_threshold(parts["validation"].questions, predicted["validation"])
    metrics, details = {}, {}
    for name, found in predicted.items():
        scored = score_answers(parts[name].questions, found, threshold)
        details[name] = scored
        metrics[name] = {k: v for k, v in scored.items() if not k.endswith("questions")}
    card = ["Answers are whole words of the context; a question's windows are recombined (the best span over "
            f"its windows against the lowest no-answer score). No-answer margin threshold tuned on validation: "
            f"{threshold:.3f}.", "", "| split | questions | exact match | F1 | has-answer F1 | no-answer F1 |",
            "| --- | --- | --- | --- | --- | --- |"]
    for name, s in details.items():
        card.append(f"| {name} | {s['questions']} | {s['exact_match']:.3f} | {s['f1']:.3f} | "
                    f"{s['has_answer_f1']:.3f} | {s['no_answer_f1']:.3f} |")
    return {"decision_threshold": threshold, "metrics": metrics, "qa_scores": details,
            "model_card": "\n".join(card)}


def qa_report_sections(run_dir, meta) -> list:
    """`Plugin.report_sections` of `text-qa`: exact match and F1 per split, answerable or not."""
    from zoo.api import ReportSection

    details = (meta.get("analysis") or {}).get("qa_scores") or {}
    if not details:
        return []
    rows = [f"| {name} | {s['questions']} | {s['exact_match']:.3f} | {s['f1']:.3f} | {s['has_answer_f1']:.3f} "
            f"({s['has_answer_questions']}) | {s['no_answer_f1']:.3f} ({s['no_answer_questions']}) |"
            for name, s in details.items()]
    return [ReportSection("Answers", "SQuAD exact match and F1 on answer text (official normalisation); the "
                          "no-answer threshold was tuned on validation.\n\n| split | questions | exact match | F1 | "
                          "has-answer F1 (questions) | no-answer F1 (questions) |\n| --- | --- | --- | --- | --- | --- |\n"
                          + "\n".join(rows))]
