"""Buy-till-you-die baselines (PyMC-Marketing, MAP fits) from snapshot features.

Each fit uses only one cutoff's snapshot rows, whose features were computed
from data strictly before that cutoff, so a BTYD score at cutoff c never sees
anything on or after c.

The churn score is P(no purchase in the horizon), never 1 - P(alive): P(alive)
is 1 for every one-time buyer in BG/NBD, so 1 - P(alive) ranks them as the
safest customers (AUC 0.34 on CDNOW).

Time is measured in weeks, as in the BTYD literature (better-conditioned fits).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)

DAYS_PER_WEEK = 7.0
BTYD_KINDS = ("bg_nbd", "pareto_nbd")

# dbt runs Python models in threads of one process. Concurrent PyTensor
# compilations there contend for its compile-directory lock (a build took 311 s
# instead of 69 s), so BTYD work is serialised process-wide.
_PYTENSOR_LOCK = threading.RLock()


def _configure_pytensor() -> None:
    """Keep PyTensor's compile cache in a stable folder (first compile ~50 s, then ~5 s)."""
    if "compiledir" not in os.environ.get("PYTENSOR_FLAGS", ""):
        home = Path(os.environ.get("RETENTION_HOME", Path.cwd()))
        cache = home / ".cache" / "pytensor"
        cache.mkdir(parents=True, exist_ok=True)
        flags = os.environ.get("PYTENSOR_FLAGS", "")
        os.environ["PYTENSOR_FLAGS"] = ",".join(filter(None, [flags, f"compiledir={cache}"]))


def rfm_from_snapshots(snapshots: pd.DataFrame) -> pd.DataFrame:
    """(customer_id, frequency, recency, T, monetary_value) in weeks, per snapshot row.

    frequency = repeat purchase days; T = first purchase day to cutoff;
    recency = first to last purchase day. monetary_value is the mean revenue
    per purchase day (the first purchase included: the snapshot keeps no
    per-order history, a documented approximation for Gamma-Gamma).
    """
    needed = ["customer_id", "order_days_count", "days_since_first_order", "days_since_last_order"]
    missing = [c for c in needed if c not in snapshots.columns]
    if missing:
        raise ValueError(f"snapshots lack {missing}; BTYD needs purchase history features")
    frame = pd.DataFrame(
        {
            "customer_id": np.arange(len(snapshots)),
            "frequency": snapshots["order_days_count"].to_numpy(dtype=float) - 1.0,
            "T": snapshots["days_since_first_order"].to_numpy(dtype=float) / DAYS_PER_WEEK,
        }
    )
    frame["recency"] = (
        snapshots["days_since_first_order"].to_numpy(dtype=float)
        - snapshots["days_since_last_order"].to_numpy(dtype=float)
    ) / DAYS_PER_WEEK
    if "revenue_total" in snapshots.columns:
        days = snapshots["order_days_count"].to_numpy(dtype=float)
        frame["monetary_value"] = snapshots["revenue_total"].to_numpy(dtype=float) / np.maximum(
            days, 1.0
        )
    if (frame["frequency"] < 0).any() or frame[["T", "recency"]].isna().any().any():
        raise ValueError("BTYD needs at least one purchase per row (eligible purchase snapshots)")
    return frame


def _library_class(kind: str):
    from pymc_marketing.clv import BetaGeoModel, ParetoNBDModel

    return BetaGeoModel if kind == "bg_nbd" else ParetoNBDModel


