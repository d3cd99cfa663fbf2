"""Evaluation data: Parquet, CSV, JSONL or ``.npz`` read in bounded record batches.

Each batch is a mapping column -> numpy array: numbers as ``float64`` or ``int64``, booleans as
``bool``, text as an object array of ``str`` (dictionary columns decoded). Only the columns asked
for are read; memory stays bounded by the batch size (``.npz`` members are loaded one column at a
time, as numpy cannot stream a zip member). Every problem is one :class:`EvalDataError` line
naming the file and the column, never a traceback.
"""

from __future__ import annotations

import difflib
import hashlib
import io
import os
import re
import threading
import zipfile
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ci.errors import InputError, SourcePosition
from mlops_ci.safepath import open_regular, require_regular

if TYPE_CHECKING:
    import numpy as np

FORMATS = {".parquet": "parquet", ".csv": "csv", ".jsonl": "jsonl", ".npz": "npz"}
PREFIX = "EVAL-DATA: "
NULL_GROUP = "(null)"  # how a missing value of a slice or sensitive column is grouped
_CHUNK_BYTES = 1 << 20


class EvalDataError(InputError):
    """The evaluation data cannot be used; the message starts with ``EVAL-DATA: ``."""

    def __init__(self, message: str, position: SourcePosition | None = None) -> None:
        super().__init__(message if message.startswith(PREFIX) else PREFIX + message, position)


@dataclass(frozen=True)
class DataSource:
    """An evaluation data set: one file, or a directory of Parquet files (``files``, in order)."""

    path: Path
    display: str
    files: tuple[Path, ...]
    format: str


def _where(display: str) -> SourcePosition:
    return SourcePosition(display)


def open_data(path: Path, display: str) -> DataSource:
    """The data set at ``path`` (shown to users as ``display``), checked to be readable."""
    where = _where(display)
    if not os.path.lexists(path):
        raise EvalDataError("the evaluation data does not exist; fix eval.data or --data", where)
    if path.is_dir():
        files = tuple(sorted((p for p in path.iterdir() if p.suffix == ".parquet"), key=str))
        if not files:
            raise EvalDataError(
                "the directory holds no .parquet file; give a directory of Parquet files or one"
                " .parquet, .csv, .jsonl or .npz file",
                where,
            )
        kind = "parquet"
    else:
        kind = FORMATS.get(path.suffix.lower(), "")
        if not kind:
            raise EvalDataError(
                f"{path.suffix or 'a file without extension'} is not a supported data format;"
                " give a .parquet, .csv, .jsonl or .npz file (or a directory of .parquet files)",
                where,
            )
        files = (path,)
    for file in files:
        try:
            info = require_regular(
                file, what="evaluation data", position=where, error=EvalDataError
            )
        except FileNotFoundError:
            raise EvalDataError(
                "the evaluation data is a broken link; fix the path", where
            ) from None
        if info.st_size == 0:
            raise EvalDataError(
                f"{file.name} is empty (0 bytes); give a data set with at least one row", where
            )
    return DataSource(path, display, files, kind)


def _reason(exc: BaseException) -> str:
    """The first line of a reader's message, without quoted file contents or paths."""
    text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    text = re.sub(r"(got \d+)\s*:.*$", r"\1", text)  # CSV parse errors quote the row
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", text)
    text = re.sub(r"(/[^\s/]+)+/?", "…", text)
    return text[:200]


def _unreadable(source: DataSource, exc: BaseException) -> EvalDataError:
    return EvalDataError(
        f"cannot read the {source.format} data ({_reason(exc)}); check the file is a complete,"
        f" valid {source.format} file",
        _where(source.display),
    )


