"""Rendering: every env in every mode and form, the vector forms' frames, videos, the docs' GIFs.

Every test that takes ``env_module`` runs once per registered env (tests/conftest.py), so
a new env is covered without a line here. Human mode never opens a window in the tests
(conftest's ``headless`` fixture); the window path is checked with a stand-in.
"""

from __future__ import annotations

import copy
import importlib.util
import itertools
import pickle
import re
import sys
import types
import warnings
from pathlib import Path

import gymnasium
import numpy as np
import pytest
from PIL import Image

from pa_envs import ENVS, PRINCIPAL
from pa_envs.core import render
from pa_envs.core.render import FrameCanvas, PeriodRecord
from pa_envs.core.render import gui_available as real_gui_available
from pa_envs.mechanisms import mechanism_env
from pa_envs.sb3 import MechanismVecEnv
from pa_envs.views import view_ids

ROOT = Path(__file__).resolve().parent.parent
MODES = ("ansi", "rgb_array", "human")
FORMS = ("parallel", "aec", "raw_aec", "principal_view", "agent_view")
PERIODS, N_AGENTS, COPIES, SEED = 4, 2, 3, 5


def env_name(env_module) -> str:
    return env_module.parallel_env_class.game_class.name


def play(env_module, form: str, mode: str, periods: int = PERIODS) -> list:
    """``render()`` after the reset and after each period of one seeded episode of ``form``."""
    kwargs = {"render_mode": mode, "n_agents": N_AGENTS, "max_cycles": periods}
    results = []
    if form == "parallel":
        env = env_module.parallel_env(**kwargs)
        env.reset(seed=SEED)
        for player in env.possible_agents:
            env.action_space(player).seed(SEED)
        results.append(env.render())
        while env.agents:
            env.step({p: env.action_space(p).sample() for p in env.agents})
            results.append(env.render())
    elif form in ("aec", "raw_aec"):
        env = (env_module.env if form == "aec" else env_module.raw_env)(**kwargs)
        env.reset(seed=SEED)
        for player in env.possible_agents:
            env.action_space(player).seed(SEED)
        results.append(env.render())
        for _ in range(periods):
            for player in env.possible_agents:  # the principal first, then each agent
                assert env.agent_selection == player
                env.step(env.action_space(player).sample())
            results.append(env.render())
    else:
        principal_id, agent_id = view_ids(env_name(env_module))
        if form == "principal_view":
            env = gymnasium.make(principal_id, **kwargs)
        else:
            env = gymnasium.make(agent_id, mechanism="pigouvian", **kwargs)
        env.reset(seed=SEED)
        env.action_space.seed(SEED)
        results.append(env.render())
        for _ in range(periods):
            env.step(env.action_space.sample())
            results.append(env.render())
    env.close()
    return results


def colours(frame: np.ndarray) -> int:
    """Distinct colours of a frame."""
    packed = frame.astype(np.uint32)
    return len(np.unique((packed[..., 0] << 16) | (packed[..., 1] << 8) | packed[..., 2]))


def assert_good_frames(frames: list) -> None:
    """Frames of one episode: uint8 RGB of one even size, never blank, each unlike the last."""
    shape = frames[0].shape
    for frame in frames:
        assert isinstance(frame, np.ndarray) and frame.dtype == np.uint8
        assert frame.ndim == 3 and frame.shape == shape and shape[2] == 3
        assert colours(frame) >= 20 and frame.std() > 10  # text, bars: not a blank canvas
    assert shape[0] % 2 == 0 and shape[1] % 2 == 0  # video encoders want even sizes
    for before, after in itertools.pairwise(frames):
        assert not np.array_equal(before, after)  # the period, at least, moved on


# -- every env, every mode, every form ----------------------------------------------------


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("mode", MODES)
def test_every_mode_in_every_form(env_module, form, mode, capsys):
    results = play(env_module, form, mode)
    printed = capsys.readouterr().out
    assert len(results) == PERIODS + 1
    if mode == "ansi":
        for t, text in enumerate(results):
            assert isinstance(text, str) and f"period {t}/{PERIODS}" in text
        assert printed == ""
    elif mode == "rgb_array":
        assert_good_frames(results)
        assert printed == ""
    else:
        # Human: the env shows itself once on reset and once per period; render() adds nothing.
        assert results == [None] * (PERIODS + 1)
        shown = re.findall(rf"^{env_name(env_module)}  period (\d+)/{PERIODS}$", printed, re.M)
        assert shown == [str(t) for t in range(PERIODS + 1)]


