"""The labels CSV: which study belongs to which patient, and what its label is.

Columns (header names are case-insensitive):

- `patient_id`: the patient; splits never put one patient in two splits.
- `path`: a DICOM series folder, a DICOM file or a NIfTI volume, relative to
  the CSV's folder (or absolute). `series`, `file`, `volume` and `image` are
  accepted as the name of this column.
- `label`: the study's class, e.g. `nodule` / `normal`, or `1` / `0`.
- `slice_index` (optional): when given, the row labels one slice of the study
  (0 = the first slice in position order, feet to head for an axial series) and
  only labelled slices become samples; a blank `slice_index` labels the whole
  study. A study is positive when any of its labelled slices is.

A patient may have several studies (one row, or several slice rows, per study).

```
patient_id,path,label
p001,p001/ct-2019,nodule
p001,p001/ct-2021,nodule
p002,p002/ct,normal
```
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from zoo.errors import DataError

PATH_COLUMNS = ("path", "series", "file", "volume", "image")
#: labels taken to mean "negative" when the positive class is not named (`-o classes=[neg,pos]`)
NEGATIVE_WORDS = ("0", "false", "no", "negative", "normal", "benign", "healthy", "absent", "control")


@dataclass
class StudyRow:
    """One study of the CSV: its patient, its path, its label, and slice labels when given."""

    patient_id: str
    path: Path
    written: str                    # the path as written in the CSV (the study's id)
    line: int                       # first CSV line of the study
    label: str | None = None        # study-level label
    slice_labels: dict[int, str] = field(default_factory=dict)   # slice index -> label
    slice_lines: dict[int, int] = field(default_factory=dict)


def read_labels_csv(csv_path: str | Path) -> list[StudyRow]:
    """Parse the labels CSV into studies; `DataError` names the file, line and column of a problem."""
    csv_path = Path(csv_path)
    if csv_path.is_dir():
        candidate = csv_path / "labels.csv"
        if not candidate.is_file():
            raise DataError(f"{csv_path} is a folder; pass the labels CSV (patient_id, path, label[, slice_index]) "
                            "with --data, or put it in the folder as labels.csv")
        csv_path = candidate
    try:
        with open(csv_path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            rows = list(reader)
    except FileNotFoundError:
        raise DataError(f"{csv_path}: no such labels CSV") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{csv_path}: cannot read this CSV ({exc})") from None
    if not rows:
        raise DataError(f"{csv_path}: empty file; expected a header patient_id,path,label[,slice_index]")
    header = [h.strip().lower() for h in rows[0]]
    found = ", ".join(h for h in header if h) or "none"
    for required in ("patient_id", "label"):
        if required not in header:
            raise DataError(f"{csv_path}: missing column '{required}' (columns found: {found}); "
                            "expected patient_id, path, label[, slice_index]")
    path_column = next((c for c in PATH_COLUMNS if c in header), None)
    if path_column is None:
        raise DataError(f"{csv_path}: missing column 'path' (the series folder, DICOM file or NIfTI volume of "
                        f"each study; columns found: {found})")
    col = {name: header.index(name) for name in ("patient_id", "label", path_column)}
    slice_col = header.index("slice_index") if "slice_index" in header else None
    base = csv_path.parent
    studies: dict[Path, StudyRow] = {}
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue

        def cell(index: int | None) -> str:
            return row[index].strip() if index is not None and index < len(row) else ""

        patient = cell(col["patient_id"])
        written = cell(col[path_column])
        label = cell(col["label"])
        for name, value in (("patient_id", patient), (path_column, written), ("label", label)):
            if not value:
                raise DataError(f"{csv_path} line {line}: empty '{name}'")
        path = Path(written) if Path(written).is_absolute() else base / written
        key = path.resolve()
        study = studies.get(key)
        if study is None:
            study = studies[key] = StudyRow(patient_id=patient, path=path, written=written, line=line)
        elif study.patient_id != patient:
            raise DataError(f"{csv_path} line {line}: {written} belongs to patient {study.patient_id!r} on line "
                            f"{study.line} and to {patient!r} here; a study has one patient")
        index_text = cell(slice_col)
        if index_text:
            try:
                index = int(index_text)
                if index < 0:
                    raise ValueError
            except ValueError:
                raise DataError(f"{csv_path} line {line}: slice_index {index_text!r} is not a slice number "
                                "(0, 1, 2...)") from None
            if study.label is not None:
                raise DataError(f"{csv_path} line {line}: {written} has a study-level row (line {study.line}) and "
                                "slice rows; label a study either as a whole or slice by slice")
            if index in study.slice_labels:
                raise DataError(f"{csv_path} line {line}: slice {index} of {written} is labelled twice "
                                f"(also on line {study.slice_lines[index]})")
            study.slice_labels[index] = label
            study.slice_lines[index] = line
        else:
            if study.label is not None or study.slice_labels:
                raise DataError(f"{csv_path} line {line}: {written} is listed twice (also on line {study.line})")
            study.label = label
    if not studies:
        raise DataError(f"{csv_path}: no rows under the header")
    return list(studies.values())


def resolve_classes(studies: Sequence[StudyRow], classes, csv_path: str | Path) -> list[str]:
    """`[negative, positive]` from the data, or from `-o classes=[neg,pos]` checked against the data."""
    seen: dict[str, int] = {}
    for study in studies:
        for label, line in ([(study.label, study.line)] if study.label is not None else []) + \
                [(lab, study.slice_lines[i]) for i, lab in study.slice_labels.items()]:
            seen.setdefault(label, line)
    if classes is not None:
        classes = [str(c) for c in classes]
        for label, line in seen.items():
            if label not in classes:
                raise DataError(f"{csv_path} line {line}: label {label!r} is not one of the classes {classes} "
                                "(option classes)")
        for name in classes:
            if name not in seen:
                raise DataError(f"{csv_path}: class {name!r} (option classes) does not occur in the labels; "
                                f"the data has {sorted(seen)}")
        return classes
    labels = sorted(seen)
    if len(labels) != 2:
        raise DataError(f"{csv_path}: a binary task needs exactly 2 labels in column 'label'; found {len(labels)}: "
                        f"{labels[:10]}")
    negative = [lab for lab in labels if lab.strip().lower() in NEGATIVE_WORDS]
    if len(negative) != 1:
        raise DataError(f"{csv_path}: cannot tell which of the labels {labels} is the positive class; "
                        f"pass -o classes=[NEGATIVE,POSITIVE], e.g. -o classes=[{labels[0]},{labels[1]}]")
    positive = labels[1 - labels.index(negative[0])]
    return [negative[0], positive]
