"""Bad input through the installed `zoo` command: exit code 2 and one line naming the column or file."""

from __future__ import annotations

import pytest

from fraud_helpers import run_zoo, write_mixed_csv


def _three_classes(path):
    write_mixed_csv(path, label_values=("0", "1"))
    lines = path.read_text().splitlines()
    lines = [lines[0]] + [line[: line.rfind(",")] + f",{i % 3}" for i, line in enumerate(lines[1:])]
    path.write_text("\n".join(lines) + "\n")


CASES = {
    "missing_label": (lambda p: write_mixed_csv(p), "has no label column 'is_fraud'"),
    "three_classes": (_three_classes, "label column 'label' of .*bad.csv has 3 distinct value"),
    "not_a_table": (lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(300)), "bad.csv is not a table"),
    "one_column": (lambda p: p.write_text("hello\nworld\n"), "bad.csv is not a table of transactions"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_finetune_bad_input_exits_2_naming_it(tmp_path, case):
    import re

    make, pattern = CASES[case]
    path = tmp_path / "bad.csv"
    make(path)
    args = ["finetune", "--plugin", "tabular-fraud", "--data", str(path), "--runs-dir", str(tmp_path / "runs")]
    if case == "three_classes":
        args += ["-o", "label=label"]
    out = run_zoo(*args, cwd=tmp_path, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert lines[-1].startswith("Error: ") and re.search(pattern, lines[-1]), out.stderr[-2000:]
    assert "Traceback" not in out.stderr


def test_pretrain_bad_file_exits_2(tmp_path):
    path = tmp_path / "unlabelled.parquet"
    path.write_text("not parquet at all\n")
    out = run_zoo("pretrain", "--plugin", "tabular-fraud", "--data", str(path), "--runs-dir", str(tmp_path / "runs"),
                  cwd=tmp_path, timeout=300)
    assert out.returncode == 2 and "unlabelled.parquet is not a readable Parquet table" in out.stderr
    assert "Traceback" not in out.stderr


def test_plugins_info_lists_the_options():
    out = run_zoo("plugins", "info", "tabular-fraud")
    assert out.returncode == 0, out.stderr
    assert "ft_transformer" in out.stdout and "mlp" in out.stdout
    import re

    text = out.stdout
    assert re.search(r"cost_fn +cost of a missed fraud.*\n +number, default 50\.0", text), text
    assert re.search(r"split +stratified .*\n +string, default stratified, one of stratified\|time", text), text
    assert re.search(r"min_category_count .*\n +integer, default 5, >= 1", text), text


def test_bad_option_exits_2_naming_it(tmp_path):
    out = run_zoo("finetune", "--plugin", "tabular-fraud", "-o", "split=random", "--runs-dir", str(tmp_path / "runs"),
                  cwd=tmp_path, timeout=300)
    assert out.returncode == 2, out.stderr[-2000:]
    last = [line for line in out.stderr.splitlines() if line.strip()][-1]
    assert last.startswith("Error: ") and "option split must be one of stratified, time" in last, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
