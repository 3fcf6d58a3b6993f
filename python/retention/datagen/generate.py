"""Orchestration: simulate customer chunks, format, corrupt (optionally) and write them.

Memory is bounded by the chunk: each chunk of customers is simulated block by block, turned
into Arrow tables, written (one Parquet part per chunk, or appended to the CSV files) and
released before the next one starts.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from retention import __version__
from retention.datagen.campaigns import CampaignPlan
from retention.datagen.catalog import Catalog, catalog_size
from retention.datagen.defects import DefectInjector
from retention.datagen.params import (
    BLOCK_CUSTOMERS,
    CAMPAIGN_TABLES,
    OFFERS,
    TABLES,
    GeneratorConfig,
)
from retention.datagen.simulate import BlockData, SimContext, concat_blocks, simulate_block
from retention.datagen.tables import (
    Counters,
    IdWidths,
    as_strings,
    campaign_id_width,
    chunk_tables,
    contact_id_width,
    contacts_tables,
    customer_staples_truth_table,
    customers_truth_table,
    products_table,
    products_truth_table,
)
from retention.datagen.timeline import Window
from retention.datagen.writer import CsvSink, ParquetSink, Sink

PARAMS_FILE = "generation_params.json"


@dataclass
class GenerationSummary:
    """What a run wrote."""

    rows: dict[str, int]
    files: list[Path]
    seconds: float
    defects: dict[str, dict[str, int]] = field(default_factory=dict)
    tz_offset_timestamps: dict[str, int] = field(default_factory=dict)
    truth_dir: Path | None = None

    def format(self) -> str:
        """A short human-readable report."""
        lines = [f"generated {len(self.files)} files in {self.seconds:.1f} s"]
        lines += [f"  {name:<12} {rows:>13,} rows" for name, rows in self.rows.items()]
        n_defects = sum(sum(v.values()) for v in self.defects.values())
        if n_defects:
            lines.append(f"  defects injected: {n_defects:,}")
        if self.truth_dir is not None:
            lines.append(f"  ground truth: {self.truth_dir}")
        return "\n".join(lines)


def _chunks(n_customers: int, blocks_per_chunk: int) -> Iterator[list[tuple[int, int, int]]]:
    """Chunks as lists of ``(block_index, first_customer_number, n_customers)``."""
    n_blocks = -(-n_customers // BLOCK_CUSTOMERS)
    for first in range(0, n_blocks, blocks_per_chunk):
        yield [
            (b, b * BLOCK_CUSTOMERS + 1, min(BLOCK_CUSTOMERS, n_customers - b * BLOCK_CUSTOMERS))
            for b in range(first, min(first + blocks_per_chunk, n_blocks))
        ]


def _segments(blocks: list[tuple[int, BlockData]]) -> dict[str, list[tuple[int, int]]]:
    """Rows per block of each customer-dependent table (for block-wise defect injection)."""
    return {
        "customers": [(b, d.n_customers) for b, d in blocks],
        "orders": [(b, d.n_orders) for b, d in blocks],
        "order_items": [(b, d.item_order.size) for b, d in blocks],
        "events": [(b, d.ev_time.size) for b, d in blocks],
    }


def _remove_stale_defects(truth_root: Path) -> None:
    """Drop the defects table of an earlier run into the same folder (this run has none)."""
    (truth_root / "defects.csv").unlink(missing_ok=True)
    for part in (truth_root / "defects").glob("part-*.parquet"):
        part.unlink()


def _sinks(config: GeneratorConfig) -> tuple[Sink, Sink | None]:
    truth_root = config.truth_path
    if truth_root is not None and config.defect_rate == 0:
        _remove_stale_defects(truth_root)
    if config.format == "parquet":
        return ParquetSink(config.out), ParquetSink(truth_root) if truth_root else None
    prefix = "raw_" if config.seed_files else ""
    # dbt seed stores seed files in the warehouse, which never stores a raw email
    # (README, "Privacy"): seed files leave the address out.
    left_out = {"customers": ("email",)} if config.seed_files else {}
    names = (*TABLES, *CAMPAIGN_TABLES)
    data = CsvSink(config.out, {name: f"{prefix}{name}.csv" for name in names}, left_out)
    return data, CsvSink(truth_root, {}) if truth_root else None


def _params_json(
    config: GeneratorConfig, n_products: int, widths: IdWidths, summary: GenerationSummary
) -> str:
    window = Window(config.start, config.end)
    doc = {
        "generator": "retention.datagen",
        "package_version": __version__,
        "seed": config.seed,
        "customers": config.customers,
        "start": config.start.isoformat(),
        "end": config.end.isoformat(),
        "window_utc": [
            f"{config.start.isoformat()} 00:00:00",
            f"{config.end.isoformat()} 23:59:59",
        ],
        "window_epoch_seconds": [window.start_ts, window.end_ts],
        "format": config.format,
        "seed_files": config.seed_files,
        "defect_rate": config.defect_rate,
        "events_scale": config.events_scale,
        "chunk_customers": config.chunk_customers,
        "block_customers": BLOCK_CUSTOMERS,
        "n_products": n_products,
        "id_widths": dataclasses.asdict(widths),
        "model": dataclasses.asdict(config.model),
        "rows": summary.rows,
        "defects": summary.defects,
        "defects_total": sum(sum(v.values()) for v in summary.defects.values()),
        "tz_offset_timestamps": summary.tz_offset_timestamps,
        "tz_offset_timestamps_total": sum(summary.tz_offset_timestamps.values()),
    }
    if config.campaigns > 0:  # absent otherwise: a run without campaigns is unchanged
        doc["campaigns"] = _campaigns_json(config)
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def _campaigns_json(config: GeneratorConfig) -> dict:
    plan = CampaignPlan.build(
        Window(config.start, config.end), config.campaigns, config.campaign_params
    )
    width = campaign_id_width(config.campaigns)
    offer_names = list(OFFERS)
    return {
        "count": config.campaigns,
        "campaigns": [
            {
                "campaign_id": f"C{k + 1:0{width}d}",
                "date": day.isoformat(),
                "offers": [offer_names[j] for j in plan.offers[k]],
            }
            for k, day in enumerate(plan.dates)
        ],
        "offers": {name: dataclasses.asdict(offer) for name, offer in OFFERS.items()},
        "params": dataclasses.asdict(config.campaign_params),
        "contact_id_width": contact_id_width(config.customers, config.campaigns),
        "random_stream": "default_rng([seed, 5, block])",
    }


def generate(config: GeneratorConfig) -> GenerationSummary:
    """Generate the dataset described by ``config``; returns what was written."""
    config.validate()
    began = time.perf_counter()
    model = config.model
    window = Window(config.start, config.end)
    n_products = catalog_size(config.customers, model)
    catalog = Catalog.build(np.random.default_rng([config.seed, 0]), n_products, model)
    plan = CampaignPlan.build(window, config.campaigns, config.campaign_params)
    ctx = SimContext.build(config.seed, window, model, catalog, config.events_scale, campaigns=plan)
    widths = IdWidths.for_size(config.customers, n_products)
    writer = _Writer(config, widths)

    products = products_table(catalog, widths)
    product_ids = products.column("product_id").combine_chunks()
    writer.emit("products", products, [(0, products.num_rows)])
    if writer.truth is not None:
        writer.truth.write("products_truth", products_truth_table(ctx.assortment, widths))

    counters = Counters()
    n_chunks = -(-config.customers // (BLOCK_CUSTOMERS * config.blocks_per_chunk))
    progress = tqdm(
        _chunks(config.customers, config.blocks_per_chunk),
        total=n_chunks,
        unit="chunk",
        desc="generate",
        file=sys.stderr,
        disable=config.quiet,
    )
    for chunk in progress:
        _write_chunk(writer, ctx, chunk, counters, widths, product_ids)
    progress.close()
    summary = writer.close(counters, n_products)
    summary.seconds = time.perf_counter() - began
    return summary


class _Writer:
    """The data and truth sinks, with defects injected on the way (defect_rate > 0)."""

    def __init__(self, config: GeneratorConfig, widths: IdWidths):
        self.config, self.widths = config, widths
        self.data, self.truth = _sinks(config)
        self.injector = (
            DefectInjector(
                config.seed, config.defect_rate, config.model.tz_offset_share, widths.order
            )
            if config.defect_rate > 0
            else None
        )
        self.rows = dict.fromkeys(config.tables, 0)
        self.defect_parts: list[pa.Table] = []

    def emit(self, name: str, table: pa.Table, segments: list[tuple[int, int]]) -> None:
        if self.injector is not None:
            table, found = self.injector.apply(name, as_strings(table), segments)
            self.defect_parts.append(found)
        self.data.write(name, table)
        self.rows[name] += table.num_rows

    def emit_clean(self, name: str, table: pa.Table) -> None:
        """Write a table the defect injector leaves alone (``contacts``); strings only in
        defect mode, like every other table then."""
        if self.injector is not None:
            table = as_strings(table)
        self.data.write(name, table)
        self.rows[name] += table.num_rows

    def flush_defects(self) -> None:
        if self.truth is not None and self.injector is not None:
            self.truth.write("defects", pa.concat_tables(self.defect_parts))
        self.defect_parts.clear()

    def close(self, counters: Counters, n_products: int) -> GenerationSummary:
        config, injector = self.config, self.injector
        files = self.data.close()
        if injector is not None and counters.order > injector.lowest_orphan_number:
            raise RuntimeError("orphan order ids collide with real ones: widen IdWidths.order")
        summary = GenerationSummary(
            rows=self.rows, files=files, seconds=0.0, truth_dir=config.truth_path
        )
        if injector is not None:
            for (table, cls), count in sorted(injector.defect_counts.items()):
                summary.defects.setdefault(table, {})[cls] = count
            summary.tz_offset_timestamps = dict(sorted(injector.tz_counts.items()))
        if self.truth is not None and config.truth_path is not None:
            files += self.truth.close()
            params = config.truth_path / PARAMS_FILE
            params.write_text(_params_json(config, n_products, self.widths, summary))
            files.append(params)
        return summary


def _write_chunk(writer: _Writer, ctx: SimContext, chunk, counters, widths, product_ids) -> None:
    """Simulate a chunk of blocks and write its customers, orders, lines and events."""
    blocks = [(b, simulate_block(ctx, b, first, n)) for b, first, n in chunk]
    segments = _segments(blocks)
    data = concat_blocks([d for _, d in blocks])
    del blocks
    tables = chunk_tables(data, counters, widths, product_ids)
    config = writer.config
    if config.campaigns > 0:
        contacts, contacts_truth = contacts_tables(
            data,
            counters,
            widths,
            contact_id_width(config.customers, config.campaigns),
            campaign_id_width(config.campaigns),
            config.campaign_params.channel,
        )
    if writer.truth is not None:
        writer.truth.write("customers_truth", customers_truth_table(data, widths))
        writer.truth.write(
            "customer_staples_truth", customer_staples_truth_table(data, widths, product_ids)
        )
    del data
    for name in ("customers", "orders", "order_items", "events"):
        writer.emit(name, tables.pop(name), segments[name])
    writer.flush_defects()
    if config.campaigns > 0:
        writer.emit_clean("contacts", contacts)
        if writer.truth is not None:
            writer.truth.write("contacts_truth", contacts_truth)
