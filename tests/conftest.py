"""Shared fixtures: every test that takes ``env_module`` runs once per registered env."""

from __future__ import annotations

import pytest

from pa_envs import ENVS


@pytest.fixture(params=sorted(ENVS))
def env_module(request):
    """Each registered env module in turn."""
    return ENVS[request.param]