@pytest.mark.slow
def test_a_frame_keeps_its_size_over_episodes_and_states(env_module):
    env = env_module.parallel_env(render_mode="rgb_array", n_agents=3, max_cycles=3)
    shapes = set()
    for episode in range(3):
        env.reset(seed=episode)
        shapes.add(env.render().shape)
        while env.agents:
            env.step({p: env.action_space(p).sample() for p in env.agents})
            shapes.add(env.render().shape)
    assert len(shapes) == 1


def test_the_frame_draws_the_state_and_the_transfers_signs(env_module):
    """Pixels of the state bars grow with the state; a payment is green, a tax red."""
    game = env_module.parallel_env(n_agents=2).game
    canvas = FrameCanvas(game)
    record = PeriodRecord(1, 2)
    actions, signals = np.zeros(2, dtype=int), np.zeros(2, dtype=int)

    def pixels(frame: np.ndarray, colour: str) -> int:
        rgb = np.array([int(colour[k : k + 2], 16) for k in (1, 3, 5)])
        return int((frame == rgb).all(axis=2).sum())

    low = canvas.draw(np.zeros_like(game.state_high), 1, actions, signals, np.array([1.0, 1.0]), 0.0, 0.0)
    high = canvas.draw(game.state_high, 1, actions, signals, np.array([-1.0, -1.0]), 0.0, 0.0)
    assert pixels(low, render._STATE) == 0 < pixels(high, render._STATE)
    assert pixels(low, render._PAID) > 0 and pixels(low, render._TAXED) == 0
    assert pixels(high, render._TAXED) > 0 and pixels(high, render._PAID) == 0
    assert record.actions.tolist() == [[-1, -1]]  # a fresh record: nothing played yet


def test_the_frame_caps_its_rows_and_says_so():
    """Many agents (and insurance's two state components per agent): the frame stays one
    size, drawing at most MAX_ROWS of each."""
    from pa_envs import insurance_v0

    shapes = set()
    for n in (render.MAX_ROWS + 1, 3 * render.MAX_ROWS):
        env = insurance_v0.parallel_env(render_mode="rgb_array", n_agents=n, max_cycles=2)
        env.reset(seed=0)
        env.step({p: env.action_space(p).sample() for p in env.agents})
        frame = env.render()
        assert colours(frame) >= 20
        shapes.add(frame.shape)
    assert len(shapes) == 1


def test_the_text_shows_the_periods_welfare_and_the_episodes(env_module):
    """Welfare is the sum of the rewards (the principal's objective is its payoff); the
    cumulative line adds it up over the episode and starts over at reset."""
    env = env_module.parallel_env(render_mode="ansi", n_agents=N_AGENTS, max_cycles=3)
    for episode in range(2):
        env.reset(seed=SEED)
        for p in env.possible_agents:
            env.action_space(p).seed(SEED + episode)  # the same draws on every run
        total = 0.0
        while env.agents:
            _, rewards, _, _, infos = env.step({p: env.action_space(p).sample() for p in env.agents})
            welfare = sum(rewards.values())
            total += welfare
            assert welfare == pytest.approx(infos[PRINCIPAL]["social_welfare"])
            shown = re.fullmatch(r"  welfare (\S+)  cumulative (\S+)", env.render().splitlines()[-1])
            assert shown is not None
            assert shown[1] == f"{infos[PRINCIPAL]['social_welfare']:+.3f}"
            # The env adds welfare up in its own order: the last printed digit may differ by one.
            assert float(shown[2]) == pytest.approx(total, abs=0.0011)


def test_render_with_a_mode_overrides_and_human_on_request_shows_once(capsys):
    env = ENVS["pollution_v0"].parallel_env(render_mode="ansi", max_cycles=2)
    env.reset(seed=0)
    assert isinstance(env.render("rgb_array"), np.ndarray)
    assert env.render("human") is None
    assert capsys.readouterr().out.count("period 0/2") == 1
    with pytest.raises(RuntimeError, match="reset"):
        ENVS["pollution_v0"].parallel_env(render_mode="ansi").render()
    with pytest.warns(UserWarning, match="without a render_mode"):
        assert ENVS["pollution_v0"].parallel_env().render() is None


