"""Named env configurations: the hard tasks, on which a flat incentive falls short.

At their defaults most envs of the suite are easy for a principal: one flat
transfer on one signal closes most of the gap between laissez-faire and the
social optimum (the suite table in ``docs/envs/index.md``), so a benchmark
there cannot rank principals. Each env therefore has a *hard* preset,
``"<env>:hard"``: a configuration in which the best flat incentive (one
amount on one signal, either sign, within ``max_transfer``, the same for every
agent, state and period) closes at most 0.85 of the gap, while transfers that
depend on the period, the state and the agent (the Pigouvian oracle of
:mod:`pa_envs.mechanisms`) implement the optimum. Every name here is accepted
wherever an env name is (the harness, the experiment, :func:`parallel_env`).

``python -m baselines.references --presets`` recomputes each preset's exact
references; the test suite checks the 0.85 bound on every preset.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from pa_envs.core.names import UnknownNameError, did_you_mean
from pa_envs.core.parallel import PrincipalAgentParallelEnv
from pa_envs.registry import ENVS, get_env_module

FLAT_SHARE_LIMIT = 0.85
"""A hard preset's best flat incentive closes at most this share of the gap ``W* - W_LF``."""


@dataclasses.dataclass(frozen=True)
class Preset:
    """A named configuration of one env.

    Attributes
    ----------
    name : str
        ``"<env>:<label>"``.
    env : str
        The registered env.
    kwargs : Mapping
        Parameters of ``<env>.parallel_env`` (``n_agents`` included).
    summary : str
        One line: what changes from the defaults.
    why : str
        Why a flat incentive falls short there.
    """

    name: str
    env: str
    kwargs: Mapping[str, Any]
    summary: str
    why: str


def _preset(env: str, label: str, kwargs: dict[str, Any], summary: str, why: str) -> Preset:
    if env not in ENVS:
        raise KeyError(f"preset for an unregistered env {env!r}")
    return Preset(f"{env}:{label}", env, MappingProxyType(dict(kwargs)), summary, why)


PRESETS: dict[str, Preset] = {
    preset.name: preset
    for preset in (
        _preset(
            "pollution_v0",
            "hard",
            {"n_agents": 3, "decay": 0.1, "max_cycles": 40},
            "slow decay (0.1) and 40-period episodes",
            "the optimum changes over the episode: low production while a unit emitted still hurts for "
            "many periods, medium later, high at the end, when emissions hurt no one within the "
            "episode; a flat tax fixes one level for the whole episode",
        ),
        _preset(
            "commons_v0",
            "hard",
            {"n_agents": 3, "n_efforts": 4, "max_cycles": 30},
            "four effort levels and 30-period episodes",
            "a myopic fisher's best effort is all or nothing, so a flat payment keeps every fisher idle or "
            "sends all three to the top effort, which crashes the stock; the optimum harvests the surplus "
            "with efforts that rise with the stock and differ between fishers, and clears the stock at "
            "the end",
        ),
        _preset(
            "congestion_v0",
            "hard",
            {
                "n_agents": 3,
                "max_cycles": 20,
                "road_slope": 0.5,
                "rail_cost": 3.0,
                "capacity": 1,
                "carry_over": 0.7,
                "max_queue": 6,
                "spillover_cost": 1.0,
            },
            "an expensive rail line, a queue that carries over (0.7) with a spillover cost, 20 periods",
            "the optimum keeps the queue empty with one driver until the last periods, then lets everyone "
            "drive, since a backlog left at the end costs nothing; a flat toll cannot be lifted for the end",
        ),
        _preset(
            "insurance_v0",
            "hard",
            {
                "n_agents": 3,
                "max_cycles": 30,
                "n_risk_levels": 2,
                "effort_effect": 0.2,
                "base_low": 0.2,
                "base_high": 0.3,
                "risk_up": 0.1,
                "risk_down": 1.0,
                "contagion": 0.2,
                "effort_cost": 4.5,
                "public_cost": 5.0,
            },
            "two risk classes, costly prevention that cures the malus at once, strong contagion",
            "the optimum is to prevent exactly while one's own class is malus; the claim does not reveal the "
            "class, so a flat no-claim bonus makes everyone prevent every period or no one",
        ),
        _preset(
            "platform_v0",
            "hard",
            {"n_agents": 3, "max_cycles": 30, "max_trust": 8, "quality_cost": 0.5, "bad_review_weight": 1},
            "costly quality (0.5), a trust ceiling of 8, 30-period episodes",
            "at the trust ceiling extra good reviews are wasted, so the optimum has all sellers invest at "
            "low trust and fewer as trust nears the ceiling; a flat quality bonus works backwards, "
            "stronger as trust rises, too weak at low trust",
        ),
        _preset(
            "grid_v0",
            "hard",
            {"n_agents": 3, "max_cycles": 30, "outage_threshold": 9},
            "outages from a stress of 9, 30-period episodes",
            "identical households answer a flat price identically, so all move to the shoulder every day; "
            "the optimum mixes peak and shoulder households according to the stress",
        ),
    )
}
"""Every preset by name."""


