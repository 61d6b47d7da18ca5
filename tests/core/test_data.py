import gzip

import numpy as np
import polars as pl
import pytest

from tests.helpers import hillstrom_columns, shared_file
from uplift_studio.core.data import (
    CONVERTED,
    ID,
    REVENUE,
    TREATMENT,
    ColumnMap,
    DataWarning,
    frame_fingerprint,
    load_experiment,
)
from uplift_studio.core.errors import DataError

GOOD = pl.DataFrame(
    {
        "customer": [10, 11, 12, 13, 14, 15],
        "arm": ["mail", "none", "mail", "none", "mail", "none"],
        "bought": ["yes", "no", "No", "YES", "no", "no"],
        "spend": [30.0, 0.0, 0.0, 12.5, 0.0, 0.0],
        "age": [30, None, 41, 52, 23, 37],
        "city": ["a", "b", None, "a", "b", "c"],
    }
)
MAPPING = ColumnMap(
    id="customer", treatment="arm", treated_value="mail", control_value="none", conversion="bought", revenue="spend"
)


def write(tmp_path, frame, name="exp.csv"):
    path = tmp_path / name
    if name.endswith(".parquet"):
        frame.write_parquet(path)
    else:
        frame.write_csv(path)
    return path


@pytest.mark.parametrize("name", ["exp.csv", "exp.parquet"])
def test_loads_with_the_users_column_names(tmp_path, name):
    experiment = load_experiment(write(tmp_path, GOOD, name), MAPPING)
    frame = experiment.frame
    assert frame.columns[:4] == [ID, TREATMENT, CONVERTED, REVENUE]
    assert frame[ID].to_list() == [10, 11, 12, 13, 14, 15]
    assert frame[TREATMENT].to_list() == [1, 0, 1, 0, 1, 0]
    assert frame[CONVERTED].to_list() == [1, 0, 0, 1, 0, 0]
    assert experiment.features == ("age", "city")


def test_gzip_csv_and_row_number_ids(tmp_path):
    path = tmp_path / "exp.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(GOOD.drop("customer").write_csv().encode())
    experiment = load_experiment(path, ColumnMap(**{**MAPPING.__dict__, "id": "user_id"}))
    assert experiment.frame[ID].to_list() == [1, 2, 3, 4, 5, 6]


def test_other_arms_are_left_out_with_a_note(tmp_path):
    frame = pl.concat([GOOD, GOOD.head(2).with_columns(customer=pl.Series([98, 99]), arm=pl.lit(" sms "))])
    experiment = load_experiment(write(tmp_path, frame), MAPPING)
    assert experiment.n_users == 6
    assert any("2 rows" in note and "'sms'" in note for note in experiment.notes)


def test_labels_are_trimmed_and_booleans_accepted(tmp_path):
    frame = GOOD.with_columns(arm=pl.col("arm").str.pad_start(6), bought=pl.col("bought").str.to_lowercase() == "yes")
    experiment = load_experiment(write(tmp_path, frame, "exp.parquet"), MAPPING)
    assert experiment.frame[CONVERTED].to_list() == [1, 0, 0, 1, 0, 0]


def test_constant_revenue_per_conversion(tmp_path):
    experiment = load_experiment(
        write(tmp_path, GOOD.drop("spend")),
        ColumnMap(**{**MAPPING.__dict__, "revenue": None}),
        revenue_per_conversion=10,
    )
    assert experiment.frame[REVENUE].to_list() == [10.0, 0, 0, 10.0, 0, 0]


def test_revenue_on_non_converted_rows_is_a_warning(tmp_path):
    frame = GOOD.with_columns(spend=pl.Series([30.0, 5.0, 0.0, 12.5, 0.0, 0.0]))
    with pytest.warns(DataWarning, match="positive on 1 rows"):
        experiment = load_experiment(write(tmp_path, frame), MAPPING)
    assert any("positive on 1 rows" in n for n in experiment.notes)


def test_fingerprint_follows_content_not_identity(tmp_path):
    a = load_experiment(write(tmp_path, GOOD), MAPPING)
    b = load_experiment(write(tmp_path, GOOD, "exp.parquet"), MAPPING)
    assert a.fingerprint == b.fingerprint
    changed = GOOD.with_columns(spend=pl.Series([31.0, 0, 0, 12.5, 0, 0]))
    assert frame_fingerprint(load_experiment(write(tmp_path, changed, "c.csv"), MAPPING).frame) != a.fingerprint


