"""Decompression bombs: a compressed input is refused before anything reads it whole when it would expand
beyond the limits (`sources.open_source` checks every .gz and Excel file it opens)."""

from __future__ import annotations

import os
from pathlib import Path

from heedful.errors import InputError

# A compressed input may expand to at most this many bytes, and beyond BOMB_MIN_BYTES no more than
# MAX_RATIO times its compressed size: a zip bomb is refused before anything reads it whole.
MAX_DECOMPRESSED_BYTES = int(os.environ.get("HEEDFUL_MAX_DECOMPRESSED_BYTES", str(64 * 2**30)))
MAX_EXCEL_BYTES = int(os.environ.get("HEEDFUL_MAX_EXCEL_BYTES", str(2 * 2**30)))
MAX_RATIO = 200
BOMB_MIN_BYTES = 64 * 2**20


def _refuse_expansion(path: Path, packed: int, unpacked: int, limit: int) -> None:
    if unpacked > limit:
        raise InputError(
            f"{path.name} expands to more than {limit // 2**20} MiB when decompressed; refused as a possible "
            "decompression bomb. Split the file, or raise HEEDFUL_MAX_DECOMPRESSED_BYTES."
        )
    if unpacked > BOMB_MIN_BYTES and unpacked > MAX_RATIO * max(packed, 1):
        raise InputError(
            f"{path.name} expands more than {MAX_RATIO} times when decompressed ({packed} bytes to over "
            f"{unpacked} bytes); refused as a possible decompression bomb."
        )


def check_decompression(path: Path, fmt: str) -> None:
    """Refuse a .gz or Excel (zip) input whose decompressed size or ratio is beyond the limits."""
    import zipfile
    import zlib

    try:
        packed = path.stat().st_size
        if fmt == "excel" and zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                # zipfile never reads past an entry's declared size, so the declared sizes bound the work
                unpacked = sum(info.file_size for info in archive.infolist())
            _refuse_expansion(path, packed, unpacked, MAX_EXCEL_BYTES)
        elif path.name.lower().endswith(".gz"):
            unpacked = 0
            decoder = zlib.decompressobj(wbits=47)  # a gzip member; concatenated members each get one
            with path.open("rb") as fh:
                pending = b""
                while True:
                    if not pending.strip(b"\0"):
                        pending = fh.read(1 << 20)
                        if not pending:
                            break
                    unpacked += len(decoder.decompress(pending, 1 << 24))
                    if decoder.eof:
                        pending, decoder = decoder.unused_data, zlib.decompressobj(wbits=47)
                    else:
                        pending = decoder.unconsumed_tail
                    _refuse_expansion(path, packed, unpacked, MAX_DECOMPRESSED_BYTES)
    except (OSError, zlib.error, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(f"Cannot read {path} as a compressed file: {exc}") from exc
