"""Reading only what a step needs from a warehouse table, in bounded memory.

dbt-duckdb hands a Python model each ref as a DuckDB relation (``dbt.ref(...)``); its
``.df()`` would pull the whole table into pandas (fct_customer_snapshots at 1M customers
is 7.5M rows of ~80 columns). The ML steps instead filter and project the relation, so
DuckDB reads only their rows and columns, and read large results a batch at a time.
Tests and benchmarks pass DataFrames; ``as_relation`` puts them behind the same API.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import duckdb
import pandas as pd
import pyarrow as pa


def as_relation(table) -> duckdb.DuckDBPyRelation:
    """The relation dbt passed, or a DataFrame as a relation (on a connection of its own)."""
    if isinstance(table, pd.DataFrame):
        return duckdb.connect().from_df(table)
    return table


def quoted(columns: Iterable[str]) -> str:
    return ", ".join('"' + column.replace('"', '""') + '"' for column in columns)


def present(relation, wanted: Iterable[str], prefixes: tuple[str, ...] = ()) -> list[str]:
    """The wanted columns the relation has (or starting with a prefix), in its order."""
    wanted = set(wanted)
    return [c for c in relation.columns if c in wanted or (prefixes and c.startswith(prefixes))]


def read(relation, columns: Iterable[str], where: str | None = None) -> pd.DataFrame:
    """Some rows and columns of a relation as pandas, typed as ``relation.df()`` types them."""
    if where:
        relation = relation.filter(where)
    return relation.project(quoted(columns)).df()


def batches(relation, batch_rows: int) -> Iterator[pd.DataFrame]:
    """The relation's rows, ``batch_rows`` at a time (the last batch fewer), in its order.

    DuckDB streams the result as Arrow; each batch is turned into pandas by DuckDB, so it
    has the types ``relation.df()`` would give. Batch boundaries depend only on the row
    order, not on how DuckDB happened to chunk the stream."""
    converter = duckdb.connect()
    pending: list[pa.RecordBatch] = []
    held = 0
    for record_batch in relation.to_arrow_reader(batch_rows):
        pending.append(record_batch)
        held += record_batch.num_rows
        while held >= batch_rows:
            table = pa.Table.from_batches(pending)
            yield converter.from_arrow(table.slice(0, batch_rows)).df()
            pending, held = table.slice(batch_rows).to_batches(), held - batch_rows
    if held:
        yield converter.from_arrow(pa.Table.from_batches(pending)).df()
