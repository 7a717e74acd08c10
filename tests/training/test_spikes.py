import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from fourlens.training.spikes import detect_spikes, trailing_median_mad


def test_trailing_window_matches_direct_computation():
    rng = np.random.default_rng(0)
    values = rng.normal(size=300)
    medians, sigmas = trailing_median_mad(values, 20)
    for i in (20, 57, 299):
        window = values[i - 20:i]
        assert np.isclose(medians[i], np.median(window))
        assert np.isclose(sigmas[i], 1.4826 * np.median(np.abs(window - np.median(window))))
    assert np.isnan(medians[:20]).all()


def test_finds_a_planted_spike_and_its_recovery():
    rng = np.random.default_rng(1)
    values = 2.0 + rng.normal(0, 0.02, 500)
    values[300:304] = 9.0
    events = detect_spikes(pd.Series(values, index=np.arange(500) * 10, name="loss"))
    assert len(events) == 1
    event = events[0]
    assert (event.start_step, event.end_step, event.recovered_step) == (3000, 3030, 3040)
    assert event.ratio > 4 and event.confidence > 0.999


def test_no_spikes_in_pure_noise():
    rng = np.random.default_rng(2)
    series = pd.Series(rng.normal(5, 0.1, 5_000), name="loss")
    assert detect_spikes(series) == []


def test_unrecovered_divergence():
    values = np.concatenate([np.full(100, 1.0) + np.linspace(0, 0.01, 100), np.full(50, 7.0)])
    events = detect_spikes(pd.Series(values, name="loss"))
    assert len(events) == 1 and events[0].recovered_step is None


def test_screened_detector_flags_exactly_what_the_full_mad_flags():
    from fourlens.training.spikes import _screened_z

    rng = np.random.default_rng(3)
    values = np.abs(rng.standard_t(3, 20_000)) + 1.0   # heavy tails: many near-threshold points
    values[rng.integers(100, 20_000, 40)] *= rng.uniform(2, 20, 40)
    for window, threshold in ((6, 3.0), (20, 4.0), (50, 6.0), (51, 3.0)):
        medians, sigmas = trailing_median_mad(values, window)
        sigmas = np.maximum(sigmas, 1e-3 * np.abs(medians))
        with np.errstate(invalid="ignore"):
            exact = np.nan_to_num((values - medians) / sigmas, nan=0.0) > threshold
        z, fast_medians, fast_sigmas = _screened_z(values, window, threshold, 1e-3)
        assert exact.sum() > 10
        np.testing.assert_array_equal(np.nan_to_num(z, nan=0.0) > threshold, exact)
        np.testing.assert_allclose(fast_medians[exact], medians[exact])
        np.testing.assert_allclose(fast_sigmas[exact], sigmas[exact])


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 64), st.floats(1.0, 8.0), st.integers(0, 2**32 - 1), st.booleans())
def test_screen_never_misses_a_spike_the_full_mad_finds(window, threshold, seed, ties):
    from fourlens.training.spikes import _screened_z

    rng = np.random.default_rng(seed)
    values = rng.integers(0, 4, 400).astype(float) if ties else rng.standard_t(2, 400)
    values[rng.integers(window, 400, 10)] += rng.uniform(1, 30, 10)
    medians, sigmas = trailing_median_mad(values, window)
    sigmas = np.maximum(sigmas, 1e-3 * np.abs(medians))
    with np.errstate(invalid="ignore", divide="ignore"):
        exact = np.nan_to_num((values - medians) / sigmas, nan=0.0) > threshold
    z, _, _ = _screened_z(values, window, threshold, 1e-3)
    np.testing.assert_array_equal(np.nan_to_num(z, nan=0.0) > threshold, exact)
