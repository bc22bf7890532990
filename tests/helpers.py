"""Helpers shared by the test modules."""

from __future__ import annotations

from typing import Any

import numpy as np


def assert_identical(a: Any, b: Any) -> None:
    """Assert two outputs are identical: same types, arrays equal with same dtype, floats bit-equal."""
    assert type(a) is type(b), (type(a), type(b))
    if isinstance(a, dict):
        assert list(a) == list(b)
        for key in a:
            assert_identical(a[key], b[key])
    elif isinstance(a, (tuple, list)):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            assert_identical(x, y)
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype
        assert np.array_equal(a, b)
    elif isinstance(a, float):
        assert a.hex() == b.hex()
    else:
        assert a == b


def ppo_smoke(model: Any, timesteps: int, info_keys: tuple[str, ...] = ()) -> list[dict]:
    """Train an SB3 ``model`` for ``timesteps`` and check what SB3 does not guarantee by itself:
    the policy's parameters moved, every loss the last update logged is finite, and the env's
    infos carried each of ``info_keys`` as a finite number at every step. Returns those infos."""
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    seen: list[dict] = []

    class Infos(BaseCallback):
        def _on_step(self) -> bool:
            seen.extend(self.locals["infos"])
            return True

    before = [p.detach().clone() for p in model.policy.parameters()]
    model.learn(timesteps, callback=Infos())
    after = list(model.policy.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(before, after, strict=True)), "no parameter moved"
    assert all(torch.isfinite(p).all() for p in after)
    losses = {k: v for k, v in model.logger.name_to_value.items() if k.startswith("train/") and "loss" in k}
    assert losses, "no update logged a loss"
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert len(seen) >= timesteps
    for key in info_keys:
        values = [info[key] for info in seen if key in info]
        assert values, f"no info carried {key!r}"
        assert np.all(np.isfinite(values)), key
    return seen
