"""``python -m baselines.train_sb3``: runs :mod:`pa_envs.experiments.train_sb3`."""

from pa_envs.experiments.train_sb3 import main

if __name__ == "__main__":
    main()
