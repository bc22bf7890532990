"""``python -m pa_envs.experiments.harness``: the harness's command (as ``pa-envs harness``)."""

from pa_envs.experiments.harness.cli import main

main()
