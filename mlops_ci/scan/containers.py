"""Finding every pickle in a blob of bytes, by content, whatever the file or member is called.

A loader decides what a file is by its bytes, not its name (``torch.load`` takes a zip or a bare
pickle, ``numpy.load`` a zip, an ``.npy`` or a pickle, ``joblib.load`` any of its compressors), so
every blob is sniffed for all of these, and each that applies is followed:

- a pickle at its start (every protocol: 0 and 1 have no header, so the decoder itself decides);
- gzip, bz2, xz, lzma and zlib streams (decompressed, bounded), then sniffed again;
- zip archives (PyTorch, ``.npz``, joblib, any zip; also one appended to other data): every
  member, whatever its name; stored members are read in place, without a copy;
- tar archives (ustar): every regular member;
- ``.npy`` data: an array whose dtype holds objects is a pickle after the header.

Bounds (nesting depth, members per archive, decompressed bytes per file) are never a silent skip:
exceeding one, or a container that cannot be read, makes the blob undecodable (blocking).
lz4 and zstd streams cannot be decompressed here and are undecodable too.
"""

from __future__ import annotations

import ast
import bz2
import io
import lzma
import mmap
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any, cast

from mlops_ci.scan.pickle_input import Blob
from mlops_ci.scan.pickle_vm import Budget
from mlops_ci.scan.pickles import PicklePolicy, PickleScan, scan_blob

NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK\x03\x04"
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile.structFileHeader: names, then extras
_UNSUPPORTED = {b"\x04\x22\x4d\x18": "lz4", b"\x28\xb5\x2f\xfd": "zstd"}
PICKLE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt")
TEXT_SUFFIXES = (".yaml", ".yml", ".json", ".txt", ".md", ".csv", ".cfg", ".ini", ".toml")


@dataclass(frozen=True)
class Limits:
    """How far one model file is followed; past any bound the file is undecodable."""

    depth: int = 6  # containers and compression layers inside one another
    members: int = 10_000  # members of one archive
    decompressed: int = 2 << 30  # bytes decompressed for one file, all layers together


DEFAULT_LIMITS = Limits()


Record = Callable[[str | None, PickleScan], None]


def _failed(reason: str) -> PickleScan:
    return PickleScan(error=reason)


