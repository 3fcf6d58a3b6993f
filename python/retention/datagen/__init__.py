"""Synthetic e-commerce data with known ground truth (``retention generate``).

A buy-till-you-die simulation (BG/NBD-like purchases, fading engagement before dropout,
seasonal sessions with a browsing funnel) written in the warehouse's input contract, in bounded
memory, optionally with injected defects and (``campaigns=N``) past randomized retention
campaigns with known true effects. See ``docs/demo_data.md``.

Example::

    from retention.datagen import GeneratorConfig, generate
    summary = generate(GeneratorConfig(customers=1000, seed=1, out=Path("data/demo")))
"""

from retention.datagen.generate import GenerationSummary, generate
from retention.datagen.params import (
    BLOCK_CUSTOMERS,
    TABLE_COLUMNS,
    TABLES,
    CampaignParams,
    GeneratorConfig,
    ModelParams,
)

__all__ = [
    "BLOCK_CUSTOMERS",
    "TABLES",
    "TABLE_COLUMNS",
    "CampaignParams",
    "GenerationSummary",
    "GeneratorConfig",
    "ModelParams",
    "generate",
]
