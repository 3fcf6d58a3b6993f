"""KMeans customer segments with stable identities.

fit_segments() (README of the package: docs/segments.md):

1. Take the as-of rows (one per customer) and a deterministic fit sample: the
   `fit_sample_size` customers with the smallest seeded hash of their id, so
   the sample is random, independent of row order, and mostly the same
   customers from one run to the next.
2. Transform the behaviour features (features.py) and fit KMeans for every k
   in [k_min, k_max]; silhouette on the first `silhouette_sample_size` rows of
   the sample. The best k wins, but the previous run's k is kept while its
   silhouette is within `k_tolerance` of the best (no flip-flopping on noise).
3. When the previous run had the same k and features, KMeans is also started
   from its centroids; that solution is kept unless it is more than
   `inertia_tolerance` worse than the fresh one. Segments then move only when
   the data does.
4. New centroids are matched to the previous run's (linear_sum_assignment on
   the distance between standardised centroids); a match closer than
   `max_match_distance` keeps its segment id and name. Other segments get new
   ids (never reused) and rule-based names (naming.py).
5. Ward clustering on a small sample is reported next to KMeans (silhouette
   and adjusted Rand index): a sanity check, not deployed.

SegmentRun.assign() then labels any number of customers in batches.
"""

from __future__ import annotations

import hashlib
import logging
from copy import deepcopy
from dataclasses import asdict, dataclass, field, fields

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.metrics import (
    adjusted_rand_score,
    pairwise_distances,
    pairwise_distances_argmin_min,
    silhouette_score,
)
from threadpoolctl import threadpool_limits

from retention import __version__
from retention.segments.features import (
    ROLE_OF,
    FeatureTransform,
    available_features,
    unknown_spend,
)
from retention.segments.naming import (
    NAME_RULES,
    Profile,
    assign_names,
    describe,
    midrank_percentile,
)

log = logging.getLogger("retention.segments")

ASSIGNMENT_COLUMNS = [
    "customer_id",
    "as_of_date",
    "segment_id",
    "segment_name",
    "distance_to_centroid",
    "segment_run_id",
]


@dataclass
class SegmentSettings:
    k_min: int = 3
    k_max: int = 8
    fit_sample_size: int = 20_000
    silhouette_sample_size: int = 5_000
    hierarchical_sample_size: int = 2_000
    batch_size: int = 100_000
    seed: int = 42
    n_init: int = 10
    k_tolerance: float = 0.01
    inertia_tolerance: float = 0.02
    max_match_distance: float = 1.0
    horizon_days: float = 90.0  # the churn horizon: unit of the recency bands in the names
    # BLAS/OpenMP threads. KMeans on a busy 2-core machine (dbt runs models in
    # parallel) was ~10x slower with all cores than with one: it spins.
    threads: int = 1

    @classmethod
    def from_config(cls, config: dict | None) -> SegmentSettings:
        """From dbt model config values, which may arrive as strings."""
        settings = cls()
        for f in fields(cls):
            value = (config or {}).get(f.name)
            if value is None or value == "":
                continue
            kind = type(getattr(settings, f.name))
            setattr(settings, f.name, int(float(value)) if kind is int else float(value))
        if settings.k_min < 2 or settings.k_max < settings.k_min:
            raise ValueError(
                "segment k range must satisfy 2 <= k_min <= k_max "
                f"(got {settings.k_min}..{settings.k_max})"
            )
        for name in (
            "fit_sample_size",
            "silhouette_sample_size",
            "hierarchical_sample_size",
            "batch_size",
            "n_init",
            "threads",
        ):
            if getattr(settings, name) < 1:
                raise ValueError(f"segment setting {name} must be positive")
        return settings


@dataclass
class FitSummary:
    """What a run was fitted on."""

    as_of_date: str | None
    fit_rows: int  # customers in the fit sample
    customers: int  # customers at as_of_date
    data_fingerprint: str
    population_means: dict[str, float]  # per role, on the fit sample


@dataclass
class KChoice:
    """How k and the deployed centroids were chosen, and the Ward sanity check."""

    k: int
    k_reason: str
    init: str  # "k-means++" or "previous centroids" (warm start)
    silhouettes: dict[int, float]  # fresh KMeans per k, on the silhouette sample
    deployed_silhouette: float | None  # the deployed centroids (warm start may differ)
    inertia: float
    hierarchical: dict


