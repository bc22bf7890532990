"""Shared fixtures: every test that takes ``env_module`` runs once per registered env."""

from __future__ import annotations

import pytest

from pa_envs import ENVS

try:
    from hypothesis import settings
except ImportError:  # .ci/rllib's venv runs only the RLlib tests, without the dev extra
    settings = None
if settings is not None:
    # `make test` (the fast tier) runs with --hypothesis-profile=fast: each property test draws a
    # few examples per env instead of 30 (tests/test_properties.py); `make test-all` draws them all.
    settings.register_profile("fast", max_examples=5)


@pytest.fixture(params=sorted(ENVS))
def env_module(request):
    """Each registered env module in turn."""
    return ENVS[request.param]


@pytest.fixture(autouse=True, scope="session")
def sb3_log_folder(tmp_path_factory):
    """Tests that call SB3's ``learn`` with no logger set: SB3 then makes a folder in the
    temporary directory on each call, unless ``SB3_LOGDIR`` names one."""
    import os

    before = os.environ.get("SB3_LOGDIR")
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
    yield
    if before is None:
        del os.environ["SB3_LOGDIR"]
    else:
        os.environ["SB3_LOGDIR"] = before


@pytest.fixture
def one_torch_thread():
    """PPO's tiny networks run tens of times slower when torch's threads fight for a busy machine."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def headless(monkeypatch):
    """Human mode prints its text in every test, even on a machine with a display: a test
    never opens a window (tests/test_render.py checks the window path with a stand-in)."""
    from pa_envs.core import render

    monkeypatch.setattr(render, "gui_available", lambda: False)
