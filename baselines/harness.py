"""``python -m baselines.harness``: runs :mod:`pa_envs.experiments.harness.cli`."""

from pa_envs.experiments.harness.cli import main

if __name__ == "__main__":
    main()