def _missing(
    source: DataSource, column: str, present: Sequence[str], part: Path | None = None
) -> EvalDataError:
    close = difflib.get_close_matches(column, list(present), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    shown = ", ".join(repr(c) for c in list(present)[:20]) or "none"
    more = f" and {len(present) - 20} more" if len(present) > 20 else ""
    where = f" ({part.name})" if part is not None and part != source.path else ""
    return EvalDataError(
        f"column {column!r} is not in the data{where}{hint}; it has {shown}{more}; fix eval.label,"
        " eval.features, eval.slices or eval.fairness",
        _where(source.display),
    )


def read_batches(
    source: DataSource,
    columns: Sequence[str],
    batch_rows: int,
    *,
    nullable: Collection[str] = (),
) -> Iterator[dict[str, np.ndarray]]:
    """The ``columns`` of ``source`` in batches of at most ``batch_rows`` rows, in file order.

    A missing value is an error unless its column is in ``nullable`` (slice and sensitive
    columns: there it becomes :data:`NULL_GROUP`). A data set without rows is an error.
    """
    import pyarrow as pa

    wanted = list(dict.fromkeys(columns))
    rows = 0
    try:
        if source.format == "npz":
            for batch in _npz(source, wanted, batch_rows):
                rows += len(batch[wanted[0]])
                yield batch
        else:
            reader = {"parquet": _parquet, "csv": _csv, "jsonl": _jsonl}[source.format]
            for table in reader(source, wanted, batch_rows, nullable):
                batch = _to_numpy(source, table, wanted, rows, nullable)
                rows += table.num_rows
                yield batch
    except (pa.ArrowException, OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile) as exc:
        if isinstance(exc, EvalDataError):
            raise
        raise _unreadable(source, exc) from None
    if rows == 0:
        raise EvalDataError(
            "the evaluation data has no rows; give a data set with at least one row",
            _where(source.display),
        )


def _sliced(batches: Iterator[Any], batch_rows: int) -> Iterator[Any]:
    """Arrow record batches (or tables) cut to at most ``batch_rows`` rows, empty ones dropped."""
    for batch in batches:
        for start in range(0, batch.num_rows, batch_rows):
            yield batch.slice(start, batch_rows)


def _parquet(
    source: DataSource, columns: list[str], batch_rows: int, _nullable: Collection[str]
) -> Iterator[Any]:
    import pyarrow.parquet as pq

    for file in source.files:
        # pre_buffer=False: pyarrow otherwise keeps every column chunk read so far (the whole
        # file, by the end) in memory; reading chunk by chunk is as fast.
        with pq.ParquetFile(file, pre_buffer=False) as reader:
            present = reader.schema_arrow.names
            for column in columns:
                if column not in present:
                    raise _missing(source, column, present, file)
            yield from _sliced(
                reader.iter_batches(batch_size=batch_rows, columns=columns), batch_rows
            )


def _csv(
    source: DataSource, columns: list[str], batch_rows: int, nullable: Collection[str]
) -> Iterator[Any]:
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(block_size=_CHUNK_BYTES)
    with pcsv.open_csv(source.files[0], read_options=read) as probe:
        schema = probe.schema
    present = schema.names
    for column in columns:
        if column not in present:
            raise _missing(source, column, present)
    # Types are inferred from the first block only: a number column whose first block holds
    # only integers is read as float64, so that a later "2.5" is not a conversion error.
    widen = {
        c: pa.float64()
        for c in columns
        if c not in nullable and pa.types.is_integer(schema.field(c).type)
    }
    convert = pcsv.ConvertOptions(include_columns=columns, column_types=widen)
    with pcsv.open_csv(source.files[0], read_options=read, convert_options=convert) as reader:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise _csv_conversion(source, exc, present) from None
            yield from _sliced(iter([batch]), batch_rows)


def _csv_conversion(source: DataSource, exc: BaseException, present: Sequence[str]) -> Exception:
    found = re.search(r"In CSV column #(\d+): CSV conversion error to (\w+)", str(exc))
    if not found or int(found.group(1)) >= len(present):
        return _unreadable(source, exc)
    column = present[int(found.group(1))]
    if found.group(2) == "string":
        return EvalDataError(
            f"column {column!r} holds bytes that are not UTF-8 text; save the file as UTF-8",
            _where(source.display),
        )
    return EvalDataError(
        f"column {column!r} starts with {found.group(2)} values and later holds one that is not;"
        " fix the value (a number column must hold only numbers)",
        _where(source.display),
    )


def _jsonl(
    source: DataSource, columns: list[str], batch_rows: int, _nullable: Collection[str]
) -> Iterator[Any]:
    """JSON lines parsed ~1 MiB of whole lines at a time, so memory stays bounded; each block's
    types are inferred on their own, then checked per column."""
    import pyarrow as pa
    import pyarrow.json as pjson

    checked = False
    rest = b""
    with open_regular(source.files[0], what="evaluation data", error=EvalDataError) as handle:
        while True:
            chunk = handle.read(_CHUNK_BYTES)
            data = rest + chunk
            cut = data.rfind(b"\n") + 1 if chunk else len(data)
            block, rest = data[:cut], data[cut:]
            if block.strip():
                table = pjson.read_json(io.BytesIO(block))
                if not checked and table.num_rows:
                    for column in columns:
                        if column not in table.column_names:
                            raise _missing(source, column, table.column_names)
                    checked = True
                arrays = [
                    table.column(c) if c in table.column_names else pa.nulls(table.num_rows)
                    for c in columns
                ]
                yield from _sliced(iter([pa.table(arrays, names=columns)]), batch_rows)
            if not chunk:
                return


def _to_numpy(
    source: DataSource, batch: Any, columns: list[str], offset: int, nullable: Collection[str]
) -> dict[str, np.ndarray]:
    import pyarrow as pa

    out: dict[str, np.ndarray] = {}
    for name in columns:
        array = batch.column(name)
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        if pa.types.is_dictionary(array.type):
            array = array.dictionary_decode()
        out[name] = _column(source, name, array, offset, name in nullable)
    return out


def _column(source: DataSource, name: str, array: Any, offset: int, nullable: bool) -> np.ndarray:
    import numpy as np
    import pyarrow as pa

    kind = array.type
    if array.null_count:
        import pyarrow.compute as pc

        if not nullable:
            first = int(pc.index(pc.is_null(array), True).as_py())
            raise EvalDataError(
                f"column {name!r} has a missing value (row {offset + first + 1}); fill or drop"
                " the rows with missing values",
                _where(source.display),
            )
        text = pc.fill_null(pc.cast(array, pa.string()), NULL_GROUP)
        return np.asarray(text.to_numpy(zero_copy_only=False), dtype=object)
    if kind in (pa.float64(), pa.int64()):  # the common case: zero-copy (read-only) views
        return np.asarray(array.to_numpy())
    if pa.types.is_null(kind):
        return np.full(len(array), NULL_GROUP, dtype=object)
    if pa.types.is_boolean(kind):
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=bool)
    if pa.types.is_integer(kind):
        return np.asarray(array.to_numpy(), dtype=np.int64)
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return np.asarray(array.cast(pa.float64()).to_numpy(), dtype=np.float64)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return np.asarray(array.to_numpy(zero_copy_only=False), dtype=object)
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        raise EvalDataError(
            f"column {name!r} holds bytes that are not UTF-8 text; save the file as UTF-8",
            _where(source.display),
        )
    raise EvalDataError(
        f"column {name!r} has type {kind}, not numbers or text; convert it before evaluating",
        _where(source.display),
    )


