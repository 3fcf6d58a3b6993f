"""Row-for-row comparison of two versions of a table (pandas frames), in words.

Used by the Spark parity check (tests/spark/parity.py: DuckDB against Spark) and by
benchmarks/compare_builds.py (a build before a change against one after it). Rows are
matched whatever their order; keys, text, integers, booleans and dates must be equal,
floats equal within a tolerance (sums in another order differ in the last bits).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FLOAT_RTOL = 1e-9
FLOAT_ATOL = 1e-9


def kind(series: pd.Series) -> str:
    """A type family both sides agree on, whatever engine or driver made the frame."""
    by_dtype = _dtype_kind(series.dtype)
    if by_dtype:
        return by_dtype
    values = series.dropna()
    return "null" if values.empty else _value_kind(values.iloc[0])


def _dtype_kind(dtype) -> str | None:
    if pd.api.types.is_bool_dtype(dtype):
        return "bool"
    if pd.api.types.is_integer_dtype(dtype):
        return "int"
    if pd.api.types.is_float_dtype(dtype):
        return "float"
    if pd.api.types.is_datetime64_any_dtype(dtype):
        return "datetime"
    return None


def _value_kind(sample) -> str:
    """The family of an object column, from its first value."""
    if isinstance(sample, bool | np.bool_):
        return "bool"
    if isinstance(sample, int | np.integer):
        return "int"
    if isinstance(sample, float | np.floating):
        return "float"
    if type(sample).__name__ == "Decimal":
        return "decimal"
    if hasattr(sample, "isoformat"):
        return "datetime"
    return "text"


def normalise(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    kinds = {column: kind(frame[column]) for column in frame.columns}
    out = {}
    for column, k in kinds.items():
        values = frame[column]
        if k in ("float", "decimal"):
            out[column] = pd.to_numeric(values.astype(object), errors="raise").astype("float64")
        elif k == "int":
            try:
                out[column] = values.astype("Int64")
            except (TypeError, ValueError, OverflowError):  # e.g. uint64 beyond int64
                out[column] = values.astype(object).where(values.notna(), None)
        elif k == "bool":
            out[column] = values.astype("boolean")
        elif k == "datetime":
            out[column] = pd.to_datetime(values).astype("datetime64[us]")
        else:
            out[column] = values.astype(object).where(values.notna(), None)
    return pd.DataFrame(out), kinds


def numeric_family(k: str) -> str:
    return "number" if k in ("int", "float", "decimal") else k


def _sorted_text(series: pd.Series) -> list[str]:
    return sorted("\0" if pd.isna(v) else str(v) for v in series)


def _aligned(
    left: pd.DataFrame, right: pd.DataFrame, exact: list[str], floats: list[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Both frames sorted the same way: on the exact columns, then on rounded floats. A
    column whose values differ as a whole (its sorted values differ) is left out of the
    sort, so it does not misalign the others."""
    order = [c for c in exact if _sorted_text(left[c]) == _sorted_text(right[c])]
    order += [f"__round_{c}" for c in floats]

    def sort(frame: pd.DataFrame) -> pd.DataFrame:
        rounded = pd.DataFrame(
            {f"__round_{c}": frame[c].round(6) for c in floats}, index=frame.index
        )
        keyed = pd.concat([frame, rounded], axis=1)
        if order:
            keyed = keyed.sort_values(order, na_position="first", kind="stable")
        return keyed.reset_index(drop=True)

    return sort(left), sort(right)


def _cell_differences(
    left: pd.DataFrame,
    right: pd.DataFrame,
    exact: list[str],
    floats: list[str],
    rtol: float,
    atol: float,
) -> list[str]:
    problems = []
    for column in exact:
        a, b = left[column], right[column]
        same = (a.isna() & b.isna()) | (a.astype(object) == b.astype(object)).fillna(False)
        if not same.all():
            bad = np.flatnonzero(~same.to_numpy(dtype=bool))
            examples = [f"{a.iloc[i]!r} vs {b.iloc[i]!r}" for i in bad[:3]]
            problems.append(f"column {column}: {len(bad)} rows differ, e.g. {'; '.join(examples)}")
    for column in floats:
        a, b = left[column].to_numpy(), right[column].to_numpy()
        same = np.isclose(a, b, rtol=rtol, atol=atol, equal_nan=True)
        if not same.all():
            bad = np.flatnonzero(~same)
            diff = np.nanmax(np.abs(a[bad] - b[bad])) if len(bad) else 0.0
            examples = [f"{a[i]!r} vs {b[i]!r}" for i in bad[:3]]
            problems.append(
                f"column {column}: {len(bad)} rows differ (max abs diff {diff:.3g}), "
                f"e.g. {'; '.join(examples)}"
            )
    return problems


def frame_differences(
    left: pd.DataFrame,
    right: pd.DataFrame,
    labels: tuple[str, str] = ("left", "right"),
    ignore_columns: frozenset[str] | set[str] = frozenset(),
    rtol: float = FLOAT_RTOL,
    atol: float = FLOAT_ATOL,
) -> list[str]:
    """Differences between two versions of a table, in words (empty = identical).

    Column names are compared case-insensitively. A column on one side only is reported and
    the shared columns are still compared cell by cell, so an added column shows as the
    only difference. ``ignore_columns`` must exist on both sides but their values are not
    compared (run metadata such as a build timestamp).
    """
    left, right = left.copy(), right.copy()
    left.columns = [c.lower() for c in left.columns]
    right.columns = [c.lower() for c in right.columns]
    problems = []
    only_left = sorted(set(left.columns) - set(right.columns))
    only_right = sorted(set(right.columns) - set(left.columns))
    if only_left or only_right:
        # reported; the shared columns are still compared below
        problems.append(
            f"columns only in {labels[0]} {only_left}, only in {labels[1]} {only_right}"
        )
    columns = [c for c in left.columns if c in right.columns and c not in ignore_columns]
    if len(left) != len(right):
        problems.append(f"{len(left)} rows in {labels[0]}, {len(right)} in {labels[1]}")
        return problems
    left, left_kinds = normalise(left[columns])
    right, right_kinds = normalise(right[columns])
    kinds_differ = False
    for column in columns:
        a, b = left_kinds[column], right_kinds[column]
        if "null" not in (a, b) and numeric_family(a) != numeric_family(b):
            problems.append(f"column {column}: {a} in {labels[0]}, {b} in {labels[1]}")
            kinds_differ = True
    if kinds_differ:
        return problems
    floats = [c for c in columns if left[c].dtype == "float64" or right[c].dtype == "float64"]
    exact = [c for c in columns if c not in floats]
    for frame in (left, right):
        for column in floats:
            frame[column] = frame[column].astype("float64")
    left, right = _aligned(left, right, exact, floats)
    return problems + _cell_differences(left, right, exact, floats, rtol, atol)