class CompiledMap:
    """A BTYD model's MAP objective, compiled once per process and kind.

    PyMC-Marketing's MAP fit builds the model with the customers' data as graph constants,
    then rewrites, differentiates and compiles it (pm.find_MAP) on every call: at 100k
    customers most of a fit's time, some of it compiling C again for the new constants
    (BENCHMARKS.md, "Churn model cost"). Here the same model (the library's
    default priors and likelihood distribution) holds its data in pm.Data containers, so
    one compiled log-density and gradient serve every fit: a fit swaps the data and runs
    find_MAP's optimisation (L-BFGS-B from the model's initial point, at most 5000
    evaluations). tests/python/test_btyd.py holds its estimates to the library's own fit.
    """

    def __init__(self, kind: str):
        import pymc as pm
        from pymc.blocking import DictToArrayBijection
        from pymc.initial_point import make_initial_point_fn

        self.model = _map_graph(kind)
        self.start = make_initial_point_fn(
            model=self.model, jitter_rvs=set(), return_transformed=True
        )(None)
        values = {v.name: v for v in self.model.continuous_value_vars}
        self.x0 = DictToArrayBijection.map({k: v for k, v in self.start.items() if k in values})
        self._rvs = [self.model.values_to_rvs[values[name]] for name, *_ in self.x0.point_map_info]
        self._set_data = pm.set_data
        self.kind = kind
        self._compile_checked()

    def _compile(self) -> None:
        from pymc.blocking import DictToArrayBijection

        self._logp = DictToArrayBijection.mapf(self.model.compile_logp(jacobian=False), self.start)
        self._dlogp = DictToArrayBijection.mapf(
            self.model.compile_dlogp(self._rvs, jacobian=False), self.start
        )

    def _compile_checked(self) -> None:
        """Compile, then evaluate both functions once at the initial point. Pareto/NBD's
        gradient holds an element-wise loop with more operands than NumPy's Python fallback
        takes, so it runs only as compiled C: when that compilation fails for a passing
        reason (a module another process left half-written in the shared cache), PyTensor
        falls back anyway and the first evaluation raises "'Scratchpad' object has no
        attribute 'ufunc'" (pymc-marketing issue 1760; seen once in eight demo builds
        here). One recompilation; a second failure stops with where the cache is."""
        from pymc.blocking import RaveledVars

        point = RaveledVars(self.x0.data, self.x0.point_map_info)
        for attempt in (1, 2):
            self._compile()
            try:
                self._logp(point)
                self._dlogp(point)
                return
            except AttributeError as error:
                if attempt == 2:
                    import pytensor

                    raise RuntimeError(
                        f"the {self.kind} objective compiled without its C code twice "
                        f"({error}); delete PyTensor's cache ({pytensor.config.compiledir}) "
                        "and build again"
                    ) from error
                log.warning("btyd: %s objective failed its first evaluation (%s); "
                            "compiling it again", self.kind, error)  # fmt: skip

    def solve(self, data: pd.DataFrame) -> dict[str, np.ndarray]:
        """The MAP point (transformed value variables, as find_MAP's) for these customers."""
        from pymc.blocking import DictToArrayBijection, RaveledVars
        from pymc.tuning.starting import CostFuncWrapper
        from scipy.optimize import minimize

        observed = np.stack((data["recency"], data["frequency"]), axis=1).astype(float)
        self._set_data(
            {"T": data["T"].to_numpy(dtype=float), "observed": observed}, model=self.model
        )
        info = self.x0.point_map_info
        cost = CostFuncWrapper(
            5000,
            False,
            logp_func=lambda x: self._logp(RaveledVars(x, info)),
            dlogp_func=lambda x: self._dlogp(RaveledVars(x, info)),
        )
        try:
            optimum = minimize(cost, self.x0.data, method="L-BFGS-B", jac=True)["x"]
        except StopIteration:  # find_MAP's evaluation budget: keep the last finite point
            optimum = cost.previous_x
        return DictToArrayBijection.rmap(RaveledVars(optimum, info), self.start)


