"""Files that read without error and would mislead: each becomes a clear error or a note."""

from __future__ import annotations

import gzip

import numpy as np
import polars as pl
import pytest

from uplift_studio.core.data import ColumnMap, load_experiment
from uplift_studio.core.errors import DataError
from uplift_studio.core.reading import read_with_notes

HEADER = "user_id,treatment,converted,revenue,visits"


def _rows(n: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        bought = int(rng.random() < 0.3)
        rows.append(f"{i + 1},{i % 2},{bought},{bought * 20.0},{rng.integers(0, 9)}")
    return rows


def _csv(tmp_path, lines, name="exp.csv"):
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_two_columns_of_one_name_are_an_error(tmp_path):
    path = _csv(tmp_path, ["user_id,treatment,converted,revenue,converted", "1,1,0,0,0", "2,0,1,5,1"])
    with pytest.raises(DataError, match=r"'converted' appear more than once"):
        read_with_notes(path)


def test_a_gz_name_on_a_plain_file_is_an_error(tmp_path):
    path = _csv(tmp_path, [HEADER, *_rows(20)], name="exp.csv.gz")
    with pytest.raises(DataError, match="not gzip-compressed"):
        read_with_notes(path)


def test_a_cut_gzip_file_is_an_error(tmp_path):
    whole = gzip.compress(("\n".join([HEADER, *_rows(5_000)]) + "\n").encode())
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match="cut.csv.gz"):
        read_with_notes(path)


@pytest.mark.parametrize("where", [5, 150_000], ids=["inside the inference window", "after it"])
def test_numbers_with_a_few_placeholders_name_the_values(tmp_path, where):
    rows = _rows(where + 10)
    for index in (where, where + 3):
        rows[index] = rows[index].rsplit(",", 1)[0] + ",n/a"
    path = _csv(tmp_path, [HEADER, *rows])
    with pytest.raises(DataError, match=r"'visits' holds numbers except for 2 value\(s\): 'n/a' \(2 rows\)"):
        read_with_notes(path)


def test_a_label_column_is_not_taken_for_numbers(tmp_path):
    rows = [f"{row},{'gold' if i % 3 else 'silver'}" for i, row in enumerate(_rows(100))]
    frame, notes = read_with_notes(_csv(tmp_path, [HEADER + ",tier", *rows]))
    assert frame.schema["tier"] == pl.String and notes == ()


def test_iso_dates_become_days_with_a_note(tmp_path):
    rows = [f"{row},2024-{1 + i % 12:02d}-{1 + i % 28:02d}" for i, row in enumerate(_rows(100))]
    frame, notes = read_with_notes(_csv(tmp_path, [HEADER + ",signup", *rows]))
    assert frame.schema["signup"] == pl.Float64
    assert frame["signup"][0] == pytest.approx(19_723.0)  # 2024-01-01 in days since 1970-01-01
    assert any("'signup' holds dates" in note for note in notes)


def test_a_semicolon_file_gets_a_hint(tmp_path):
    path = _csv(tmp_path, ["user_id;treatment;converted;revenue", "1;1;0;0", "2;0;1;5"])
    with pytest.raises(DataError, match="separated by semicolons"):
        read_with_notes(path)


def test_a_per_row_unique_text_column_is_left_out_of_the_features_with_a_note(tmp_path):
    rows = [f"{row},person{i}@example.com" for i, row in enumerate(_rows(200))]
    experiment = load_experiment(_csv(tmp_path, [HEADER + ",email", *rows]), ColumnMap())
    assert "email" not in experiment.features and "visits" in experiment.features
    assert any("'email' holds a different text on every row" in note for note in experiment.notes)
    kept = load_experiment(_csv(tmp_path, [HEADER + ",email", *rows]), ColumnMap(features=("email", "visits")))
    assert "email" in kept.features