# Every bad input of the foundation issue: (frame or file maker, mapping, message fragments)
BAD_INPUTS = {
    "missing file": (None, MAPPING, ["file not found", "Check the path"]),
    "empty file": ("", MAPPING, ["no rows"]),
    "unreadable parquet": (b"PAR1 not really", MAPPING, ["cannot be read as Parquet"]),
    "absent column": (
        GOOD,
        ColumnMap(**{**MAPPING.__dict__, "treatment": "group"}),
        ["'group'", "Its columns are: customer, arm", "--treatment"],
    ),
    "one group": (GOOD.with_columns(arm=pl.lit("mail")), MAPPING, ["no label 'none'"]),
    "one group, 0/1": (
        GOOD.with_columns(arm=pl.lit(1)),
        ColumnMap(**{**MAPPING.__dict__, "treated_value": None, "control_value": None}),
        ["only treated users", "both a treated and a control"],
    ),
    "labels without values": (
        GOOD,
        ColumnMap(**{**MAPPING.__dict__, "treated_value": None, "control_value": None}),
        ["holds labels, not 0/1", "'mail', 'none'", "--treated-value"],
    ),
    "unknown label": (
        GOOD,
        ColumnMap(**{**MAPPING.__dict__, "treated_value": "email"}),
        ["no label 'email'", "Its labels are: 'mail', 'none'"],
    ),
    "null conversion": (
        GOOD.with_columns(bought=pl.Series(["yes", None, "no", "no", None, "no"])),
        MAPPING,
        ["'bought'", "2 empty values"],
    ),
    "non-binary conversion": (
        GOOD.with_columns(bought=pl.Series(["yes", "maybe", "no", "2", "no", "no"])),
        MAPPING,
        ["'bought'", "2 rows", "'maybe'", "'2'"],
    ),
    "negative revenue": (
        GOOD.with_columns(spend=pl.Series([30.0, -1.0, 0, 12.5, -4.0, 0])),
        MAPPING,
        ["'spend'", "2 negative values", "-1.0"],
    ),
    "null revenue": (
        GOOD.with_columns(spend=pl.Series([30.0, None, 0, 12.5, 0, 0])),
        MAPPING,
        ["'spend'", "1 empty values", "Use 0"],
    ),
    "duplicate ids": (
        GOOD.with_columns(customer=pl.Series([10, 11, 10, 13, 11, 15])),
        MAPPING,
        ["'customer'", "2 ids on more than one row", "4 rows", "10"],
    ),
    "all-null feature": (
        GOOD.with_columns(age=pl.lit(None, dtype=pl.Int64)),
        MAPPING,
        ["feature column 'age'", "entirely empty", "--exclude age"],
    ),
    "no revenue at all": (GOOD.drop("spend"), MAPPING, ["'spend' is not in the file", "--revenue-per-conversion"]),
}


def make_bad(tmp_path, content):
    if content is None:
        return tmp_path / "nope.csv"
    if isinstance(content, bytes):
        path = tmp_path / "bad.parquet"
        path.write_bytes(content)
        return path
    if isinstance(content, str):
        path = tmp_path / "empty.csv"
        path.write_text(content)
        return path
    return write(tmp_path, content)


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_each_bad_input_is_a_data_error_naming_the_culprit(tmp_path, case):
    content, mapping, fragments = BAD_INPUTS[case]
    path = make_bad(tmp_path, content)
    with pytest.raises(DataError) as error:
        load_experiment(path, mapping)
    message = str(error.value)
    assert str(path) in message or "--revenue-per-conversion" in message
    for fragment in fragments:
        assert fragment in message


def test_header_only_csv_is_empty(tmp_path):
    path = tmp_path / "header.csv"
    path.write_text("arm,bought,spend\n")
    with pytest.raises(DataError, match="no rows"):
        load_experiment(path, MAPPING)


def test_numeric_noise_in_conversion_is_caught_too(tmp_path):
    frame = GOOD.with_columns(bought=pl.Series(np.array([1, 0, 0, 1, 0, 3])))
    with pytest.raises(DataError, match=r"'bought' \(conversion\) must be 0/1.*1 rows.*3"):
        load_experiment(write(tmp_path, frame), MAPPING)


def test_hillstrom_loads_as_one_arm_against_control():
    path = shared_file("hillstrom.csv.gz")
    experiment = load_experiment(path, hillstrom_columns(exclude=("visit",)))
    assert experiment.n_users == 21_387 + 21_306
    assert "visit" not in experiment.features
    assert any("21,307 rows" in note for note in experiment.notes)