def test_a_rendered_env_pickles_and_copies_without_its_canvas():
    env = ENVS["grid_v0"].parallel_env(render_mode="rgb_array", max_cycles=5)
    env.reset(seed=0)
    env.step({p: env.action_space(p).sample() for p in env.agents})
    frame = env.render()
    for twin in (copy.deepcopy(env), pickle.loads(pickle.dumps(env))):
        assert twin._renderer._canvas is None  # a cache, remade on demand
        assert np.array_equal(twin.render(), frame)


# -- human mode: the window, and its fallback ---------------------------------------------


class FakeWindow:
    """Stands in for the pyplot window: records what it is shown."""

    made: list[FakeWindow] = []  # noqa: RUF012

    def __init__(self, title: str, shape: tuple[int, ...]) -> None:
        self.title, self.shape, self.frames, self.open = title, shape, [], True
        FakeWindow.made.append(self)

    def show(self, frame: np.ndarray, fps: float) -> None:
        assert frame.shape == self.shape and fps == 4
        self.frames.append(frame)

    def close(self) -> None:
        self.open = False


def test_human_mode_draws_in_a_window_where_one_can_open(monkeypatch, capsys):
    monkeypatch.setattr(render, "gui_available", lambda: True)
    monkeypatch.setattr(render, "_Window", FakeWindow)
    FakeWindow.made = []
    env = ENVS["congestion_v0"].env(render_mode="human", n_agents=2, max_cycles=3)
    env.reset(seed=0)
    for _ in range(3):
        for player in env.possible_agents:
            env.step(env.action_space(player).sample())
        assert env.render() is None
    env.close()
    (window,) = FakeWindow.made
    assert window.title == "congestion_v0" and not window.open
    assert_good_frames(window.frames)
    assert len(window.frames) == 4  # the reset and three periods, once each
    assert capsys.readouterr().out == ""