def _map_graph(kind: str):
    """The library's model (default priors, no covariates) with its data in containers."""
    import pymc as pm
    from pymc_marketing.clv.distributions import BetaGeoNBD, ParetoNBD

    config = _library_class(kind)().model_config
    if config.get("purchase_covariate_cols") or config.get("dropout_covariate_cols"):
        raise ValueError("CompiledMap mirrors the library's model without covariates")
    with pm.Model() as model:
        T = pm.Data("T", np.ones(2))
        observed = pm.Data("observed", np.zeros((2, 2)))
        # Variables in the library's order (the optimiser's parameter vector follows it).
        alpha = config["alpha"].create_variable("alpha")
        if kind == "bg_nbd":
            phi = config["phi_dropout"].create_variable("phi_dropout")
            kappa = config["kappa_dropout"].create_variable("kappa_dropout")
            a = pm.Deterministic("a", phi * kappa)
            b = pm.Deterministic("b", (1.0 - phi) * kappa)
            r = config["r"].create_variable("r")
            BetaGeoNBD("recency_frequency", a=a, b=b, r=r, alpha=alpha, T=T, observed=observed)
        else:
            beta = config["beta"].create_variable("beta")
            r = config["r"].create_variable("r")
            s = config["s"].create_variable("s")
            ParetoNBD("recency_frequency", r=r, alpha=alpha, s=s, beta=beta, T=T, observed=observed)
    return model


_COMPILED: dict[str, CompiledMap] = {}


def compiled_map(kind: str) -> CompiledMap:
    """The process's CompiledMap of this kind (built on first use; callers hold the lock)."""
    if kind not in _COMPILED:
        _COMPILED[kind] = CompiledMap(kind)
    return _COMPILED[kind]


@functools.cache
def _reusing_class(kind: str):
    """The library's model class, fitted by MAP through the process's CompiledMap. Only
    the optimisation changes: the library still builds its own model (no compilation),
    and turns the MAP point into its InferenceData exactly as its _fit_MAP does, so
    scoring, the registry's pickles and load_from_idata see a library model."""
    base = _library_class(kind)

    class ReusingCompiledMap(base):
        def _fit_MAP(self, **kwargs):
            return _map_inference_data(self.model, compiled_map(kind).solve(self.data))

    ReusingCompiledMap.__name__ = f"{base.__name__}CompiledMap"
    return ReusingCompiledMap


def _map_inference_data(model, point: dict[str, np.ndarray]):
    """A MAP point as InferenceData (one chain, one draw), as PyMC-Marketing's _fit_MAP."""
    import pymc as pm
    from pymc.backends.base import MultiTrace
    from pymc.backends.ndarray import NDArray

    names = {v.name for v in model.value_vars}
    trace = NDArray(model=model)
    trace.setup(draws=1, chain=0)
    trace.record({k: v for k, v in point.items() if k in names}, in_warmup=False)
    trace.close()
    return pm.to_inference_data(MultiTrace([trace]), model=model)


@dataclass
class BtydScores:
    p_no_purchase: np.ndarray
    expected_purchases: np.ndarray
    p_alive: np.ndarray


