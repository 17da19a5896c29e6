"""Property-based tests: every input ends in a documented error or a valid result."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import bayesmix as bm
from bayesmix.data.validate import as_observations, check_n_components
from bayesmix.model import start_values
from bayesmix.sampling import SAMPLERS

scalars = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=5),
    st.none(),
    st.booleans(),
    st.complex_numbers(max_magnitude=10),
)
ragged = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6), max_leaves=20)
arrays = hnp.arrays(
    dtype=st.one_of(
        hnp.floating_dtypes(),
        hnp.integer_dtypes(),
        hnp.boolean_dtypes(),
        hnp.complex_number_dtypes(),
        hnp.unicode_string_dtypes(max_len=3),
    ),
    shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=5),
)


def check_observations(y: np.ndarray) -> None:
    assert y.dtype == np.float64 and y.ndim == 1 and y.size >= 1
    assert np.isfinite(y).all() and np.ptp(y) > 0


@given(st.one_of(ragged, arrays))
@settings(max_examples=300, deadline=None)
def test_any_input_is_accepted_or_rejected_clearly(data: object) -> None:
    try:
        y = as_observations(data)
    except (TypeError, ValueError) as err:
        assert str(err).startswith("data ")  # names the argument
        return
    check_observations(y)


@given(
    st.one_of(st.integers(-5, 50), st.floats(), st.text(max_size=3), st.none(), st.booleans()),
    st.integers(1, 20),
)
@settings(max_examples=200, deadline=None)
def test_n_components_is_an_int_in_range_or_an_error(k: object, n: int) -> None:
    try:
        out = check_n_components(k, n)
    except (TypeError, ValueError) as err:
        assert "n_components=" in str(err)
        return
    assert isinstance(out, int) and 1 <= out <= n


prior_values = st.one_of(
    st.none(), st.floats(), st.integers(-3, 3), st.sampled_from([1e-300, 1e300, -0.0])
)


@given(prior_values, prior_values, prior_values, st.one_of(st.floats(), st.just(1.0)))
@settings(max_examples=200, deadline=None)
def test_priors_are_valid_or_rejected(
    loc: object, scale: object, sigma: object, alpha: object
) -> None:
    try:
        p = bm.Priors(
            weights_concentration=alpha,
            mu_loc=loc,
            mu_scale=scale,  # type: ignore[arg-type]
            sigma_scale=sigma,
        )
    except (TypeError, ValueError) as err:
        assert "=" in str(err)  # names the argument and echoes the value
        return
    resolved = p.resolve([0.0, 1.0, 3.0])
    for value in (
        resolved.mu_loc,
        resolved.mu_scale,
        resolved.sigma_scale,
        resolved.weights_concentration,
    ):
        assert value is not None and math.isfinite(value)


@st.composite
def hard_data(draw: st.DrawFn) -> tuple[np.ndarray, int]:
    """Valid data at extreme scales and offsets, with heavy ties, and a valid K."""
    n = draw(st.integers(2, 40))
    distinct = draw(st.integers(2, n))
    base = draw(hnp.arrays(np.float64, distinct, elements=st.floats(-10, 10), unique=True))
    y = draw(st.sampled_from([1e-9, 1e-3, 1.0, 1e3, 1e9])) * np.resize(base, n)
    y = y + draw(st.sampled_from([0.0, -1e6, 1e9]))
    k = draw(st.integers(1, min(n, 6)))
    return y, k


@given(hard_data())
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_model_starts_at_a_finite_log_density(case: tuple[np.ndarray, int]) -> None:
    y, k = case
    try:
        spec = bm.MixtureSpec.from_data(y, k)
    except ValueError as err:  # e.g. an offset that makes the values constant in float64
        assert "constant" in str(err)
        return
    start = start_values(as_observations(y), spec)
    assert np.all(np.diff(start["mu_z"]) > 0)
    assert np.all(start["sigma_z"] > 0) and start["weights"].sum() == pytest.approx(1.0)
    model = bm.build_model(y, spec)
    point = {}
    for rv in model.free_RVs:
        value = start[rv.name]
        transform = model.rvs_to_transforms[rv]
        point[model.rvs_to_values[rv].name] = (
            transform.forward(value).eval() if transform else value
        )
    assert np.isfinite(model.compile_logp()(point))


bad_options = st.one_of(
    st.fixed_dictionaries(
        {"draws": st.one_of(st.integers(-5, 0), st.floats(), st.text(max_size=2))}
    ),
    st.fixed_dictionaries({"tune": st.one_of(st.integers(-5, -1), st.floats(0.5, 2.5))}),
    st.fixed_dictionaries({"chains": st.one_of(st.integers(-3, 0), st.none())}),
    st.fixed_dictionaries(
        {"target_accept": st.one_of(st.floats(max_value=0.0), st.floats(min_value=1.0))}
    ),
    st.fixed_dictionaries({"sampler": st.text(max_size=6).filter(lambda s: s not in SAMPLERS)}),
    st.fixed_dictionaries(
        {"random_seed": st.one_of(st.integers(max_value=-1), st.text(max_size=2), st.floats())}
    ),
)


@given(bad_options)
@settings(max_examples=100, deadline=None)
def test_bad_fit_options_fail_before_sampling(options: dict[str, object]) -> None:
    with pytest.raises((TypeError, ValueError)) as info:
        bm.fit([0.0, 1.0, 2.0, 5.0], 2, progressbar=False, **options)  # type: ignore[arg-type]
    assert f"{next(iter(options))}=" in str(info.value)


class _WouldSample(Exception):
    """Raised instead of sampling: the input got past every check."""


candidates = st.one_of(
    st.lists(
        st.one_of(st.integers(-3, 40), st.floats(), st.text(max_size=2), st.none()), max_size=5
    ),  # fmt: skip
    st.integers(),
    st.text(max_size=3),
    st.none(),
    st.just(range(0)),
)


@given(st.one_of(ragged, arrays), candidates)
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_compare_rejects_bad_data_and_candidates_clearly(data: object, ks: object) -> None:
    """bm.compare: every input is rejected with a message naming the argument, or fitted."""
    from bayesmix.sampling import comparison

    def would_sample(*args: object, **kwargs: object) -> None:
        raise _WouldSample

    original = comparison.fit_components
    comparison.fit_components = would_sample  # type: ignore[assignment]
    try:
        bm.compare(data, ks, progressbar=False)  # type: ignore[arg-type]
    except _WouldSample:
        y = as_observations(data)
        assert all(1 <= int(k) <= y.size for k in ks)  # type: ignore[union-attr]
    except (TypeError, ValueError) as err:
        assert str(err).startswith(("data ", "n_components")), str(err)
    finally:
        comparison.fit_components = original
