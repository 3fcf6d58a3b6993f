"""Output sinks: Parquet part files per table, or one CSV file per table.

The CSV writer renders a whole Arrow table with vectorised string kernels (RFC 4180 minimal
quoting: only values containing a comma, quote or line break are quoted; null is written as
an empty field), which is much faster than row-wise writers and keeps files small.
"""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO, Protocol

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

_LS = pa.large_string()


class Sink(Protocol):
    """Receives tables chunk by chunk."""

    def write(self, name: str, table: pa.Table) -> None: ...

    def close(self) -> list[Path]: ...


def csv_text(table: pa.Table) -> pa.Array:
    """One ``large_string`` per row: the row's CSV line including the trailing newline."""
    cols = []
    for col in table.columns:
        col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
        text = col.cast(_LS)
        special = pc.match_substring_regex(text, r'[",\r\n]')
        if pc.any(special).as_py():
            quoted = pc.binary_join_element_wise(
                pa.scalar('"', _LS),
                pc.replace_substring(text, '"', '""'),
                pa.scalar('"', _LS),
                pa.scalar("", _LS),
            )
            text = pc.if_else(special, quoted, text)
        cols.append(text)
    line = pc.binary_join_element_wise(
        *cols, pa.scalar(",", _LS), null_handling="replace", null_replacement=""
    )
    return pc.binary_join_element_wise(line, pa.scalar("", _LS), pa.scalar("\n", _LS))


def write_csv_rows(table: pa.Table, fh: BinaryIO, batch_rows: int = 500_000) -> None:
    """Append the rows of ``table`` (no header) to an open binary file, a batch at a time."""
    for first in range(0, table.num_rows, batch_rows):
        lines = csv_text(table.slice(first, batch_rows))
        offsets = np.frombuffer(lines.buffers()[1], dtype=np.int64)
        lo, hi = int(offsets[lines.offset]), int(offsets[lines.offset + len(lines)])
        fh.write(memoryview(lines.buffers()[2])[lo:hi])


class CsvSink:
    """One CSV file per table, header first, rows appended chunk by chunk. Columns listed
    in ``left_out`` (table -> names) are not written."""

    def __init__(
        self,
        root: Path,
        file_names: dict[str, str],
        left_out: dict[str, tuple[str, ...]] | None = None,
    ) -> None:
        self.root = root
        self.file_names = file_names
        self.left_out = left_out or {}
        self._files: dict[str, BinaryIO] = {}
        root.mkdir(parents=True, exist_ok=True)

    def path(self, name: str) -> Path:
        return self.root / self.file_names.get(name, f"{name}.csv")

    def write(self, name: str, table: pa.Table) -> None:
        dropped = [c for c in self.left_out.get(name, ()) if c in table.column_names]
        if dropped:
            table = table.drop_columns(dropped)
        fh = self._files.get(name)
        if fh is None:
            fh = self._files[name] = self.path(name).open("wb")
            fh.write((",".join(table.column_names) + "\n").encode())
        write_csv_rows(table, fh)

    def close(self) -> list[Path]:
        for fh in self._files.values():
            fh.close()
        paths = [self.path(name) for name in self._files]
        self._files.clear()
        return paths


class ParquetSink:
    """A directory per table holding ``part-00000.parquet``, ``part-00001.parquet``, ..."""

    def __init__(self, root: Path, compression: str = "zstd") -> None:
        self.root = root
        self.compression = compression
        self._parts: dict[str, int] = {}
        self._paths: list[Path] = []
        root.mkdir(parents=True, exist_ok=True)

    def write(self, name: str, table: pa.Table) -> None:
        part = self._parts.get(name)
        directory = self.root / name
        if part is None:
            part = 0
            directory.mkdir(parents=True, exist_ok=True)
            for stale in directory.glob("part-*.parquet"):  # from an earlier, larger run
                stale.unlink()
        path = directory / f"part-{part:05d}.parquet"
        pq.write_table(table, path, compression=self.compression)
        self._parts[name] = part + 1
        self._paths.append(path)

    def close(self) -> list[Path]:
        return list(self._paths)