def split_name(name: str) -> tuple[str, str | None]:
    """``"env:label"`` -> ``("env", "label")``; a bare env name -> ``(name, None)``."""
    if not isinstance(name, str):
        raise TypeError(f"an env or preset name must be a str, got {name!r}")
    env, colon, label = name.partition(":")
    if colon and not label:
        raise ValueError(f"{name!r} names no preset after the ':'; presets: {sorted(PRESETS)}")
    return env, (label or None)


def get_preset(name: str) -> Preset:
    """The preset registered as ``name`` (:class:`~pa_envs.core.names.UnknownNameError`, a
    ``KeyError`` and a ``ValueError``, naming the known ones otherwise)."""
    try:
        return PRESETS[name]
    except KeyError:
        hint = did_you_mean(name, PRESETS)
        raise UnknownNameError(f"no preset named {name!r}{hint} Registered: {sorted(PRESETS)}") from None


def env_kwargs(name: str, **overrides: Any) -> tuple[str, dict[str, Any]]:
    """The env and the parameters a name stands for: a registered env (its defaults) or a
    preset (its parameters), with ``overrides`` on top."""
    env, label = split_name(name)
    get_env_module(env)  # a clear KeyError for an unknown env
    if label is None:
        return env, dict(overrides)
    preset = get_preset(name)
    changed = sorted(k for k, v in overrides.items() if k in preset.kwargs and preset.kwargs[k] != v)
    if changed:
        warnings.warn(
            f"{name}: overriding the preset's {changed}; its hardness (the flat incentive's share of the "
            f"gap at most {FLAT_SHARE_LIMIT}) was checked at its own values only",
            UserWarning,
            stacklevel=2,
        )
    return env, {**preset.kwargs, **overrides}


def make_parallel_env(
    name_or_env: str | PrincipalAgentParallelEnv, **kwargs: Any
) -> PrincipalAgentParallelEnv:
    """The parallel env a name stands for, or an env already built.

    Parameters
    ----------
    name_or_env : str or PrincipalAgentParallelEnv
        A registered env name (``"pollution_v0"``), a preset name
        (``"pollution_v0:hard"``, see :mod:`pa_envs.presets`) or a pa_envs
        parallel env, returned as it is.
    **kwargs
        Keywords of the env's ``parallel_env`` (``render_mode`` included), on
        top of a preset's parameters. Only with a name.

    Returns
    -------
    PrincipalAgentParallelEnv

    Raises
    ------
    UnknownNameError
        For an unknown env or preset name (a ``ValueError``, and a ``KeyError``;
        the message suggests the closest names).
    TypeError
        For anything but a str or a parallel env, or keywords given with a built env.

    Examples
    --------
    >>> import pa_envs
    >>> pa_envs.make_parallel_env("pollution_v0", n_agents=2).game.n_agents
    2
    >>> pa_envs.make_parallel_env("pollution_v0:hard").game.n_agents
    3
    """
    if isinstance(name_or_env, PrincipalAgentParallelEnv):
        if kwargs:
            raise TypeError(
                f"env parameters {sorted(kwargs)} go with an env name, not with an env already built "
                f"({type(name_or_env).__name__}); build it with them instead"
            )
        return name_or_env
    if not isinstance(name_or_env, str):
        raise TypeError(
            "an env must be a str (a registered env or preset name) or a pa_envs parallel env, "
            f"got {name_or_env!r} ({type(name_or_env).__name__})"
        )
    env, parameters = env_kwargs(name_or_env, **kwargs)
    return ENVS[env].parallel_env(**parameters)


parallel_env = make_parallel_env
"""The parallel env of a registered env or preset name, with overrides: :func:`pa_envs.make_parallel_env`."""


__all__ = [
    "FLAT_SHARE_LIMIT",
    "PRESETS",
    "Preset",
    "env_kwargs",
    "get_preset",
    "make_parallel_env",
    "parallel_env",
    "split_name",
]
