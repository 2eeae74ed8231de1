"""The byte-bounded caches of the web tier (ui.resources.Bounded): a student's model can be
twenty times another's, so a bound on entries alone does not bound memory."""

from __future__ import annotations

import pytest

from ui.resources import RUN_MODELS, SHIPPED_MODELS, Bounded


def test_a_cache_keeps_its_bytes_and_its_entries_under_their_bounds():
    made: list[str] = []

    def value(key: str, size: int):
        def make():
            made.append(key)
            return b"x" * size

        return make

    cache = Bounded(max_entries=4, max_bytes=1000, size=len)
    for key in "abcd":  # Small ones: the entry bound holds (each weighs at least 250).
        cache.get(key, value(key, 10))
    assert len(cache) == 4
    cache.get("e", value("e", 10))
    assert len(cache) == 4 and cache.nbytes <= 1000
    cache.get("big", value("big", 700))  # Evicts the least recently used to fit.
    assert cache.nbytes <= 1000 and len(cache) == 2
    assert cache.get("big", value("big", 700)) == b"x" * 700
    assert made.count("big") == 1  # Served from the cache the second time.
    huge = cache.get("huge", value("huge", 5000))  # Over the whole budget: served, not kept.
    assert len(huge) == 5000 and cache.nbytes <= 1000
    cache.get("huge", value("huge", 5000))
    assert made.count("huge") == 2


def test_a_failed_load_is_not_cached():
    cache = Bounded(max_entries=2, max_bytes=100, size=len)

    def broken():
        raise LookupError("no model")

    for _ in range(2):
        with pytest.raises(LookupError):
            cache.get("run", broken)
    assert len(cache) == 0


def test_the_model_caches_weigh_models_by_their_bundles():
    from core.ml import served

    model = served.load_shipped("vanilla")
    assert model.nbytes > 100_000
    for cache in (SHIPPED_MODELS, RUN_MODELS):
        assert cache.cache.getsizeof(model) >= model.nbytes