class BlobScanner:
    """Sniffs the blobs of one model file and records every pickle (or failure) it finds."""

    def __init__(self, policy: PicklePolicy, limits: Limits, record: Record) -> None:
        self.policy, self.limits, self.record = policy, limits, record
        self.budget = limits.decompressed
        self.ops = Budget()  # opcodes, for the whole file

    def scan(
        self, blob: Blob, start: int, end: int, member: str | None, name: str, depth: int
    ) -> None:
        """Everything ``blob[start:end]`` may hold; ``name`` is the file or member name."""
        head = bytes(blob[start : min(end, start + 512)])
        container = _is_container(blob, start, end, head)
        # A pickle by its header, or by its name unless its bytes say it is something else.
        claimed = (head[:1] == b"\x80" and len(head) > 1 and head[1] <= 5) or (
            name.lower().endswith(PICKLE_SUFFIXES) and not container
        )
        text = name.lower().endswith(TEXT_SUFFIXES)
        found = scan_blob(
            blob, start, end, claimed=claimed, text=text, policy=self.policy, budget=self.ops
        )
        if found is not None:
            self.record(member, found)
        if depth >= self.limits.depth and container:
            self.record(member, _failed(f"containers nested deeper than {self.limits.depth}"))
            return
        if head.startswith(NPY_MAGIC):
            self._npy(blob, start, end, member)
        for magic, tool in _UNSUPPORTED.items():
            if head.startswith(magic):
                self.record(member, _failed(f"{tool}-compressed data cannot be scanned"))
        unpacked = self._decompressed(blob, start, end, head, member)
        if unpacked is not None:
            self.scan(unpacked, 0, len(unpacked), member, _strip_suffix(name), depth + 1)
        if head.startswith(ZIP_MAGIC) or _has_zip_end(blob, start, end):
            self._zip(blob, start, end, member, head.startswith(ZIP_MAGIC), depth)
        if head[257:262] == b"ustar":
            self._tar(blob, start, end, member, depth)

    # -- compression -------------------------------------------------------------------------

    def _decompressed(
        self, blob: Blob, start: int, end: int, head: bytes, member: str | None
    ) -> bytes | None:
        found = _compression(head)
        if found is None:
            return None
        kind, strong = found
        raw = self._window(blob, start, end, member)
        if raw is None:
            return None
        try:
            with _reader(kind, raw) as stream:
                data = stream.read(self.budget + 1)
        except (OSError, EOFError, lzma.LZMAError, zlib.error, ValueError) as exc:
            if strong:  # a weak magic (zlib, lzma-alone) that does not decompress is not one
                reason = f"{kind} data that cannot be decompressed ({type(exc).__name__})"
                self.record(member, _failed(reason))
            return None
        if len(data) > self.budget:
            self.record(member, _failed("decompresses past the bound on decompressed bytes"))
            return None
        self.budget -= len(data)
        return data

    # -- archives ----------------------------------------------------------------------------

    def _window(self, blob: Blob, start: int, end: int, member: str | None) -> IO[bytes] | None:
        """A file over ``blob[start:end]``: the blob itself when it is all of it, else a copy
        (charged to the decompression budget)."""
        if start == 0 and end == len(blob):
            return io.BytesIO(blob) if isinstance(blob, bytes) else cast(IO[bytes], _Mapped(blob))
        if end - start > self.budget:
            self.record(member, _failed("a nested container past the bound on bytes read"))
            return None
        self.budget -= end - start
        return io.BytesIO(bytes(blob[start:end]))

    def _zip(
        self, blob: Blob, start: int, end: int, member: str | None, magic: bool, depth: int
    ) -> None:
        handle = self._window(blob, start, end, member)
        if handle is None:
            return
        view = _view(blob, start, end, handle)
        try:
            archive = zipfile.ZipFile(handle)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError) as exc:
            if magic:  # it starts like one: a loader would try it
                self.record(
                    member, _failed(f"a zip archive that cannot be read ({type(exc).__name__})")
                )
            return
        with archive:
            infos = archive.infolist()
            if len(infos) > self.limits.members:
                self.record(member, _failed(f"an archive of over {self.limits.members} members"))
                return
            for info in infos:
                if info.is_dir():
                    continue
                inner = f"{member}!{info.filename}" if member else info.filename
                span = _stored_span(view, info)
                if span is not None:
                    self.scan(view, span[0], span[1], inner, info.filename, depth + 1)
                    continue
                data = self._member(archive, info, inner)
                if data is not None:
                    self.scan(data, 0, len(data), inner, info.filename, depth + 1)

    def _member(self, archive: zipfile.ZipFile, info: zipfile.ZipInfo, inner: str) -> bytes | None:
        try:
            with archive.open(info) as handle:
                data = handle.read(self.budget + 1)
        except (zipfile.BadZipFile, NotImplementedError, RuntimeError, OSError, EOFError,
                zlib.error, lzma.LZMAError, ValueError) as exc:  # fmt: skip
            self.record(
                inner, _failed(f"an archive member that cannot be read ({type(exc).__name__})")
            )
            return None
        if len(data) > self.budget:
            self.record(inner, _failed("decompresses past the bound on decompressed bytes"))
            return None
        self.budget -= len(data)
        return data

    def _tar(self, blob: Blob, start: int, end: int, member: str | None, depth: int) -> None:
        handle = self._window(blob, start, end, member)
        if handle is None:
            return
        view = _view(blob, start, end, handle)
        try:
            with tarfile.open(fileobj=handle, mode="r:") as archive:
                entries = []
                for count, entry in enumerate(archive):
                    if count >= self.limits.members:
                        self.record(
                            member, _failed(f"an archive of over {self.limits.members} members")
                        )
                        return
                    entries.append(entry)
        except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
            self.record(
                member, _failed(f"a tar archive that cannot be read ({type(exc).__name__})")
            )
            return
        for entry in entries:
            inner = f"{member}!{entry.name}" if member else entry.name
            if entry.issparse():
                self.record(inner, _failed("a sparse tar member cannot be scanned"))
            elif entry.isreg() and entry.offset_data + entry.size <= len(view):
                self.scan(
                    view,
                    entry.offset_data,
                    entry.offset_data + entry.size,
                    inner,
                    entry.name,
                    depth + 1,
                )

    # -- .npy ---------------------------------------------------------------------------------

    def _npy(self, blob: Blob, start: int, end: int, member: str | None) -> None:
        parsed = _npy_header(blob, start, end)
        if parsed is None:
            self.record(member, _failed("an .npy header that cannot be read"))
            return
        offset, holds_objects = parsed
        if holds_objects:
            found = scan_blob(blob, offset, end, claimed=True, policy=self.policy, budget=self.ops)
            if found is not None:  # always: a claimed stream gets a verdict
                self.record(member, found)


class _Mapped(io.RawIOBase):
    """A read-only file over a memory map, with a position of its own (no copy)."""

    def __init__(self, blob: mmap.mmap) -> None:
        super().__init__()
        self.blob, self.pos = blob, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.blob[self.pos : self.pos + len(buffer)]
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: len(self.blob)}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def tell(self) -> int:
        return self.pos


