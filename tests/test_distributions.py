"""The shared discrete laws: the binary-search draw equals the comparison count, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from pa_envs.core.distributions import binomial_cdf_table, draw_from_cdf, draw_from_cdf_table, pmf_from_cdf


@pytest.mark.parametrize(("n_max", "p"), [(240, 0.2), (7, 0.5), (1, 0.3), (0, 0.5), (12, 0.0), (12, 1.0)])
def test_binary_search_draw_equals_the_comparison_count(n_max, p):
    table = binomial_cdf_table(n_max, p)
    generator = np.random.default_rng(0)
    rows = generator.integers(0, n_max + 1, 20_000)
    uniforms = generator.random(20_000)
    uniforms[:50] = 0.0
    uniforms[50:100] = np.nextafter(1.0, 0.0)
    assert np.array_equal(draw_from_cdf(table[rows], uniforms), draw_from_cdf_table(table, rows, uniforms))


def test_binomial_table_rows_are_laws():
    table = binomial_cdf_table(30, 0.3)
    pmf = pmf_from_cdf(table)
    np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(pmf >= 0)
    np.testing.assert_allclose(pmf @ np.arange(31), 0.3 * np.arange(31), atol=1e-9)
