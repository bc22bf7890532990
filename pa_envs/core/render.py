"""The one renderer of every env and every form: a text block, a labelled frame, a window.

Every form of every env (parallel, AEC, the gymnasium views and their vector
forms, SB3's :class:`~pa_envs.sb3.MechanismVecEnv`) keeps a
:class:`PeriodRecord` of the last period of each of its copies and hands it,
with the copy's state and period, to a :class:`Renderer`, which draws:

- ``"ansi"``: a text block (:func:`render_text`);
- ``"rgb_array"``: an ``(H, W, 3)`` uint8 frame (:class:`FrameCanvas`): the
  period ``t/T``, each state component against its bound, each agent's action
  (and, where the contractible signal is not the action, its signal), the
  transfer it received (green: paid, red: taxed), the period's welfare and the
  episode's cumulative welfare. One env's frames all have the same size, so
  they make videos;
- ``"human"``: that frame in a matplotlib window when a display and a GUI
  backend are usable (:func:`gui_available`), else the text block printed;
  the env shows itself on ``reset`` and every ``step`` (gymnasium's
  convention), and ``render()`` then returns ``None``.

Welfare is the period's social welfare (private utilities plus the
principal's payoff): the sum of every player's reward when the principal's
objective is its payoff, as transfers cancel out.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import warnings
from typing import Any

import numpy as np

from pa_envs.core.game import Game, PeriodOutcome

RENDER_MODES = ("ansi", "rgb_array", "human")
RENDER_FPS = 4
_BAR = 10  # characters of a text bar

# The frame's layout, in pixels (the canvas is WIDTH wide at 100 dpi, so 1 unit = 1 px).
WIDTH = 720
_DPI = 100
_ROW = 22
_TOP = 48  # below the title and the period bar
_SECTION = 24  # a section's heading
_FOOTER = 40
MAX_ROWS = 12
"""State components and agents drawn at most; the frame says how many more there are."""
_MAX_CHIPS = 8  # an agent's action chips, at most (more actions: the name alone)

_INK = "#222222"
_MUTED = "#777777"
_TRACK = "#e6e6e6"
_STATE = "#2f6fbf"
_PAID = "#2e9e4a"
_TAXED = "#c8412f"
_PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3", "#8c8c8c")
_FONT: dict[str, Any] = {"family": "DejaVu Sans"}  # ships with matplotlib: the same glyphs on every machine

# matplotlib backends that open a window (the other interactive ones serve a page or a notebook).
_WINDOW_BACKENDS = ("gtk", "macosx", "qt", "tk", "wx")


def check_render_mode(
    render_mode: str | None, modes: tuple[str, ...] = RENDER_MODES, who: str = "render_mode"
) -> None:
    """Raise ``ValueError`` unless ``render_mode`` is ``None`` or one of ``modes``, and
    ``ImportError`` for ``"rgb_array"`` without matplotlib.

    Parameters
    ----------
    render_mode : str or None
        The mode asked for.
    modes : tuple of str
        The modes this form supports (default: :data:`RENDER_MODES`).
    who : str
        What the message names (e.g. ``"render_mode of the vector views"``).
    """
    if render_mode is not None and render_mode not in modes:
        raise ValueError(f"{who} must be None or one of {modes}, got {render_mode!r}")
    if render_mode == "rgb_array" and not has_matplotlib():
        # Said when the env is made, not at the first frame of a long run.
        raise ImportError('render_mode="rgb_array" draws with matplotlib: pip install matplotlib')


def has_matplotlib() -> bool:
    """Whether matplotlib, which draws the frames, is installed (it is an optional dependency)."""
    return importlib.util.find_spec("matplotlib") is not None


class PeriodRecord:
    """The last period of each of B copies, as the renderers show it.

    Attributes are ``(B, N)`` arrays ``actions`` and ``signals`` (``-1``
    before the first period of an episode) and ``transfers``, and ``(B,)``
    arrays ``welfare`` (the period's social welfare) and ``cumulative`` (its
    sum over the episode so far).

    Parameters
    ----------
    num_copies : int
        B.
    n_agents : int
        N.
    """

    def __init__(self, num_copies: int, n_agents: int) -> None:
        self.num_copies, self.n_agents = num_copies, n_agents
        self.start()

    def start(self, which: np.ndarray | None = None) -> None:
        """Copies ``which`` (indices; all by default) begin an episode: nothing played yet."""
        b, n = self.num_copies, self.n_agents
        if which is None:
            self.actions = np.full((b, n), -1, dtype=np.int64)
            self.signals = np.full((b, n), -1, dtype=np.int64)
            self.transfers = np.zeros((b, n))
            self.welfare = np.zeros(b)
            self.cumulative = np.zeros(b)
            return
        for table, blank in (
            (self.actions, -1),
            (self.signals, -1),
            (self.transfers, 0.0),
            (self.welfare, 0.0),
            (self.cumulative, 0.0),
        ):
            table[which] = blank

    def record(self, actions: np.ndarray, outcome: PeriodOutcome, active: np.ndarray | None = None) -> None:
        """Keep one played period: ``actions`` ``(B, N)`` and its ``outcome``.

        With ``active`` (``(B,)`` bool), only those copies played; the others keep their rows.
        """
        # New arrays either way: the caller's actions and outcome stay its own.
        if active is None:  # every step of a single env: the cheap path
            self.actions = np.array(actions, dtype=np.int64)
            self.signals = outcome.dynamics.signals.copy()
            self.transfers = outcome.transfers.copy()
            self.welfare = outcome.social_welfare.copy()
            self.cumulative = self.cumulative + self.welfare
            return
        rows = active[:, None]
        self.actions = np.where(rows, actions, self.actions)
        self.signals = np.where(rows, outcome.dynamics.signals, self.signals)
        self.transfers = np.where(rows, outcome.transfers, self.transfers)
        self.welfare = np.where(active, outcome.social_welfare, self.welfare)
        self.cumulative = self.cumulative + self.welfare * active

    def row(self, copy: int) -> dict[str, Any]:
        """Copy ``copy``'s last period, as the keywords of :func:`render_text` and
        :meth:`FrameCanvas.draw` (``actions``, ``signals``, ``transfers``, ``welfare``, ``cumulative``)."""
        return {
            "actions": self.actions[copy],
            "signals": self.signals[copy],
            "transfers": self.transfers[copy],
            "welfare": float(self.welfare[copy]),
            "cumulative": float(self.cumulative[copy]),
        }


def render_text(
    game: Game,
    state_row: np.ndarray,
    period: int,
    actions: np.ndarray,
    transfers: np.ndarray,
    signals: np.ndarray | None = None,
    welfare: float | None = None,
    cumulative: float | None = None,
) -> str:
    """One block of text: the period, the state and each agent's action and transfer.

    Parameters
    ----------
    game : Game
        The economics (names, bounds).
    state_row : numpy.ndarray
        One copy's state vector.
    period : int
        Periods played in the episode.
    actions, transfers : numpy.ndarray
        ``(N,)`` each agent's last action (``-1``: none yet) and the transfer it received.
    signals : numpy.ndarray, optional
        ``(N,)`` contractible signals; shown where they are not the actions
        (an outcome, a meter reading).
    welfare, cumulative : float, optional
        The period's social welfare and its sum over the episode, shown when given.

    Returns
    -------
    str
    """
    lines = [f"{game.name}  period {period}/{game.params.max_cycles}"]
    for (name, value), high in zip(game.describe_state(state_row).items(), game.state_high, strict=True):
        filled = round(_BAR * value / high) if high else 0
        lines.append(f"  {name:>8} {value:>5} [{'#' * filled}{'.' * (_BAR - filled)}] / {high}")
    show_signals = signals is not None and game.signal_names != game.action_names
    for i in range(game.n_agents):
        action = game.action_names[actions[i]] if actions[i] >= 0 else "-"
        line = f"  agent_{i:<3} action {action:<8}"
        if show_signals:
            signal = game.signal_names[signals[i]] if signals[i] >= 0 else "-"
            line += f" signal {signal:<8}"
        lines.append(f"{line} transfer {transfers[i]:+8.3f}")
    if welfare is not None:
        line = f"  welfare {welfare:+.3f}"
        if cumulative is not None:
            line += f"  cumulative {cumulative:+.3f}"
        lines.append(line)
    return "\n".join(lines)


class FrameCanvas:
    """A fixed-size matplotlib (Agg) canvas that draws one copy's last period of a game.

    The layout is built once per game (its height follows the numbers of
    state components and agents, capped at :data:`MAX_ROWS` each; its columns
    fit the game's action and signal names). The static part is drawn once;
    each value (a bar, a number, a name) is drawn by matplotlib into a slot of
    its own the first time it appears and then pasted from a small cache, so a
    frame costs a few milliseconds (names, bar lengths and chip colours repeat,
    numbers often do). pyplot is never imported: the canvas is private to its
    env and touches no global figure.

    Parameters
    ----------
    game : Game
        The economics (names, bounds, numbers of agents and actions).
    """

    _CACHE = 256  # values kept per slot; beyond, the slot's cache starts over

    def __init__(self, game: Game) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        self.game = game
        names = game.state_names
        self._n_state = min(len(names), MAX_ROWS)
        self._n_agents = min(game.n_agents, MAX_ROWS)
        self._show_signals = game.signal_names != game.action_names
        state_rows = self._n_state + (len(names) > MAX_ROWS)
        agent_rows = self._n_agents + (game.n_agents > MAX_ROWS)
        height = _TOP + 2 * _SECTION + _ROW * (state_rows + agent_rows) + _FOOTER
        height += height % 2  # video encoders want even sizes
        self.shape = (height, WIDTH, 3)

        self.figure = Figure(figsize=(WIDTH / _DPI, height / _DPI), dpi=_DPI, facecolor="white")
        self.canvas = FigureCanvasAgg(self.figure)
        ax = self.figure.add_axes((0, 0, 1, 1))
        ax.set_xlim(0, WIDTH)
        ax.set_ylim(height, 0)  # y grows downwards, as in an image: one data unit is one pixel
        ax.axis("off")
        self._ax = ax
        self._slots: list[tuple[Any, tuple[slice, slice]]] = []  # (artist, its pixels)
        self._cache: list[dict[tuple, np.ndarray]] = []
        self._build(height)
        self._background: np.ndarray | None = None

    # -- layout ---------------------------------------------------------------------
    def _width(self, text: str, size: float = 9) -> float:
        """Pixels ``text`` takes in the frame's font."""
        from matplotlib.font_manager import FontProperties

        font = FontProperties(size=size, **_FONT)
        return self.canvas.get_renderer().get_text_width_height_descent(text, font, ismath=False)[0]

    def _slot(self, artist: Any, x0: float, y0: float, x1: float, y1: float) -> Any:
        """Make ``artist`` a value shown in the pixels ``[x0, x1) x [y0, y1)`` only (a long
        name is cut at its slot's edge, never drawn over its neighbour)."""
        x0, y0, x1, y1 = (round(v) for v in (x0, y0, x1, y1))
        artist.set_animated(True)  # left out of the static drawing
        self._slots.append((artist, (slice(y0, y1), slice(x0, x1))))
        self._cache.append({})
        return artist

    def _text(self, x: float, y: float, text: str, **style: Any) -> Any:
        style = {"fontsize": 9, "color": _INK, "va": "center", **_FONT, **style}
        return self._ax.text(x, y, text, **style)

    def _rect(self, x: float, y: float, w: float, h: float, color: str) -> Any:
        from matplotlib.patches import Rectangle

        return self._ax.add_patch(Rectangle((x, y), w, h, facecolor=color, edgecolor="none"))

    def _build(self, height: int) -> None:
        game, margin = self.game, 12
        right = WIDTH - margin
        half_row = _ROW // 2
        self._text(margin, 18, game.name, fontsize=13, fontweight="bold")
        self._period = self._slot(
            self._text(right, 18, "", fontsize=11, ha="right"), right - 220, 4, WIDTH, 31
        )
        self._rect(margin, 34, right - margin, 5, _TRACK)
        self._progress_w = right - margin
        self._progress = self._slot(self._rect(margin, 34, 0, 5, _MUTED), margin, 33, right, 40)

        # State: one bar per component against its bound.
        heading = {"fontsize": 9, "color": _MUTED, "fontstyle": "italic"}
        self._text(margin, _TOP + _SECTION / 2, "state", **heading)
        label_w = max(self._width(name) for name in game.state_names[: self._n_state])
        self._bar_x = round(margin + max(label_w, 60) + 12)
        self._bar_w = WIDTH - self._bar_x - 130
        self._state_bars, self._state_values = [], []
        for k in range(self._n_state):
            y = _TOP + _SECTION + _ROW * k + half_row
            self._text(self._bar_x - 10, y, game.state_names[k], ha="right")
            self._rect(self._bar_x, y - 6, self._bar_w, 12, _TRACK)
            bar = self._rect(self._bar_x, y - 6, 0, 12, _STATE)
            self._state_bars.append(self._slot(bar, self._bar_x, y - 7, self._bar_x + self._bar_w, y + 7))
            value = self._text(self._bar_x + self._bar_w + 10, y, "")
            self._state_values.append(
                self._slot(value, self._bar_x + self._bar_w + 4, y - half_row, WIDTH, y + half_row)
            )
        extra = len(game.state_names) - self._n_state
        if extra:
            y = _TOP + _SECTION + _ROW * self._n_state + half_row
            self._text(self._bar_x, y, f"... and {extra} more components (not drawn)", color=_MUTED)

        # Agents: columns sized to this game's names; the transfer bar takes what is left.
        top = _TOP + _SECTION + _ROW * (self._n_state + bool(extra))
        n_chips = game.n_actions if game.n_actions <= _MAX_CHIPS else 0
        bound = game.params.max_transfer
        chips_x = round(margin + self._width(f"agent_{self._n_agents - 1}") + 12)
        action_x = chips_x + 14 * n_chips + 4 * bool(n_chips)
        action_w = max(self._width(name) for name in (*game.action_names, "action"))
        signal_w = (
            max(self._width(name) for name in (*game.signal_names, "signal")) if self._show_signals else 0
        )
        money_w = self._width(f"{-bound:+.3f}")
        # Whatever the names, the transfer bar keeps 2 x 50 px: long names are cut instead.
        room = WIDTH - margin - 100 - 12 - money_w - 16 * (1 + self._show_signals) - action_x
        squeeze = min(1.0, room / (action_w + signal_w))
        action_w, signal_w = action_w * squeeze, signal_w * squeeze
        signal_x = round(action_x + action_w + 16)
        money_x = round((signal_x + signal_w if self._show_signals else action_x + action_w) + 16 + money_w)
        left = money_x + 12
        self._half: float = (WIDTH - margin - left) // 2
        self._zero_x = left + self._half

        y = top + _SECTION // 2
        self._text(margin, y, "agents", **heading)
        self._text(chips_x, y, "action", **heading)
        if self._show_signals:
            self._text(signal_x, y, "signal", **heading)
        self._text(money_x, y, "transfer", ha="right", **heading)
        self._text(self._zero_x - self._half, y, f"-{bound:g}", ha="left", **heading)
        self._text(self._zero_x + self._half, y, f"+{bound:g}", ha="right", **heading)
        self._rows = []
        for i in range(self._n_agents):
            y = top + _SECTION + _ROW * i + half_row
            band = (y - half_row, y + half_row)
            self._text(margin, y, f"agent_{i}")
            chips = []
            for a in range(n_chips):
                x = chips_x + 14 * a
                chips.append(self._slot(self._rect(x, y - 5, 10, 10, _TRACK), x - 1, y - 6, x + 11, y + 6))
            action = self._slot(self._text(action_x, y, ""), action_x - 2, band[0], signal_x - 6, band[1])
            signal = None
            if self._show_signals:
                signal = self._slot(
                    self._text(signal_x, y, ""), signal_x - 2, band[0], money_x - money_w - 6, band[1]
                )
            money = self._slot(
                self._text(money_x, y, "", ha="right"), money_x - money_w - 4, band[0], money_x + 3, band[1]
            )
            self._rect(self._zero_x - self._half, y - 0.5, 2 * self._half, 1, _TRACK)
            self._rect(self._zero_x - 0.5, y - 8, 1, 16, _MUTED)
            transfer = self._rect(self._zero_x, y - 6, 0, 12, _PAID)
            self._slot(transfer, self._zero_x - self._half - 1, y - 7, self._zero_x + self._half + 1, y + 7)
            self._rows.append((chips, action, signal, money, transfer))
        if game.n_agents > self._n_agents:
            y = top + _SECTION + _ROW * self._n_agents + half_row
            more = game.n_agents - self._n_agents
            self._text(margin, y, f"... and {more} more agents (not drawn)", color=_MUTED)

        # Footer: the period's welfare and the episode's so far.
        y = height - _FOOTER // 2
        self._rect(margin, height - _FOOTER, right - margin, 1, _TRACK)
        self._text(margin, y, "welfare this period", color=_MUTED)
        self._welfare = self._slot(
            self._text(150, y, "", fontweight="bold"), 146, y - half_row, 320, y + half_row
        )
        self._text(330, y, "cumulative", color=_MUTED)
        self._cumulative = self._slot(
            self._text(410, y, "", fontweight="bold"), 406, y - half_row, right, y + half_row
        )

    # -- drawing ----------------------------------------------------------------------
    def draw(
        self,
        state_row: np.ndarray,
        period: int,
        actions: np.ndarray,
        signals: np.ndarray,
        transfers: np.ndarray,
        welfare: float,
        cumulative: float,
    ) -> np.ndarray:
        """Draw one copy's last period and return the frame.

        Parameters
        ----------
        state_row : numpy.ndarray
            The copy's state vector.
        period : int
            Periods played in its episode.
        actions, signals, transfers : numpy.ndarray
            ``(N,)`` each agent's last action and signal (``-1``: none yet) and transfer.
        welfare, cumulative : float
            The period's social welfare and its sum over the episode.

        Returns
        -------
        numpy.ndarray
            ``(H, W, 3)`` uint8, a new array (the canvas is reused by the next frame).
        """
        game = self.game
        horizon = game.params.max_cycles
        self._period.set_text(f"period {period} / {horizon}")
        # Bar lengths in whole pixels: crisp edges, and a finite set of values to cache.
        self._progress.set_width(round(self._progress_w * min(period / horizon, 1.0)))
        for k, high in enumerate(game.state_high[: self._n_state]):
            value = int(state_row[k])
            share = min(max(value / high, 0.0), 1.0) if high else 0.0
            self._state_bars[k].set_width(round(self._bar_w * share))
            self._state_values[k].set_text(f"{value} / {int(high)}")
        bound = game.params.max_transfer
        for i, (chips, action, signal, money, transfer) in enumerate(self._rows):
            a = int(actions[i])
            for j, chip in enumerate(chips):
                chip.set_facecolor(_PALETTE[j % len(_PALETTE)] if j == a else _TRACK)
            action.set_text(game.action_names[a] if a >= 0 else "-")
            if signal is not None:
                s = int(signals[i])
                signal.set_text(game.signal_names[s] if s >= 0 else "-")
            paid = float(transfers[i])
            color = _PAID if paid >= 0 else _TAXED
            money.set_text(f"{paid:+.3f}")
            money.set_color(color if paid else _MUTED)
            transfer.set_width(round(self._half * min(max(paid / bound, -1.0), 1.0)))
            transfer.set_facecolor(color)
        for artist, amount in ((self._welfare, welfare), (self._cumulative, cumulative)):
            artist.set_text(f"{amount:+.3f}")
            artist.set_color(_PAID if amount > 0 else _TAXED if amount < 0 else _INK)
        return self._compose()

    @staticmethod
    def _key(artist: Any) -> tuple:
        """What an artist shows: its text and colour, or its extent and colour."""
        if hasattr(artist, "get_text"):
            return (artist.get_text(), artist.get_color())
        return (artist.get_width(), artist.get_facecolor())

    def _compose(self) -> np.ndarray:
        canvas = self.canvas
        if self._background is None:
            canvas.draw()  # the static layout, once (the values are animated: left out)
            self._region = canvas.copy_from_bbox(self.figure.bbox)
            self._background = np.asarray(canvas.buffer_rgba())[:, :, :3].copy()
        keys = [self._key(artist) for artist, _ in self._slots]
        missing = [
            k for k, (key, cache) in enumerate(zip(keys, self._cache, strict=True)) if key not in cache
        ]
        if missing:
            # New values: matplotlib draws each on a clean background and its slot is kept.
            renderer = canvas.get_renderer()
            pixels = np.asarray(canvas.buffer_rgba())
            for k in missing:
                artist, (rows, columns) = self._slots[k]
                canvas.restore_region(self._region)
                artist.draw(renderer)
                if len(self._cache[k]) >= self._CACHE:
                    self._cache[k].clear()
                self._cache[k][keys[k]] = pixels[rows, columns, :3].copy()
        frame = self._background.copy()
        for (_, (rows, columns)), key, cache in zip(self._slots, keys, self._cache, strict=True):
            frame[rows, columns] = cache[key]
        return frame


def gui_available() -> bool:
    """Whether a matplotlib window can be opened: a display, and a GUI backend.

    ``False`` on Linux and other X11/Wayland systems without ``DISPLAY`` or
    ``WAYLAND_DISPLAY``, when pyplot cannot be imported, or when matplotlib's
    backend (chosen by matplotlib: ``MPLBACKEND``, the rc file, or the first
    GUI toolkit that works) does not open windows (``agg``, a notebook's
    inline backend). Human mode then prints the text block instead.
    """
    on_x11 = sys.platform not in ("darwin", "win32", "cygwin")
    if on_x11 and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return False
    try:
        import matplotlib
        import matplotlib.pyplot  # (resolves matplotlib's automatic backend choice)

        backend = matplotlib.get_backend().lower()
    except Exception:  # a broken GUI toolkit must not stop the env: print instead
        return False
    return backend.startswith(_WINDOW_BACKENDS)


class _Window:
    """A pyplot window showing frames; made only when :func:`gui_available` says it can be."""

    def __init__(self, title: str, shape: tuple[int, ...]) -> None:
        import matplotlib.pyplot as plt

        self._plt = plt
        height, width = shape[:2]
        self.figure = plt.figure(figsize=(width / _DPI, height / _DPI), dpi=_DPI)
        if self.figure.canvas.manager is not None:
            self.figure.canvas.manager.set_window_title(title)
        ax = self.figure.add_axes((0, 0, 1, 1))
        ax.axis("off")
        self._image = ax.imshow(np.zeros(shape, dtype=np.uint8))
        plt.show(block=False)

    @property
    def open(self) -> bool:
        return self._plt.fignum_exists(self.figure.number)

    def show(self, frame: np.ndarray, fps: float) -> None:
        self._image.set_data(frame)
        self.figure.canvas.draw_idle()
        # pause() runs the GUI event loop (so the window repaints) and paces the episode.
        self._plt.pause(1.0 / fps)

    def close(self) -> None:
        self._plt.close(self.figure)


class Renderer:
    """Renders copies of one game in any mode; one per env instance, holding its canvas.

    Parameters
    ----------
    game : Game
        The economics.
    fps : float
        Frames per second of the human window (the envs' ``render_fps``).
    """

    def __init__(self, game: Game, fps: float = RENDER_FPS) -> None:
        self.game = game
        self.fps = fps
        self._canvas: FrameCanvas | None = None
        self._window: _Window | None = None
        self._use_window: bool | None = None  # decided at the first human frame

    @property
    def canvas(self) -> FrameCanvas:
        """The frame canvas, made at the first frame (text-only use never loads matplotlib)."""
        if self._canvas is None:
            self._canvas = FrameCanvas(self.game)
        return self._canvas

    def render(
        self, mode: str, state_row: np.ndarray, period: int, record: PeriodRecord, copy: int = 0
    ) -> str | np.ndarray | None:
        """Render copy ``copy``: its text (``"ansi"``), its frame (``"rgb_array"``) or show it
        (``"human"``: a window, or the text printed; returns ``None``).

        Parameters
        ----------
        mode : {"ansi", "rgb_array", "human"}
        state_row : numpy.ndarray
            The copy's state vector (read from the env's or the engine's state).
        period : int
            Periods played in its episode.
        record : PeriodRecord
            The last period of every copy.
        copy : int
            Which copy's row of ``record`` to show.
        """
        check_render_mode(mode)
        if mode == "ansi":
            return self.text(state_row, period, record, copy)
        if mode == "rgb_array":
            return self.frame(state_row, period, record, copy)
        self.show(state_row, period, record, copy)
        return None

    def text(self, state_row: np.ndarray, period: int, record: PeriodRecord, copy: int = 0) -> str:
        """The text block of copy ``copy`` (see :func:`render_text`)."""
        return render_text(self.game, state_row, int(period), **record.row(copy))

    def frame(self, state_row: np.ndarray, period: int, record: PeriodRecord, copy: int = 0) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 frame of copy ``copy`` (see :meth:`FrameCanvas.draw`)."""
        return self.canvas.draw(state_row, int(period), **record.row(copy))

    def frames(self, states: np.ndarray, periods: np.ndarray, record: PeriodRecord, mode: str) -> list:
        """One frame (``"rgb_array"``) or text (``"ansi"``) per copy, all from the batch's arrays."""
        if mode not in ("ansi", "rgb_array"):
            raise ValueError(f"a batch renders as 'ansi' or 'rgb_array', got {mode!r}")
        draw = self.text if mode == "ansi" else self.frame
        return [draw(states[b], periods[b], record, b) for b in range(len(states))]

    def show(self, state_row: np.ndarray, period: int, record: PeriodRecord, copy: int = 0) -> None:
        """Human mode: the frame in a window where one can open, else the text printed once."""
        if self._use_window is None:
            self._use_window = gui_available()
        if self._use_window:
            frame = self.frame(state_row, period, record, copy)
            try:
                if self._window is None or not self._window.open:  # a closed window opens again
                    self._window = _Window(self.game.name, frame.shape)
                self._window.show(frame, self.fps)
                return
            except Exception as error:  # e.g. a display that refuses connections: say so, go on
                warnings.warn(
                    f"{self.game.name}: cannot show a matplotlib window ({error!r}); "
                    "human mode prints the text from now on",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self._use_window, self._window = False, None
        print(self.text(state_row, period, record, copy), flush=True)

    def close(self) -> None:
        """Close the window, if one is open (frames can still be drawn afterwards)."""
        if self._window is not None:
            self._window.close()
            self._window = None

    def __getstate__(self) -> dict[str, Any]:
        # Envs are pickled and deep-copied (vector wrappers, RLlib workers): the canvas and
        # window are caches, remade on the next frame, never copied.
        return {**self.__dict__, "_canvas": None, "_window": None, "_use_window": None}
