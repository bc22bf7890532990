"""One registry of the mechanisms built by name: the names, a line on each, their builders.

The command line (``pa-envs list``, ``--mechanism``), the benchmark harness and
:func:`make_mechanism` read it. It lists the bundled mechanisms
(:mod:`pa_envs.mechanisms.bundled`) and the two-phase mechanism
(:mod:`pa_envs.two_phase`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from pa_envs.core.mechanism import Mechanism
from pa_envs.core.names import UnknownNameError, did_you_mean
from pa_envs.mechanisms.bundled import Budgeted, FlatSchedule, NoTransfers, Pigouvian
from pa_envs.two_phase import TwoPhaseMechanism

BUILDERS: Mapping[str, Callable[..., Mechanism]] = MappingProxyType(
    {
        "no_transfers": NoTransfers,
        "flat_schedule": FlatSchedule,
        "pigouvian": Pigouvian,
        "budgeted": Budgeted,
        "flat_tax": FlatSchedule.tax,
        "best_flat_tax": FlatSchedule.best_flat_tax,
        "two_phase": TwoPhaseMechanism,
    }
)
"""Each name and the class or factory :func:`make_mechanism` builds it with."""

MECHANISM_NAMES: tuple[str, ...] = tuple(BUILDERS)
"""Every name :func:`make_mechanism` builds."""

BUILT_FOR_AN_ENV: frozenset[str] = frozenset({"flat_tax", "best_flat_tax"})
"""The names whose builder takes the env first (the others take keywords only)."""

MECHANISM_DESCRIPTIONS: Mapping[str, str] = MappingProxyType(
    {
        name: " ".join(inspect.cleandoc(builder.__doc__ or "").split("\n\n", 1)[0].split())
        for name, builder in BUILDERS.items()
    }
)
"""One line on each name: the first paragraph of its builder's docstring."""


def mechanism_builder(name: str) -> Callable[..., Mechanism]:
    """The class or factory :func:`make_mechanism` builds ``name`` with.

    Its docstring documents that mechanism, and the docstring's first line says
    in one sentence what it is (``pa-envs list`` shows it).

    Raises
    ------
    UnknownNameError
        For a name not in :data:`MECHANISM_NAMES` (a ``ValueError`` and a ``KeyError``,
        suggesting the closest names).
    """
    try:
        return BUILDERS[name]
    except (KeyError, TypeError):
        hint = did_you_mean(str(name), MECHANISM_NAMES)
        raise UnknownNameError(
            f"no mechanism named {name!r}{hint} Known: {sorted(MECHANISM_NAMES)}"
        ) from None


def make_mechanism(name: str, env: Any = None, /, **kwargs: Any) -> Mechanism:
    """Build a mechanism by name.

    ``"best_flat_tax"`` builds :meth:`FlatSchedule.best_flat_tax` for ``env``;
    ``"flat_tax"`` a :meth:`FlatSchedule.tax` of ``amount``; ``"budgeted"``
    takes ``mechanism`` (a Mechanism, or a name built for ``env`` with
    ``mechanism_kwargs``) and ``budget``.
    """
    if name == "budgeted" and isinstance(kwargs.get("mechanism"), str):
        inner = kwargs.pop("mechanism_kwargs", None) or {}
        kwargs = {**kwargs, "mechanism": make_mechanism(kwargs["mechanism"], env, **inner)}
    builder = mechanism_builder(name)
    if name in BUILT_FOR_AN_ENV:
        return builder(env, **kwargs)
    return builder(**kwargs)


__all__ = [
    "BUILDERS",
    "BUILT_FOR_AN_ENV",
    "MECHANISM_DESCRIPTIONS",
    "MECHANISM_NAMES",
    "make_mechanism",
    "mechanism_builder",
]
