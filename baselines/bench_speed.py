"""``python -m baselines.bench_speed``: runs :mod:`pa_envs.experiments.bench_speed`."""

from pa_envs.experiments.bench_speed import main

if __name__ == "__main__":
    main()