class _ZlibReader(io.RawIOBase):
    """A reader of one zlib stream (joblib's ``zlib`` compressor)."""

    def __init__(self, raw: IO[bytes]) -> None:
        super().__init__()
        self.raw, self.inflate = raw, zlib.decompressobj()

    def read(self, size: int | None = -1) -> bytes:
        """Up to ``size`` bytes, fed a MiB at a time: data that only looks like zlib fails on
        its first chunk, not after the whole file is read."""
        limit = size if size is not None and size > 0 else 1 << 62
        out = bytearray()
        while len(out) < limit and not self.inflate.eof:
            chunk = self.inflate.unconsumed_tail or self.raw.read(1 << 20)
            if not chunk:
                raise zlib.error("truncated zlib stream")
            out += self.inflate.decompress(chunk, limit - len(out))
        return bytes(out)


def _compression(head: bytes) -> tuple[str, bool] | None:
    """The compressor a blob starts with, and whether its magic is a strong one."""
    for magic, kind in ((b"\x1f\x8b", "gzip"), (b"BZh", "bz2"), (b"\xfd7zXZ\x00", "xz")):
        if head.startswith(magic):
            return kind, True
    if head[:3] == b"\x5d\x00\x00":  # lzma "alone" (joblib's lzma)
        return "lzma", False
    if len(head) > 1 and head[0] == 0x78 and (head[0] << 8 | head[1]) % 31 == 0:
        return "zlib", False  # joblib's zlib
    return None


def _reader(kind: str, raw: IO[bytes]) -> IO[bytes]:
    import gzip

    if kind == "gzip":
        return cast(IO[bytes], gzip.GzipFile(fileobj=raw, mode="rb"))
    if kind == "bz2":
        return cast(IO[bytes], bz2.BZ2File(raw))
    if kind in ("xz", "lzma"):
        form = lzma.FORMAT_XZ if kind == "xz" else lzma.FORMAT_ALONE
        return cast(IO[bytes], lzma.LZMAFile(raw, format=form))
    return cast(IO[bytes], _ZlibReader(raw))


def _strip_suffix(name: str) -> str:
    """``model.pkl.gz`` holds ``model.pkl``."""
    stem, dot, suffix = name.rpartition(".")
    return stem if dot and suffix.lower() in ("gz", "bz2", "xz", "lzma", "z", "zlib") else name


def _is_container(blob: Blob, start: int, end: int, head: bytes) -> bool:
    return (
        head.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", ZIP_MAGIC, NPY_MAGIC))
        or head[257:262] == b"ustar"
        or _has_zip_end(blob, start, end)
    )


def _has_zip_end(blob: Blob, start: int, end: int) -> bool:
    """An end-of-central-directory record in the last 64 KiB: ``zipfile`` would open it."""
    tail = max(start, end - (1 << 16) - 22)
    return blob.find(b"PK\x05\x06", tail, end) >= 0


def _stored_span(view: Blob, info: zipfile.ZipInfo) -> tuple[int, int] | None:
    """Where a stored (uncompressed, unencrypted) member's bytes lie in the archive."""
    if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & 0x1:
        return None
    header = bytes(view[info.header_offset : info.header_offset + _LOCAL_HEADER.size])
    if len(header) < _LOCAL_HEADER.size or not header.startswith(ZIP_MAGIC):
        return None
    fields = _LOCAL_HEADER.unpack(header)
    begin = info.header_offset + _LOCAL_HEADER.size + fields[10] + fields[11]
    stop = begin + info.compress_size
    return (begin, stop) if stop <= len(view) else None


def _npy_header(blob: Blob, start: int, end: int) -> tuple[int, bool] | None:
    """``(offset of the array data, whether its dtype holds objects)`` of an .npy stream."""
    if end - start < 10 or bytes(blob[start : start + 6]) != NPY_MAGIC:
        return None
    major = blob[start + 6]
    width = 2 if major == 1 else 4
    length = int.from_bytes(bytes(blob[start + 8 : start + 8 + width]), "little")
    offset = start + 8 + width + length
    if major not in (1, 2, 3) or length > 1 << 20 or offset > end:
        return None
    try:
        header = ast.literal_eval(bytes(blob[start + 8 + width : offset]).decode("latin1"))
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return None
    if not isinstance(header, dict) or "descr" not in header:
        return None
    return offset, _holds_objects(header["descr"])


def _holds_objects(descr: object) -> bool:
    """Whether numpy would unpickle the data: an object dtype anywhere in the description. What
    numpy cannot read as a dtype counts as one (undecided means scanned)."""
    try:
        import numpy as np
        from numpy.lib import format as npy_format

        dtype = npy_format.descr_to_dtype(cast(Any, descr))
        return bool(dtype.hasobject) if isinstance(dtype, np.dtype) else True
    except Exception:  # numpy's many errors on hostile input: scan it as a pickle
        return True


def _view(blob: Blob, start: int, end: int, handle: IO[bytes]) -> Blob:
    """The bytes an archive's offsets count from: the whole blob, or the window's copy."""
    return blob if start == 0 and end == len(blob) else cast(io.BytesIO, handle).getvalue()
