import dataclasses
import fnmatch
import gzip
import hashlib
import tomllib
from importlib import resources
from pathlib import Path

import polars as pl
import pytest

from uplift_studio.core.data import ID, TREATMENT
from uplift_studio.core.errors import DataError
from uplift_studio.core.examples import EXAMPLES, example, load_example, parse_example

# the published file's hash (MineThatData's download, as recorded in ../shared/data/README.md)
HILLSTROM_SHA256 = "0e5893329d8b93cefecc571777672028290ab69865718020c78c7284f291aece"
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def hillstrom():
    return load_example(example("hillstrom"))


def test_the_bundled_file_is_the_published_one():
    bundled = resources.files("uplift_studio") / "examples" / "hillstrom.csv.gz"
    assert bundled.is_file()
    assert example("hillstrom").path.read_bytes() == bundled.read_bytes()
    assert hashlib.sha256(gzip.decompress(bundled.read_bytes())).hexdigest() == HILLSTROM_SHA256


def test_every_example_is_in_the_package_data():
    # a wheel carries only what [tool.setuptools.package-data] names: every bundled file must match a glob
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["uplift_studio"]
    for bundled in EXAMPLES.values():
        relative = f"examples/{bundled.filename}"
        assert any(fnmatch.fnmatch(relative, glob) for glob in globs), f"{relative} is not in the package data"
    assert not any(fnmatch.fnmatch("examples/other.parquet", glob) for glob in globs)  # the check can fail


def test_hillstrom_reads_womens_email_against_no_email(hillstrom):
    treated = hillstrom.treatment == 1
    assert hillstrom.n_users == 42_693
    assert int(treated.sum()) == 21_387
    treated_rate = hillstrom.converted[treated].mean()
    control_rate = hillstrom.converted[~treated].mean()
    assert f"{treated_rate:.4%}" == "0.8837%" and f"{control_rate:.4%}" == "0.5726%"
    # exact counts of the published table, not only the rounded rates
    assert int(hillstrom.converted[treated].sum()) == 189 and int(hillstrom.converted[~treated].sum()) == 122
    assert hillstrom.revenue[treated].sum() == pytest.approx(23_038.11, abs=0.005)


def test_visit_is_not_a_feature(hillstrom):
    # a visit follows the e-mail: as a feature it would carry the outcome into the uplift model
    assert "visit" not in hillstrom.features
    assert set(hillstrom.features) == {
        "recency",
        "history_segment",
        "history",
        "mens",
        "womens",
        "zip_code",
        "newbie",
        "channel",
    }


def test_users_are_numbered_by_their_row_in_the_file(hillstrom):
    text = gzip.decompress(example("hillstrom").path.read_bytes())
    raw = pl.read_csv(text, columns=["segment"], infer_schema=False).with_row_index("row", offset=1)
    kept = raw.filter(pl.col("segment").is_in(["Womens E-Mail", "No E-Mail"]))
    assert hillstrom.frame.get_column(ID).to_list() == kept.get_column("row").to_list()
    assert hillstrom.frame.get_column(TREATMENT).to_list() == (kept["segment"] == "Womens E-Mail").cast(int).to_list()
    assert any("numbered by their row in the file (1 = the first data row)" in note for note in hillstrom.notes)
    assert hillstrom.source.startswith("example:hillstrom (") and "hillstrom.csv.gz" in hillstrom.source


def test_another_arm_by_its_column_map():
    mens = load_example(
        example("hillstrom"), dataclasses.replace(example("hillstrom").columns, treated_value="Mens E-Mail")
    )
    assert mens.n_users == 21_307 + 21_306
    assert int(mens.converted[mens.treatment == 1].sum()) == 267


def test_parse_example_names_examples_and_leaves_paths_alone():
    assert parse_example("example:hillstrom") is example("hillstrom")
    assert parse_example("Example:Hillstrom") is example("hillstrom")
    assert parse_example("campaign.csv") is None
    assert parse_example("data/example.csv") is None


@pytest.mark.parametrize("spec", ["example:nope", "example:"])
def test_an_unknown_example_is_a_data_error_listing_the_known_ones(spec):
    with pytest.raises(DataError, match=r"no bundled example .*Name one of: example:hillstrom"):
        parse_example(spec)


def test_an_example_is_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        example("hillstrom").name = "other"  # type: ignore[misc]
    assert "Hillstrom" in example("hillstrom").credit and "2008" in example("hillstrom").credit
    assert example("hillstrom").description
