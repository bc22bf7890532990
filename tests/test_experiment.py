"""The main job's command: every principal, every horizon, regret fitted across them."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pa_envs.experiments import experiment


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    out = tmp_path_factory.mktemp("experiment")
    found = experiment.main(
        [
            "--env",
            "congestion_v0",
            "--horizons",
            "15,30,60",
            "--seeds",
            "2",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    return found, out


@pytest.mark.slow
def test_it_reports_every_principal_with_a_fitted_exponent(quick, capsys):
    found, out = quick
    table = found["table"]
    assert list(table) == list(experiment.PRINCIPALS)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["horizons"] == [15, 30, 60] and summary["seeds"] == [0, 1]
    for name, row in summary["principals"].items():
        assert np.array(row["regret"]).shape == (2, 3), name
        assert row["fit"] is None or set(row["fit"]) == {"alpha", "low", "high", "intercept"}
    assert (out / "regret.png").stat().st_size > 0 and (out / "welfare.png").stat().st_size > 0
    curves = np.load(out / "welfare.npz")
    assert curves["two_phase_by_horizon"].shape == (3, 2, 60) and curves["laissez_faire"].shape == (2, 60)
    # The regret still lost per episode at the end of each run, for the test of sublinearity.
    final = np.array(summary["principals"]["laissez-faire"]["final_regret_per_episode"])
    assert final.shape == (2, 3) and np.all(final > 0)


@pytest.mark.slow
def test_regret_is_read_after_each_horizons_own_run(quick):
    """A principal that does not depend on T runs once per seed: its R(T) are prefix sums; the
    two-phase mechanism runs once per T, each run ending after T episodes."""
    found, _ = quick
    setting = found["setting"]
    welfare = setting["welfare"]["laissez-faire"][-1]  # (seeds, max T)
    regret = experiment.regret_at(
        setting["welfare"]["laissez-faire"], setting["horizons"], setting["optimum"]
    )
    np.testing.assert_allclose(regret[:, 0], (setting["optimum"] - welfare[:, :15]).sum(axis=1))
    two_phase = setting["two_phase"]
    assert two_phase.schedule.total.tolist() == [t * 100 for t in (15, 30, 60) for _ in range(2)]
    # The two-phase regret at T comes from the run built for T (its own schedule), over its first T episodes.
    runs = setting["welfare"]["two-phase"]  # (H, seeds, max T)
    own = experiment.regret_at(runs, setting["horizons"], setting["optimum"])
    for h, t in enumerate(setting["horizons"]):
        np.testing.assert_allclose(own[:, h], (setting["optimum"] - runs[h, :, :t]).sum(axis=1))
    assert not np.allclose(runs[0, :, :15], runs[2, :, :15])  # another T, another schedule, another play
    np.testing.assert_allclose(found["table"]["two-phase"]["regret"], own)


def test_bad_arguments_are_usage_errors(capsys):
    for argv, message in (
        (["--horizons", "100"], "at least two"),
        (["--horizons", "100,x"], "comma-separated"),
        (["--seeds", "1"], "at least 2"),
        (["--env", "nope_v0"], "no env named"),
    ):
        with pytest.raises(SystemExit):
            experiment.main(argv)
        assert message in capsys.readouterr().err
