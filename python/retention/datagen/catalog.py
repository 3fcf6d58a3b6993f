"""The product catalogue: categories, fake brands, lognormal prices and a popularity sampler."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from retention.datagen.params import CATEGORIES, ModelParams

_SYLLABLES = (
    "ka", "lo", "mi", "ra", "ve", "to", "zen", "qu", "ar", "li", "no", "sa", "vi", "dor", "el",
    "mar", "tri", "os", "ne", "bri",
)  # fmt: skip
_SUFFIXES = ("", "", "", " Co", " Labs", " & Sons", " Works", " Studio")


def catalog_size(customers: int, model: ModelParams) -> int:
    """Number of products for a dataset of ``customers`` customers."""
    size = round(customers * model.products_per_customer)
    return int(np.clip(size, model.products_min, model.products_max))


def _brand_names(rng: np.random.Generator, count: int) -> list[str]:
    names: list[str] = []
    seen: set[str] = set()
    while len(names) < count:
        parts = rng.choice(len(_SYLLABLES), size=rng.integers(2, 4))
        stem = "".join(_SYLLABLES[i] for i in parts).capitalize()
        name = stem + _SUFFIXES[rng.integers(len(_SUFFIXES))]
        if stem not in seen:
            seen.add(stem)
            names.append(name)
    return names


@dataclass(frozen=True)
class Catalog:
    """Products (index ``i`` has product number ``i + 1``) and a popularity-weighted sampler."""

    category: np.ndarray  # int8 category index per product
    brand: np.ndarray  # int32 index into brand_names
    brand_names: list[str]
    price_cents: np.ndarray  # int64
    popularity: np.ndarray  # float64 lognormal weight: how often the product is picked
    sorted_products: np.ndarray  # product indices sorted by category
    sorted_keys: np.ndarray  # category + cumulative popularity share within the category

    @property
    def size(self) -> int:
        return len(self.category)

    @classmethod
    def build(cls, rng: np.random.Generator, n_products: int, model: ModelParams) -> Catalog:
        n_cat = len(CATEGORIES)
        weights = np.array([c.weight for c in CATEGORIES])
        category = np.concatenate(
            [
                np.arange(n_cat),
                rng.choice(n_cat, size=n_products - n_cat, p=weights / weights.sum()),
            ]
        ).astype(np.int8)
        rng.shuffle(category)
        brand_names = _brand_names(rng, n_cat * model.brands_per_category)
        # brands within a category are skewed: a few big ones, a long tail
        brand_w = 1.0 / np.arange(1, model.brands_per_category + 1)
        brand_in_cat = rng.choice(
            model.brands_per_category, size=n_products, p=brand_w / brand_w.sum()
        )
        brand = (category.astype(np.int32) * model.brands_per_category + brand_in_cat).astype(
            np.int32
        )
        median = np.array([c.price_median for c in CATEGORIES])[category]
        sigma = np.array([c.price_sigma for c in CATEGORIES])[category]
        raw = np.exp(np.log(median) + sigma * rng.standard_normal(n_products))
        # "charm" prices: x.99 above 5, plain cents below
        cents = np.where(raw >= 5.0, np.floor(raw) * 100 + 99, np.round(raw * 100))
        price_cents = np.maximum(cents, 49).astype(np.int64)

        popularity = np.exp(model.popularity_sigma * rng.standard_normal(n_products))
        order = np.lexsort((np.arange(n_products), category))
        cat_sorted = category[order].astype(np.float64)
        pop_sorted = popularity[order]
        totals = np.bincount(category, weights=popularity, minlength=n_cat)
        cum = np.cumsum(pop_sorted)
        starts = np.searchsorted(cat_sorted, np.arange(n_cat))
        before = np.concatenate([[0.0], cum])[starts]  # cumulative popularity before each category
        within = (cum - before[category[order]]) / totals[category[order]]
        within[np.append(starts[1:] - 1, n_products - 1)] = 1.0  # exact category ends
        return cls(
            category=category,
            brand=brand,
            brand_names=brand_names,
            price_cents=price_cents,
            popularity=popularity,
            sorted_products=order.astype(np.int32),
            sorted_keys=cat_sorted + within,
        )

    def pick(self, rng: np.random.Generator, categories: np.ndarray) -> np.ndarray:
        """Draw one product per requested category, proportionally to popularity."""
        keys = categories.astype(np.float64) + rng.random(len(categories))
        idx = np.searchsorted(self.sorted_keys, keys, side="left")
        return self.sorted_products[np.minimum(idx, len(self.sorted_products) - 1)]
