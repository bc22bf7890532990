"""The experiments, training and benchmark code that the ``pa-envs`` command runs.

- :mod:`~pa_envs.experiments.harness`: benchmark algorithms over envs x principals x agent
  learners x seeds (``pa-envs harness``).
- :mod:`~pa_envs.experiments.train_sb3`: train SB3 agents, or the principal, against a
  mechanism (``pa-envs train``); :mod:`~pa_envs.experiments.sb3_tools`: what they share.
- :mod:`~pa_envs.experiments.experiment`: the main experiment (``pa-envs demo``).
- :mod:`~pa_envs.experiments.references`: every env's exact references (``pa-envs references``).
- :mod:`~pa_envs.experiments.bench_speed`: the performance benchmark (``pa-envs bench``).
- :mod:`~pa_envs.experiments.scores`: the scores the experiment and the harness share.
- :mod:`~pa_envs.experiments.common`: the command lines' parser, types and progress bar.

They need the ``sb3`` / ``experiments`` extras. The scripts of the repository's ``baselines/``
folder (``python -m baselines.harness`` ...) call these modules; that folder is not installed.
"""
