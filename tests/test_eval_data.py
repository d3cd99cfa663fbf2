"""Evaluation data (mlops_ci.eval.data): four formats and a Parquet directory read alike, in
bounded batches; every unusable file is one EVAL-DATA line naming the file and the column."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from mlops_ci.eval.data import EvalDataError, data_digest, open_data, read_batches
from tests.eval_fixtures import trained, write_table

IRIS = trained("multiclass")
COLUMNS = [*IRIS.features, "target", "group"]


def _read(
    path: Path, columns: list[str], batch_rows: int = 7, **kw: object
) -> dict[str, np.ndarray]:
    source = open_data(path, path.name)
    batches = list(read_batches(source, columns, batch_rows, **kw))  # type: ignore[arg-type]
    assert all(len(b[columns[0]]) <= batch_rows for b in batches)
    return {c: np.concatenate([b[c] for b in batches]) for c in columns}


@pytest.mark.parametrize("name", ["eval.parquet", "eval.csv", "eval.jsonl", "eval.npz", "parts"])
def test_formats_round_trip(tmp_path: Path, name: str) -> None:
    got = _read(write_table(IRIS.table, tmp_path / name), COLUMNS)
    for column in IRIS.features:
        assert got[column].dtype == np.float64
        np.testing.assert_array_equal(got[column], IRIS.table[column])
    # CSV types come from the first block: integer columns are widened to float64 there.
    assert got["target"].dtype == (np.float64 if name == "eval.csv" else np.int64)
    np.testing.assert_array_equal(got["target"], IRIS.table["target"])
    assert got["group"].dtype == object and isinstance(got["group"][0], str)
    assert list(got["group"]) == list(IRIS.table["group"])


def test_digest_is_stable_and_covers_every_part(tmp_path: Path) -> None:
    one = open_data(write_table(IRIS.table, tmp_path / "a.parquet"), "a.parquet")
    assert data_digest(one) == data_digest(one)
    assert data_digest(one).startswith("sha256:") and len(data_digest(one)) == 71
    parts = open_data(write_table(IRIS.table, tmp_path / "parts"), "parts")
    assert [p.name for p in parts.files] == [
        "part-00.parquet",
        "part-01.parquet",
        "part-02.parquet",
    ]
    before = data_digest(parts)
    (tmp_path / "parts" / "part-01.parquet").rename(tmp_path / "parts" / "part-09.parquet")
    assert data_digest(open_data(tmp_path / "parts", "parts")) != before


def _error(path: Path, columns: list[str] | None = None, **kw: object) -> str:
    with pytest.raises(EvalDataError) as caught:
        source = open_data(path, "data/" + path.name)
        for _ in read_batches(source, columns or COLUMNS, 64, **kw):  # type: ignore[arg-type]
            pass
    text = str(caught.value)
    assert text.startswith(f"data/{path.name}: EVAL-DATA: "), text
    assert "\n" not in text and "Traceback" not in text and str(path.parent) not in text
    return text


def test_missing_file_and_unsupported_format(tmp_path: Path) -> None:
    assert "does not exist" in _error(tmp_path / "nope.parquet")
    (tmp_path / "eval.xlsx").write_bytes(b"x")
    assert ".xlsx is not a supported data format" in _error(tmp_path / "eval.xlsx")
    (tmp_path / "empty").mkdir()
    assert "no .parquet file" in _error(tmp_path / "empty")


def test_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "pipe.csv")
    assert "not a regular file" in _error(tmp_path / "pipe.csv")


def test_missing_column_names_it_and_suggests(tmp_path: Path) -> None:
    for name in ("eval.parquet", "eval.csv", "eval.jsonl", "eval.npz"):
        path = write_table(IRIS.table, tmp_path / name)
        text = _error(path, ["petal_length_cm", "targte"])
        assert "column 'targte' is not in the data (did you mean 'target'?)" in text
        assert "'sepal_length_cm'" in text


@pytest.mark.parametrize("name", ["eval.parquet", "eval.csv", "eval.jsonl", "eval.npz"])
def test_empty_data(tmp_path: Path, name: str) -> None:
    empty = {c: v[:0] for c, v in IRIS.table.items()}
    path = write_table(empty, tmp_path / name)
    if name != "eval.jsonl":  # an empty table is an empty .jsonl file: the case below
        assert "has no rows" in _error(path, ["target"])
    path.write_bytes(b"")
    assert f"{name} is empty (0 bytes)" in _error(path, ["target"])
    (tmp_path / "blank.jsonl").write_text("\n\n")
    assert "has no rows" in _error(tmp_path / "blank.jsonl", ["target"])


def test_corrupt_files_are_one_line(tmp_path: Path) -> None:
    good = write_table(IRIS.table, tmp_path / "good.parquet").read_bytes()
    (tmp_path / "cut.parquet").write_bytes(good[: len(good) // 2])
    assert "cannot read the parquet data" in _error(tmp_path / "cut.parquet")
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04garbage")
    assert "cannot read the npz data" in _error(tmp_path / "junk.npz")
    (tmp_path / "bad.jsonl").write_text('{"target": 1}\n{"target": \n')
    assert "cannot read the jsonl data" in _error(tmp_path / "bad.jsonl", ["target"])
    (tmp_path / "ragged.csv").write_text("a,b\n1,2\n3,secret-value,5\n")
    text = _error(tmp_path / "ragged.csv", ["a"])
    assert "cannot read the csv data" in text and "secret-value" not in text


def test_object_arrays_in_npz_are_refused(tmp_path: Path) -> None:
    np.savez(tmp_path / "obj.npz", target=np.array([1, None, "x"], dtype=object))
    assert "cannot read the npz data" in _error(tmp_path / "obj.npz", ["target"])


def test_nulls_in_features_are_errors_and_groups_become_a_group(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "nulls.parquet"
    pq.write_table(pa.table({"x": [1.0, None, 3.0], "g": ["a", None, "b"]}), path)
    text = _error(path, ["x", "g"], nullable={"g"})
    assert "column 'x' has a missing value (row 2)" in text
    got = _read(path, ["g"], nullable={"g"})
    assert list(got["g"]) == ["a", "(null)", "b"]
    assert "column 'g' has a missing value" in _error(path, ["g"])


def test_csv_text_after_numbers_names_the_column(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    lines = ["x,target"] + [f"{i}.5,1" for i in range(200_000)] + ["oops,1"]
    path.write_text("\n".join(lines) + "\n")
    text = _error(path, ["x", "target"])
    assert "column 'x'" in text and "oops" not in text


def test_csv_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin.csv"
    path.write_bytes(b"x,name\n1,caf\xe9\n")
    assert "column 'name' holds bytes that are not UTF-8 text" in _error(path, ["x", "name"])


def test_csv_integers_then_decimals_read_as_numbers(tmp_path: Path) -> None:
    path = tmp_path / "widen.csv"
    path.write_text("x,g\n" + "1,7\n" * 200_000 + "2.5,8\n")
    got = _read(path, ["x", "g"], batch_rows=1 << 20, nullable={"g"})
    assert got["x"].dtype == np.float64 and got["x"][-1] == 2.5
    assert got["g"].dtype == np.int64  # group columns keep their type (their text is "7")


def test_dictionary_columns_are_decoded_and_odd_types_refused(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "dict.parquet"
    column = pa.array(["a", "b", "a"]).dictionary_encode()
    stamps = pa.array([0, 1, 2], type=pa.timestamp("s"))
    pq.write_table(pa.table({"c": column, "t": stamps, "b": [True, False, True]}), path)
    got = _read(path, ["c", "b"])
    assert list(got["c"]) == ["a", "b", "a"] and got["b"].dtype == bool
    assert "column 't' has type timestamp" in _error(path, ["t"])


def test_jsonl_blocks_split_at_line_ends(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    rows = 80_000  # ~2 MiB: three blocks, lines cut at block edges, no final newline
    path.write_text("\n".join(f'{{"x": {i}, "target": {i % 2}}}' for i in range(rows)))
    got = _read(path, ["x", "target"], batch_rows=5000)
    np.testing.assert_array_equal(got["x"], np.arange(rows))
    path.write_text('{"x": 1, "target": 0}\n' * 60_000 + '{"x": 2}\n')
    assert "column 'target' has a missing value (row 60001)" in _error(path, ["x", "target"])


def test_a_parquet_part_without_the_column_is_named(tmp_path: Path) -> None:
    parts = write_table(IRIS.table, tmp_path / "parts")
    write_table({"target": IRIS.table["target"]}, parts / "part-01.parquet")
    text = _error(parts, ["target", "group"])
    assert "column 'group' is not in the data (part-01.parquet)" in text
