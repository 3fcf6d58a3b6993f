"""Customer segments: KMeans on behaviour at as_of_date, with stable ids and human names."""

from retention.segments.model import SegmentRun, SegmentSettings, fit_segments
from retention.segments.pipeline import run_segmentation, segment_profiles, segmentation_rows
from retention.segments.store import SegmentStore

__all__ = [
    "SegmentRun",
    "SegmentSettings",
    "SegmentStore",
    "fit_segments",
    "run_segmentation",
    "segment_profiles",
    "segmentation_rows",
]
