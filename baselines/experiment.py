"""``python -m baselines.experiment``: runs :mod:`pa_envs.experiments.experiment`."""

from pa_envs.experiments.experiment import main

if __name__ == "__main__":
    main()