def test_human_mode_prints_when_the_window_fails(monkeypatch, capsys):
    def broken(title, shape):
        raise RuntimeError("no display here")

    monkeypatch.setattr(render, "gui_available", lambda: True)
    monkeypatch.setattr(render, "_Window", broken)
    env = ENVS["pollution_v0"].parallel_env(render_mode="human", max_cycles=2)
    with pytest.warns(RuntimeWarning, match="cannot show a matplotlib window"):
        env.reset(seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # said once: the env prints from then on
        while env.agents:
            env.step({p: env.action_space(p).sample() for p in env.agents})
    assert capsys.readouterr().out.count("pollution_v0  period") == 3


def test_gui_available_needs_a_display_and_a_window_backend(monkeypatch):
    import matplotlib

    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert real_gui_available() is False
    monkeypatch.setenv("DISPLAY", ":0")
    for backend, expected in [("agg", False), ("TkAgg", True), ("QtAgg", True), ("webagg", False)]:
        monkeypatch.setattr(matplotlib, "get_backend", lambda backend=backend: backend)
        assert real_gui_available() is expected, backend


# -- bad modes, missing matplotlib --------------------------------------------------------

MAKERS = {
    "parallel": lambda mode: ENVS["pollution_v0"].parallel_env(render_mode=mode),
    "aec": lambda mode: ENVS["pollution_v0"].env(render_mode=mode),
    "raw_aec": lambda mode: ENVS["pollution_v0"].raw_env(render_mode=mode),
    "view": lambda mode: gymnasium.make("pa_envs/Pollution-Agent-v0", render_mode=mode),
    "vector_view": lambda mode: gymnasium.make_vec("pa_envs/Pollution-Principal-v0", 2, render_mode=mode),
    "sb3": lambda mode: MechanismVecEnv("pollution_v0", "no_transfers", 2, render_mode=mode),
}


# gymnasium.make warns of a mode outside the metadata before the view refuses it.
@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")
@pytest.mark.parametrize("form", MAKERS)
def test_a_bad_render_mode_is_a_clear_value_error(form):
    with pytest.raises(ValueError, match=r"render_mode.* must be None or one of .*'rgb_array'.*got 'rgb'"):
        MAKERS[form]("rgb")


def test_the_vector_forms_say_which_modes_they_render():
    with pytest.raises(ValueError, match=r"not 'human'; wrap an 'rgb_array' one in .*HumanRendering"):
        gymnasium.make_vec("pa_envs/Pollution-Agent-v0", num_envs=2, render_mode="human")
    with pytest.raises(
        ValueError, match=r"MechanismVecEnv must be None or one of \('rgb_array',\), got 'ansi'"
    ):
        MechanismVecEnv("pollution_v0", "no_transfers", 2, render_mode="ansi")
    venv = MechanismVecEnv("pollution_v0", "no_transfers", 2)
    venv.reset()
    with pytest.raises(RuntimeError, match="render_mode='rgb_array'"):
        venv.get_images()


@pytest.mark.parametrize("form", MAKERS)
def test_frames_without_matplotlib_fail_when_the_env_is_made(monkeypatch, form):
    monkeypatch.setattr(render, "has_matplotlib", lambda: False)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        MAKERS[form]("rgb_array")
    if form != "sb3":
        MAKERS[form]("ansi")  # text needs nothing


# -- the vector forms -----------------------------------------------------------------------

VIEW_KINDS = ("Principal", "Agent")


@pytest.mark.parametrize("kind", VIEW_KINDS)
@pytest.mark.slow
def test_vector_view_frames_are_the_single_views_frames(env_module, kind):
    """One copy's frame is drawn from the batch (no second copy of the dynamics), and is, pixel
    for pixel, the frame of a single view on the same trajectory, across autoresets."""
    env_id = view_ids(env_name(env_module))[VIEW_KINDS.index(kind)]
    kwargs = {"n_agents": N_AGENTS, "max_cycles": 3, "render_mode": "rgb_array"}
    if kind == "Agent":
        kwargs["mechanism"] = "pigouvian"
    fast = gymnasium.make_vec(env_id, num_envs=COPIES, **kwargs)
    slow = gymnasium.make_vec(env_id, num_envs=COPIES, vectorization_mode="sync", **kwargs)
    fast.reset(seed=SEED)
    slow.reset(seed=SEED)
    fast.action_space.seed(0)
    history = []
    for step in range(8):  # two episodes and the autoreset steps between them
        frames = fast.render()
        assert isinstance(frames, tuple) and len(frames) == COPIES
        for b, (mine, theirs) in enumerate(zip(frames, slow.render(), strict=True)):
            assert np.array_equal(mine, theirs), (step, b)
        history.append(frames[0])
        actions = fast.action_space.sample()
        fast.step(actions)
        slow.step(actions)
    assert_good_frames(history[:4])  # the reset and three periods


def test_vector_views_render_text_per_copy():
    views = gymnasium.make_vec("pa_envs/Grid-Agent-v0", num_envs=2, render_mode="ansi", max_cycles=4)
    views.reset(seed=0)
    views.step(views.action_space.sample())
    texts = views.render()
    assert len(texts) == 2 and all(t.startswith("grid_v0  period 1/4") for t in texts)
    assert views.metadata["render_modes"] == ["rgb_array", "ansi"]
    assert views.metadata["render_fps"] == 4


@pytest.mark.slow
def test_sb3_images_are_the_single_envs_frames(env_module):
    """get_images(): one frame per copy, pixel for pixel what a MechanismEnv following the
    copy draws, also after a copy restarts (it then shows its new episode's start)."""
    name = env_name(env_module)
    venv = MechanismVecEnv(
        name, "pigouvian", COPIES, seed=SEED, n_agents=N_AGENTS, max_cycles=3, render_mode="rgb_array"
    )
    envs = [
        mechanism_env(
            env_module.parallel_env(n_agents=N_AGENTS, max_cycles=3, render_mode="rgb_array"), "pigouvian"
        )
        for _ in range(COPIES)
    ]
    venv.reset()
    for b, env in enumerate(envs):
        env.reset(seed=SEED + b)
    actions = np.random.default_rng(0).integers(0, venv.game.n_actions, size=(7, COPIES * N_AGENTS))
    for step, joint in enumerate(actions):
        images = venv.get_images()
        assert len(images) == COPIES
        for b, env in enumerate(envs):
            assert np.array_equal(images[b], env.render()), (step, b)
        venv.step(joint)
        for b, env in enumerate(envs):
            env.step(dict(zip(env.agents, joint[b * N_AGENTS : (b + 1) * N_AGENTS].tolist(), strict=True)))
            if not env.agents:
                env.reset()
    height, width, _ = images[0].shape
    assert venv.render().shape == (2 * height, 2 * width, 3)  # SB3 tiles 3 frames 2 x 2


def fake_moviepy(monkeypatch) -> list:
    """Put a stand-in for moviepy's ImageSequenceClip in sys.modules; return its clips."""
    clips = []

    class ImageSequenceClip:
        def __init__(self, frames, fps):
            self.frames, self.fps = list(frames), fps
            clips.append(self)

        def write_videofile(self, path):
            self.path = path

    names = ["moviepy", "moviepy.video", "moviepy.video.io", "moviepy.video.io.ImageSequenceClip"]
    for name in names:
        monkeypatch.setitem(sys.modules, name, types.ModuleType(name))
    sys.modules["moviepy.video.io.ImageSequenceClip"].ImageSequenceClip = ImageSequenceClip
    return clips


def record_video(venv: MechanismVecEnv, folder, steps: int) -> None:
    """Record ``steps`` steps of ``venv`` (from its reset) with SB3's VecVideoRecorder."""
    from stable_baselines3.common.vec_env import VecVideoRecorder

    recorder = VecVideoRecorder(venv, str(folder), lambda step: step == 0, video_length=steps)
    recorder.reset()
    for _ in range(steps):
        recorder.step(np.ones(recorder.num_envs, dtype=np.int64))
    recorder.close()


def test_sb3_video_recorder_records_the_batch(monkeypatch, tmp_path):
    """SB3's VecVideoRecorder records MechanismVecEnv. moviepy, which it writes the video with,
    is not a dependency: a stand-in takes the frames here (the next test writes a real video
    where moviepy is installed)."""
    clips = fake_moviepy(monkeypatch)
    venv = MechanismVecEnv("commons_v0", "pigouvian", 4, seed=0, max_cycles=5, render_mode="rgb_array")
    record_video(venv, tmp_path, 6)
    (clip,) = clips
    assert clip.fps == 4 and clip.path.endswith(".mp4")
    assert len(clip.frames) == 7  # the reset and six steps, through an episode's end
    assert_good_frames(clip.frames)
    height, width, _ = venv.get_images()[0].shape
    assert clip.frames[0].shape == (2 * height, 2 * width, 3)


def test_sb3_video_recorder_writes_a_video(tmp_path):
    # moviepy is in the dev extra, so this runs in CI rather than skipping.
    venv = MechanismVecEnv("pollution_v0", "pigouvian", 2, seed=0, max_cycles=5, render_mode="rgb_array")
    record_video(venv, tmp_path, 4)
    (video,) = tmp_path.glob("*.mp4")
    assert video.stat().st_size > 1_000


# -- the env pages' rollouts ---------------------------------------------------------------


def load_make_rollouts():
    spec = importlib.util.spec_from_file_location("make_rollouts", ROOT / "docs" / "make_rollouts.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_env_page_shows_its_rollout(env_module):
    name = env_name(env_module)
    page = (ROOT / "docs" / "envs" / f"{name}.md").read_text(encoding="utf-8")
    assert f"](rollouts/{name}.gif)" in page and "Pigouvian mechanism" in page
    gif = ROOT / "docs" / "envs" / "rollouts" / f"{name}.gif"
    assert gif.stat().st_size < 300_000
    with Image.open(gif) as image:
        assert image.n_frames > 10
        # Drawn by the current renderer (else: python docs/make_rollouts.py).
        frame = env_module.parallel_env(render_mode="rgb_array")
        frame.reset(seed=0)
        assert image.size == frame.render().shape[1::-1]


def test_the_rollouts_are_deterministic(tmp_path):
    make_rollouts = load_make_rollouts()
    first = make_rollouts.rollout_frames("platform_v0", periods=3)
    second = make_rollouts.rollout_frames("platform_v0", periods=3)
    assert len(first) == 4
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert_good_frames(first)
    sizes = [make_rollouts.write_gif(first, tmp_path / f"{k}.gif") for k in range(2)]
    assert sizes[0] == sizes[1]
    assert (tmp_path / "0.gif").read_bytes() == (tmp_path / "1.gif").read_bytes()
