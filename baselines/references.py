"""``python -m baselines.references``: runs :mod:`pa_envs.experiments.references`."""

from pa_envs.experiments.references import main

if __name__ == "__main__":
    main()
