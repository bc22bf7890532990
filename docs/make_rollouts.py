"""Make the animated rollout (GIF) shown on every env page: ``docs/envs/rollouts/<env>.gif``.

Each GIF is the first periods of one seeded episode of the env at its
defaults, drawn by the env's own ``rgb_array`` renderer
(:mod:`pa_envs.core.render`): the Pigouvian mechanism posts the contracts
and the agents play myopic best responses to them (the ``"best_response"``
behaviour, from the exact model), so the pictures show the optimum being
implemented. Seeded and deterministic: the same pa_envs, matplotlib and
Pillow give the same bytes. Run from the repository root::

    python docs/make_rollouts.py            # every env
    python docs/make_rollouts.py grid_v0    # some envs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's pa_envs, not an installed copy

from pa_envs import ENVS  # noqa: E402  (needs the path above)
from pa_envs.behaviours import make_behaviour  # noqa: E402
from pa_envs.mechanisms import mechanism_env  # noqa: E402

OUT = ROOT / "docs" / "envs" / "rollouts"
PERIODS = 24
SEED = 0
FRAME_MS = 250  # the envs' render_fps is 4
LAST_FRAME_MS = 1500  # a pause before the GIF loops
COLOURS = 64  # the frames are flat colours and anti-aliased text: 64 keep the text clean


def rollout_frames(env_name: str, periods: int = PERIODS, seed: int = SEED) -> list[np.ndarray]:
    """The frames of the first ``periods`` periods of a seeded episode of ``env_name``
    (its reset, then one per period) under the Pigouvian mechanism, the agents best-responding.

    Parameters
    ----------
    env_name : str
        A registered env, built at its defaults.
    periods : int
        Periods to play.
    seed : int
        The episode's seed.

    Returns
    -------
    list of numpy.ndarray
        ``periods + 1`` frames of one shape, ``(H, W, 3)`` uint8.
    """
    base = ENVS[env_name].parallel_env(render_mode="rgb_array")
    env = mechanism_env(base, "pigouvian")
    agents = make_behaviour("best_response")
    agents.bind(base, env.possible_agents)
    observations, _ = env.reset(seed=seed)
    agents.reset(np.random.default_rng(seed))
    frames = [env.render()]
    for _ in range(periods):
        if not env.agents:
            break
        chosen = agents.act(observations)
        following, rewards, _, _, _ = env.step(chosen)
        agents.learn(observations, chosen, rewards, following, not env.agents)
        observations = following
        frames.append(env.render())
    return frames


def write_gif(frames: list[np.ndarray], path: Path) -> int:
    """Write ``frames`` as a looping GIF with one palette for all of them; return its size in bytes.

    Parameters
    ----------
    frames : list of numpy.ndarray
        ``(H, W, 3)`` uint8 frames of one shape.
    path : pathlib.Path
        Where to write it (its folder is made).

    Returns
    -------
    int
    """
    # One palette from every frame: a colour first seen late (a tax's red) keeps its hue,
    # and no dithering, so the flat areas stay flat and compress well.
    palette = Image.fromarray(np.concatenate(frames)).quantize(COLOURS, method=Image.Quantize.MEDIANCUT)
    images = [Image.fromarray(f).quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
    durations = [FRAME_MS] * (len(images) - 1) + [LAST_FRAME_MS]
    path.parent.mkdir(parents=True, exist_ok=True)
    images[0].save(path, save_all=True, append_images=images[1:], duration=durations, loop=0, optimize=True)
    return path.stat().st_size


def main(argv: list[str] | None = None) -> int:
    """Write the GIF of each env named (all by default); print each one's size and time."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("envs", nargs="*", default=sorted(ENVS), help="env names (default: all)")
    parser.add_argument("--periods", type=int, default=PERIODS)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    unknown = sorted(set(args.envs) - set(ENVS))
    if unknown:
        parser.error(f"unknown envs {unknown}; registered: {sorted(ENVS)}")
    start = time.perf_counter()
    for k, name in enumerate(args.envs, 1):
        began = time.perf_counter()
        frames = rollout_frames(name, args.periods, args.seed)
        size = write_gif(frames, args.out / f"{name}.gif")
        print(
            f"[{k}/{len(args.envs)}] {name}: {len(frames)} frames {frames[0].shape[1]}x{frames[0].shape[0]}, "
            f"{size / 1024:.0f} KB, {time.perf_counter() - began:.1f} s",
            flush=True,
        )
    print(f"done in {time.perf_counter() - start:.1f} s -> {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