@dataclass
class SegmentTable:
    """One entry per segment, in segment id order."""

    segment_ids: list[int]
    names: list[str]
    descriptions: list[str]
    centroids: np.ndarray  # k x d, clustering space
    percentiles: list[dict[str, float]]  # per role: the centroid's population percentile
    bands: list[str]  # active | lapsing | lapsed | gone (recency in horizons)
    member_means: list[dict[str, float]]  # per role, on the fit sample
    sample_sizes: list[int]  # members in the fit sample


@dataclass
class Lineage:
    """The run's place among runs: what it was matched to, the ids used so far."""

    previous_run_id: str | None
    matching: list[dict]
    max_segment_id: int


# The run record's keys, in the order run.json has always had them.
RECORD_FIELDS = (
    ("run_id", None),
    ("as_of_date", "fit"),
    ("settings", None),
    ("transform", None),
    ("k", "choice"),
    ("k_reason", "choice"),
    ("init", "choice"),
    ("silhouettes", "choice"),
    ("deployed_silhouette", "choice"),
    ("inertia", "choice"),
    ("centroids", "segments"),
    ("segment_ids", "segments"),
    ("names", "segments"),
    ("descriptions", "segments"),
    ("percentiles", "segments"),
    ("bands", "segments"),
    ("member_means", "segments"),
    ("population_means", "fit"),
    ("sample_sizes", "segments"),
    ("fit_rows", "fit"),
    ("customers", "fit"),
    ("hierarchical", "choice"),
    ("matching", "lineage"),
    ("previous_run_id", "lineage"),
    ("max_segment_id", "lineage"),
    ("data_fingerprint", "fit"),
    ("package_version", None),
    ("extras", None),
)
GROUPS = {"fit": FitSummary, "choice": KChoice, "segments": SegmentTable, "lineage": Lineage}


@dataclass
class SegmentRun:
    """One fitted segmentation: everything needed to assign, name and compare."""

    run_id: str
    settings: dict
    transform: FeatureTransform
    fit: FitSummary
    choice: KChoice
    segments: SegmentTable
    lineage: Lineage
    package_version: str = __version__
    extras: dict = field(default_factory=dict)

    # ---------- derived
    @property
    def features(self) -> list[str]:
        return self.transform.columns

    @property
    def silhouette(self) -> float | None:
        return self.choice.deployed_silhouette

    def centroids_original(self) -> np.ndarray:
        return self.transform.to_original(self.segments.centroids)

    def centroids_frame(self) -> pd.DataFrame:
        frame = pd.DataFrame(self.centroids_original(), columns=self.features)
        frame.insert(0, "segment_name", self.segments.names)
        frame.insert(0, "segment_id", self.segments.segment_ids)
        return frame

    # ---------- assignment
    def assign(self, snapshots: pd.DataFrame, batch_size: int | None = None) -> pd.DataFrame:
        """Nearest centroid for every customer, `batch_size` rows at a time."""
        frame = as_of_rows(snapshots)
        batch = int(batch_size or self.settings.get("batch_size") or 100_000)
        ids = np.asarray(self.segments.segment_ids)
        names = np.asarray(self.segments.names, dtype=object)
        parts = []
        for start in range(0, len(frame), batch):
            chunk = frame.iloc[start : start + batch]
            index, distance = nearest(self.transform.transform(chunk), self.segments.centroids)
            parts.append(
                pd.DataFrame(
                    {
                        "customer_id": chunk["customer_id"].astype(str).to_numpy(),
                        "as_of_date": _as_of_values(chunk),
                        "segment_id": ids[index],
                        "segment_name": names[index],
                        "distance_to_centroid": distance,
                        "segment_run_id": self.run_id,
                    }
                )
            )
        if not parts:
            return empty_assignments()
        return pd.concat(parts, ignore_index=True)[ASSIGNMENT_COLUMNS]

    # ---------- persistence: one flat record, the same keys as ever (older runs load)
    def to_dict(self) -> dict:
        data = {}
        for name, group in RECORD_FIELDS:
            value = getattr(getattr(self, group) if group else self, name)
            data[name] = deepcopy(value)
        data["transform"] = self.transform.to_dict()
        data["centroids"] = self.segments.centroids.tolist()
        data["centroids_original"] = self.centroids_original().tolist()
        data["features"] = self.features
        data["silhouettes"] = {str(k): v for k, v in self.choice.silhouettes.items()}
        data["silhouette"] = self.silhouette
        data["name_rules"] = [
            {"name": r.name, "condition": r.condition, "ranking": r.ranking} for r in NAME_RULES
        ]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> SegmentRun:
        data = dict(data)
        data["centroids"] = np.asarray(data["centroids"], dtype=float)
        data["silhouettes"] = {int(k): v for k, v in data["silhouettes"].items()}
        data.setdefault("bands", ["unknown"] * len(data["segment_ids"]))  # older records
        groups = {
            group: kind(**{n: data[n] for n, g in RECORD_FIELDS if g == group})
            for group, kind in GROUPS.items()
        }
        top = {n: data[n] for n, g in RECORD_FIELDS if g is None and n in data}
        top["transform"] = FeatureTransform.from_dict(data["transform"])
        return cls(**top, **groups)