def _npz(
    source: DataSource, columns: list[str], batch_rows: int
) -> Iterator[dict[str, np.ndarray]]:
    """An ``.npz`` holds one 1-D array per column (object arrays refused: no pickle)."""
    import numpy as np

    where = _where(source.display)
    with np.load(source.files[0], allow_pickle=False) as archive:
        present = list(archive.files)
        for column in columns:
            if column not in present:
                raise _missing(source, column, present)
        arrays: dict[str, np.ndarray] = {}
        for column in columns:
            value = archive[column]
            if value.ndim == 2 and value.shape[1] == 1:
                value = value[:, 0]
            if value.ndim != 1:
                raise EvalDataError(
                    f"column {column!r} has shape {value.shape}; each .npz array must be one"
                    " column (1-D)",
                    where,
                )
            arrays[column] = _npz_column(source, column, value)
    lengths = {len(a) for a in arrays.values()}
    if len(lengths) > 1:
        raise EvalDataError(
            f"the .npz columns have different lengths ({', '.join(map(str, sorted(lengths)))});"
            " give arrays of one length",
            where,
        )
    total = lengths.pop() if lengths else 0
    for start in range(0, total, batch_rows):
        yield {name: a[start : start + batch_rows] for name, a in arrays.items()}


def _npz_column(source: DataSource, name: str, value: np.ndarray) -> np.ndarray:
    import numpy as np

    kind = value.dtype.kind
    if kind == "b":
        return value.astype(bool, copy=False)
    if kind in "iu":
        return value.astype(np.int64, copy=False)
    if kind == "f":
        return value.astype(np.float64, copy=False)
    if kind in "US":
        return value.astype(str).astype(object)
    raise EvalDataError(
        f"column {name!r} has dtype {value.dtype}, not numbers or text; convert it before"
        " evaluating",
        _where(source.display),
    )


def data_digest(source: DataSource, *, stop: threading.Event | None = None) -> str:
    """``sha256:<hex>`` over the data file's bytes; for a directory, over each file's relative
    name, size and bytes in order. Streamed: the data is never held in memory whole. ``stop``
    (set by another thread) abandons the hashing; the result is then meaningless."""
    digest = hashlib.sha256()
    single = len(source.files) == 1 and source.files[0] == source.path
    for file in source.files:
        with open_regular(file, what="evaluation data", error=EvalDataError) as handle:
            if not single:
                size = os.fstat(handle.fileno()).st_size
                digest.update(f"{file.relative_to(source.path).as_posix()}\0{size}\0".encode())
            while (chunk := handle.read(1 << 20)) and not (stop and stop.is_set()):
                digest.update(chunk)
    return f"sha256:{digest.hexdigest()}"