class BtydModel:
    """A BG/NBD or Pareto/NBD model fitted by MAP on one cutoff's customers."""

    def __init__(self, kind: str = "bg_nbd"):
        if kind not in BTYD_KINDS:
            raise ValueError(f"kind must be one of {BTYD_KINDS}, got {kind!r}")
        self.kind = kind

    def fit(self, rfm: pd.DataFrame, max_customers: int | None = None) -> BtydModel:
        """MAP fit. Above `max_customers` rows, fit on a deterministic sample of them (the
        parameters describe the population; every customer is scored with them)."""
        _configure_pytensor()
        data = rfm[["customer_id", "frequency", "recency", "T"]].copy()
        if max_customers is not None and len(data) > max_customers:
            keep = np.random.default_rng(0).choice(len(data), size=max_customers, replace=False)
            data = data.iloc[np.sort(keep)]
        with _PYTENSOR_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            logging.getLogger("pymc").setLevel(logging.ERROR)
            self.model_ = _reusing_class(self.kind)()
            self.model_.fit(data=data, method="map", progressbar=False)
        posterior = self.model_.idata.posterior
        self.params_ = {
            name: float(posterior[name].mean())
            for name in posterior.data_vars
            if posterior[name].ndim == 2
        }
        return self

    def _model_class(self):
        return _library_class(self.kind)

    # PyMC models do not pickle (their graphs hold local functions), so the registry stores
    # the fitted InferenceData and rebuilds the model from it (PyMC-Marketing's own load path).
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        model = state.pop("model_", None)
        if model is not None:
            state["_idata"] = model.idata
        return state

    def __setstate__(self, state: dict) -> None:
        idata = state.pop("_idata", None)
        self.__dict__.update(state)
        if idata is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.model_ = self._model_class().load_from_idata(idata)
                self.model_.build_model()

    def _expected_no_purchase(self, data: pd.DataFrame, t: float):
        if self.kind == "bg_nbd":
            return self.model_.expected_probability_no_purchase(t=t, data=data)
        return self.model_.expected_purchase_probability(data=data, n_purchases=0, future_t=t)

    def score(self, rfm: pd.DataFrame, horizon_days: float) -> BtydScores:
        data = rfm[["customer_id", "frequency", "recency", "T"]].copy()
        t = horizon_days / DAYS_PER_WEEK
        with _PYTENSOR_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p0 = self._expected_no_purchase(data, t)
            expected = self.model_.expected_purchases(data=data, future_t=t)
            alive = self.model_.expected_probability_alive(data=data)
        return BtydScores(
            p_no_purchase=np.clip(_posterior_mean(p0), 0.0, 1.0),
            expected_purchases=_posterior_mean(expected),
            p_alive=np.clip(_posterior_mean(alive), 0.0, 1.0),
        )

    def p_no_purchase(self, rfm: pd.DataFrame, horizon_days: float) -> np.ndarray:
        """score(...).p_no_purchase alone, without the other two expectations."""
        data = rfm[["customer_id", "frequency", "recency", "T"]].copy()
        with _PYTENSOR_LOCK, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p0 = self._expected_no_purchase(data, horizon_days / DAYS_PER_WEEK)
        return np.clip(_posterior_mean(p0), 0.0, 1.0)


def _posterior_mean(array) -> np.ndarray:
    return np.asarray(array.mean(("chain", "draw")).values, dtype=float)


def customer_lifetime_value(
    transaction_model: BtydModel, rfm: pd.DataFrame, horizon_days: float
) -> np.ndarray:
    """Gamma-Gamma spend x BG/NBD expected purchases over the horizon (undiscounted).

    Customers without a repeat purchase get the population mean spend. A customer
    whose spend is unknown (an order without an amount: monetary_value is NaN) gets
    NaN, never a guess; with no amount at all, a ValueError says so.
    """
    from pymc_marketing.clv import GammaGammaModel

    if "monetary_value" not in rfm.columns or rfm["monetary_value"].isna().all():
        raise ValueError("CLV needs order amounts, and no order has one (order_total)")
    known = rfm["monetary_value"].notna().to_numpy()
    repeaters = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
    if len(repeaters) < 20:
        raise ValueError(f"Gamma-Gamma needs repeat buyers with spend; found {len(repeaters)}")
    gamma_gamma = GammaGammaModel()
    with _PYTENSOR_LOCK, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gamma_gamma.fit(
            data=repeaters[["customer_id", "frequency", "monetary_value"]],
            method="map",
            progressbar=False,
        )
        spend = gamma_gamma.expected_customer_spend(
            data=rfm.loc[known, ["customer_id", "frequency", "monetary_value"]].assign(
                monetary_value=lambda f: f["monetary_value"].clip(lower=0.01)
            )
        )
    spend_per_purchase = np.full(len(rfm), np.nan)
    spend_per_purchase[known] = np.asarray(spend.mean(("chain", "draw")).values, dtype=float)
    expected = transaction_model.score(rfm, horizon_days).expected_purchases
    return spend_per_purchase * expected