# ---------- helpers


def empty_assignments() -> pd.DataFrame:
    """No customers, with the column types of a real assignment table."""
    types = {
        "customer_id": "object",
        "as_of_date": "datetime64[s]",
        "segment_id": "int64",
        "segment_name": "object",
        "distance_to_centroid": "float64",
        "segment_run_id": "object",
    }
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in types.items()})


def as_of_rows(snapshots: pd.DataFrame) -> pd.DataFrame:
    """The scoring rows (one per customer), sorted by customer id."""
    frame = snapshots
    if "is_scoring_cutoff" in frame.columns:
        frame = frame[frame["is_scoring_cutoff"].astype(bool)]
    if "customer_id" not in frame.columns:
        raise ValueError("segmentation needs a customer_id column")
    frame = frame.assign(customer_id=frame["customer_id"].astype(str))
    if frame["customer_id"].duplicated().any():
        raise ValueError("segmentation expects one as-of row per customer")
    return frame.sort_values("customer_id", kind="stable").reset_index(drop=True)


def _as_of_values(frame: pd.DataFrame):
    if "as_of_date" not in frame.columns:
        return pd.Series([pd.NaT] * len(frame)).to_numpy()
    return pd.to_datetime(frame["as_of_date"]).dt.date.to_numpy()


def nearest(points: np.ndarray, centroids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and Euclidean distance to the nearest centroid (ties: lowest index)."""
    return pairwise_distances_argmin_min(points, centroids, metric="euclidean")


def sample_order(customer_ids: pd.Series, seed: int) -> np.ndarray:
    """Positions in a seeded pseudo-random order that depends only on the ids."""
    key = f"segments{int(seed) % 10**8:08d}"  # hash_pandas_object wants 16 characters
    hashed = pd.util.hash_pandas_object(customer_ids.astype(str), index=False, hash_key=key)
    return np.argsort(hashed.to_numpy(), kind="stable")


def fingerprint(frame: pd.DataFrame, columns: list[str], settings: SegmentSettings) -> str:
    digest = hashlib.sha1()
    # Batch size and threads do not change results, so they do not change the id.
    relevant = {k: v for k, v in asdict(settings).items() if k not in ("batch_size", "threads")}
    digest.update(repr(sorted(relevant.items())).encode())
    digest.update(repr(columns).encode())
    digest.update(__version__.encode())
    hashed = pd.util.hash_pandas_object(frame[["customer_id", *columns]], index=False)
    digest.update(hashed.to_numpy().tobytes())
    return digest.hexdigest()


def planned_run_id(snapshots: pd.DataFrame, settings: SegmentSettings) -> str:
    """The run id fit_segments() will give these rows (content-derived)."""
    frame = as_of_rows(snapshots)
    columns = [spec.column for spec in available_features(frame)]
    return f"seg-{fingerprint(frame, columns, settings)[:12]}"


def _kmeans(x: np.ndarray, k: int, settings: SegmentSettings, init=None) -> KMeans:
    if init is None:
        model = KMeans(n_clusters=k, n_init=settings.n_init, random_state=settings.seed)
    else:
        model = KMeans(n_clusters=k, init=init, n_init=1, random_state=settings.seed)
    return model.fit(x)


def _previous_in_space(previous: SegmentRun, transform: FeatureTransform):
    """Previous centroids in this run's space, on the features both runs share."""
    common = [c for c in transform.columns if c in previous.features]
    if not common:
        return common, None
    original = pd.DataFrame(previous.centroids_original(), columns=previous.features)
    return common, transform.subset(common).to_space(original[common].to_numpy(dtype=float))


def match_centroids(
    centroids: np.ndarray,
    transform: FeatureTransform,
    previous: SegmentRun | None,
    max_distance: float,
) -> list[dict]:
    """The optimal one-to-one pairing of new and previous centroids (Hungarian
    algorithm on their distance in this run's standardised space, over the
    features both runs share). A pair closer than `max_distance` is a match.
    Every new and every previous segment appears once: unpaired ones (k changed)
    with the other side None."""
    if previous is None:
        return []

    def row(new_index, old_index, distance=None, matched=False) -> dict:
        return {
            "new_index": new_index,
            "old_segment_id": None
            if old_index is None
            else int(previous.segments.segment_ids[old_index]),
            "old_segment_name": None if old_index is None else previous.segments.names[old_index],
            "distance": None if distance is None else round(float(distance), 6),
            "matched": bool(matched),
        }

    common, old = _previous_in_space(previous, transform)
    rows, paired_new, paired_old = [], set(), set()
    if old is not None:
        new = centroids[:, [transform.columns.index(c) for c in common]]
        cost = pairwise_distances(new, old, metric="euclidean")
        for i, j in zip(*linear_sum_assignment(cost), strict=True):
            rows.append(row(int(i), int(j), cost[i, j], cost[i, j] <= max_distance))
            paired_new.add(int(i))
            paired_old.add(int(j))
    rows += [row(i, None) for i in range(len(centroids)) if i not in paired_new]
    rows += [row(None, j) for j in range(len(previous.segments.segment_ids)) if j not in paired_old]
    return rows


def _choose_k(silhouettes: dict[int, float], previous: SegmentRun | None, tolerance: float):
    best = max(silhouettes, key=lambda k: (silhouettes[k], -k))
    kept = None if previous is None else previous.choice.k
    if (
        kept is not None
        and kept in silhouettes
        and kept != best
        and silhouettes[kept] >= silhouettes[best] - tolerance
    ):
        return kept, (
            f"kept the previous k={kept} (silhouette {silhouettes[kept]:.3f} within "
            f"{tolerance} of the best, k={best} at {silhouettes[best]:.3f})"
        )
    return best, f"highest silhouette ({silhouettes[best]:.3f})"


def _hierarchical(x: np.ndarray, kmeans_labels: np.ndarray, k: int, size: int) -> dict:
    """Ward on the first `size` sample rows, compared with KMeans on the same rows."""
    n = min(size, len(x))
    if n <= k or k < 2:
        return {
            "method": "ward",
            "k": k,
            "sample_rows": n,
            "silhouette": None,
            "kmeans_silhouette": None,
            "adjusted_rand_index": None,
        }
    rows, km = x[:n], kmeans_labels[:n]
    ward = AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(rows)
    return {
        "method": "ward",
        "k": k,
        "sample_rows": n,
        "silhouette": _silhouette(rows, ward),
        "kmeans_silhouette": _silhouette(rows, km),
        "adjusted_rand_index": float(adjusted_rand_score(km, ward)),
    }


def _silhouette(x: np.ndarray, labels: np.ndarray) -> float | None:
    if len(np.unique(labels)) < 2 or len(np.unique(labels)) >= len(x):
        return None
    return float(silhouette_score(x, labels))


# ---------- fit


def fit_segments(
    snapshots: pd.DataFrame,
    settings: SegmentSettings | dict | None = None,
    previous: SegmentRun | None = None,
) -> SegmentRun:
    """Fit segments on a sample of the as-of customers (see module docstring)."""
    if not isinstance(settings, SegmentSettings):
        settings = SegmentSettings.from_config(settings)
    with threadpool_limits(settings.threads):
        return _fit(snapshots, settings, previous)


def _fit(
    snapshots: pd.DataFrame, settings: SegmentSettings, previous: SegmentRun | None
) -> SegmentRun:
    """The steps: sample and transform, choose k and fit, profile, identify, record."""
    data = _FitData.prepare(snapshots, settings)
    model, choice = _cluster(data.x, settings, previous, data.transform)
    centroids, labels = model.cluster_centers_, model.labels_
    profiles = _profile(data, centroids, labels, choice.k, settings.horizon_days)
    ids, names, matching = _identify(centroids, data.transform, previous, settings, profiles)
    choice.hierarchical = _hierarchical(data.x, labels, choice.k, settings.hierarchical_sample_size)
    log.info(
        "ward on %s rows: silhouette %s vs kmeans %s, adjusted Rand index %s",
        choice.hierarchical["sample_rows"],
        _fmt(choice.hierarchical["silhouette"]),
        _fmt(choice.hierarchical["kmeans_silhouette"]),
        _fmt(choice.hierarchical["adjusted_rand_index"]),
    )
    by_id = sorted(range(choice.k), key=lambda i: ids[i])  # present segments in id order
    previous_max = previous.lineage.max_segment_id if previous else 0
    return SegmentRun(
        run_id=f"seg-{data.fingerprint[:12]}",
        settings=asdict(settings),
        transform=data.transform,
        fit=data.summary(profiles.population_means),
        choice=choice,
        segments=SegmentTable(
            segment_ids=[int(ids[i]) for i in by_id],
            names=[names[i] for i in by_id],
            descriptions=[profiles.descriptions[i] for i in by_id],
            centroids=centroids[by_id],
            percentiles=[profiles.percentiles[i] for i in by_id],
            bands=[profiles.named[i].band for i in by_id],
            member_means=[profiles.member_means[i] for i in by_id],
            sample_sizes=[int(profiles.sizes[i]) for i in by_id],
        ),
        lineage=Lineage(
            previous_run_id=previous.run_id if previous else None,
            matching=matching,
            max_segment_id=max([int(i) for i in ids] + [previous_max]),
        ),
    )


@dataclass
class _FitData:
    """The as-of rows, the fit sample and its transform (step 1)."""

    frame: pd.DataFrame
    sample: pd.DataFrame
    transform: FeatureTransform
    x: np.ndarray  # the sample in clustering space
    fingerprint: str

    @classmethod
    def prepare(cls, snapshots: pd.DataFrame, settings: SegmentSettings) -> _FitData:
        frame = as_of_rows(snapshots)
        if len(frame) < 2:
            raise ValueError(
                f"segmentation needs at least 2 customers at as_of_date (got {len(frame)})"
            )
        specs = available_features(frame)
        if unknown_spend(frame):
            buyers = frame["orders_count"] > 0
            log.warning(
                "segments: spend (avg_order_value) left out - %d of %d buyers have an order "
                "without an amount (README, 'Orders without amounts')",
                int(frame.loc[buyers, "avg_order_value"].isna().sum()),
                int(buyers.sum()),
            )
        data_fingerprint = fingerprint(frame, [spec.column for spec in specs], settings)
        order = sample_order(frame["customer_id"], settings.seed)
        sample = frame.iloc[order[: settings.fit_sample_size]].reset_index(drop=True)
        transform = FeatureTransform.fit(sample, specs)
        return cls(frame, sample, transform, transform.transform(sample), data_fingerprint)

    def summary(self, population_means: dict[str, float]) -> FitSummary:
        as_of = _as_of_values(self.frame.iloc[:1])
        return FitSummary(
            as_of_date=str(as_of[0]) if len(as_of) and pd.notna(as_of[0]) else None,
            fit_rows=len(self.sample),
            customers=len(self.frame),
            data_fingerprint=self.fingerprint,
            population_means=population_means,
        )


def _cluster(
    x: np.ndarray,
    settings: SegmentSettings,
    previous: SegmentRun | None,
    transform: FeatureTransform,
) -> tuple[KMeans, KChoice]:
    """KMeans for every k, k by silhouette, then the warm start (steps 2 and 3)."""
    distinct = len(np.unique(np.round(x, 9), axis=0))
    k_max = min(settings.k_max, distinct - 1)
    k_min = min(settings.k_min, k_max)
    if k_max < 2:
        raise ValueError(f"segmentation needs at least 3 distinct customers (got {distinct})")
    n_sil = min(settings.silhouette_sample_size, len(x))
    fits, silhouettes = {}, {}
    for k in range(k_min, k_max + 1):
        fits[k] = _kmeans(x, k, settings)
        score = _silhouette(x[:n_sil], fits[k].labels_[:n_sil])
        silhouettes[k] = -1.0 if score is None else score  # undefined: never preferred
        log.info("k=%d: silhouette %.4f (inertia %.1f)", k, silhouettes[k], fits[k].inertia_)
    k, k_reason = _choose_k(silhouettes, previous, settings.k_tolerance)
    model, init = _warm_start(x, fits[k], settings, previous, transform)
    log.info("chose k=%d: %s", k, k_reason)
    choice = KChoice(
        k=k,
        k_reason=k_reason,
        init=init,
        silhouettes=silhouettes,
        deployed_silhouette=_silhouette(x[:n_sil], model.labels_[:n_sil]),
        inertia=float(model.inertia_),
        hierarchical={},
    )
    return model, choice


def _warm_start(
    x: np.ndarray,
    fresh: KMeans,
    settings: SegmentSettings,
    previous: SegmentRun | None,
    transform: FeatureTransform,
) -> tuple[KMeans, str]:
    """KMeans started from the previous centroids when the previous run had the same k
    and features; kept unless its inertia is more than inertia_tolerance worse."""
    k = fresh.n_clusters
    if (
        previous is None
        or previous.choice.k != k
        or set(previous.features) != set(transform.columns)
    ):
        return fresh, "k-means++"
    _, old = _previous_in_space(previous, transform)  # same features, same order
    warm = _kmeans(x, k, settings, init=old)
    kept = warm.inertia_ <= fresh.inertia_ * (1 + settings.inertia_tolerance)
    init = "previous centroids" if kept else "k-means++"
    log.info(
        "warm start from %s: inertia %.1f vs fresh %.1f -> %s",
        previous.run_id,
        warm.inertia_,
        fresh.inertia_,
        init,
    )
    return (warm if kept else fresh), init


@dataclass
class _Profiles:
    """Each centroid relative to the population (the fit sample), by role (step 4)."""

    percentiles: list[dict[str, float]]
    member_means: list[dict[str, float]]
    population_means: dict[str, float]
    sizes: list[int]
    named: list[Profile]  # what the naming rules read
    descriptions: list[str]


def _profile(
    data: _FitData, centroids: np.ndarray, labels: np.ndarray, k: int, horizon_days: float
) -> _Profiles:
    transform, sample = data.transform, data.sample
    raw = transform.raw(sample)
    unfilled = sample[transform.columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    sorted_columns = [np.sort(raw[:, j]) for j in range(raw.shape[1])]
    tolerances = 0.1 * raw.std(axis=0)  # within 0.1 sd: "practically equal" (a tie)
    original = transform.to_original(centroids)
    roles = [ROLE_OF[c] for c in transform.columns]
    percentiles = [
        {
            role: midrank_percentile(sorted_columns[j], original[i, j], tolerances[j])
            for j, role in enumerate(roles)
        }
        for i in range(k)
    ]
    population = {role: float(np.nanmean(unfilled[:, j])) for j, role in enumerate(roles)}
    members = [_member_means(unfilled[labels == i], roles) for i in range(k)]
    recency = original[:, transform.columns.index("days_since_last_order")]
    return _Profiles(
        percentiles=percentiles,
        member_means=members,
        population_means=population,
        sizes=np.bincount(labels, minlength=k).tolist(),
        named=[Profile(percentiles[i], float(recency[i]), horizon_days) for i in range(k)],
        descriptions=[describe(percentiles[i], members[i], population) for i in range(k)],
    )


def _member_means(members: np.ndarray, roles: list[str]) -> dict[str, float]:
    return {
        role: float(np.nanmean(members[:, j])) if np.isfinite(members[:, j]).any() else float("nan")
        for j, role in enumerate(roles)
    }


def _identify(
    centroids: np.ndarray,
    transform: FeatureTransform,
    previous: SegmentRun | None,
    settings: SegmentSettings,
    profiles: _Profiles,
) -> tuple[list[int], list[str], list[dict]]:
    """Ids and names: a centroid matched to the previous run keeps its segment's; the others
    get new ids, best value first, and rule-based names (step 5)."""
    k = len(centroids)
    matching = match_centroids(centroids, transform, previous, settings.max_match_distance)
    kept = {r["new_index"]: r for r in matching if r["matched"]}
    ids: list = [kept[i]["old_segment_id"] if i in kept else None for i in range(k)]
    names: list = [kept[i]["old_segment_name"] if i in kept else None for i in range(k)]
    fresh = [i for i in range(k) if i not in kept]

    def value(i: int) -> float:  # freshness + frequency + order value
        named = profiles.named[i]
        return -sum(named.level(r) or 0.0 for r in ("recency", "frequency", "monetary"))

    next_id = (previous.lineage.max_segment_id if previous else 0) + 1
    for offset, i in enumerate(sorted(fresh, key=lambda i: (value(i), i))):
        ids[i] = next_id + offset
    new_names = assign_names([profiles.named[i] for i in fresh], reserved={names[i] for i in kept})
    for i, name in zip(fresh, new_names, strict=True):
        names[i] = name
    for row in matching:
        index = row.pop("new_index")  # internal; the record speaks in segment ids
        row["new_segment_id"] = None if index is None else int(ids[index])
        row["new_segment_name"] = None if index is None else names[index]
    return ids, names, matching


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}"
