"""Renderers shared by every env: a text line and a small RGB frame.

Both show the state (one bar per component), then per agent its last action
and the transfer it was paid (green) or taxed (red).
"""

from __future__ import annotations

import numpy as np

from pa_envs.core.game import Game

RENDER_MODES = ("ansi", "rgb_array", "human")
_BAR = 10
_HEIGHT = 64
_COLUMN = 8


def check_render_mode(render_mode: str | None) -> None:
    """Raise unless ``render_mode`` is ``None`` or one of :data:`RENDER_MODES`."""
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode must be None or one of {RENDER_MODES}, got {render_mode!r}")


def render_text(
    game: Game,
    state_row: np.ndarray,
    period: int,
    actions: np.ndarray,
    transfers: np.ndarray,
    signals: np.ndarray | None = None,
) -> str:
    """One block of text: the period, the state and each agent's action and transfer; and,
    where the contractible signal is not the action (an outcome, a meter reading), the signal."""
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
    return "\n".join(lines)


def render_frame(game: Game, state_row: np.ndarray, actions: np.ndarray, transfers: np.ndarray) -> np.ndarray:
    """A ``(64, W, 3)`` uint8 frame: blue state bars, grey action bars, green/red transfers."""
    n_state = len(state_row)
    width = _COLUMN * (n_state + 2 * game.n_agents + 1)
    frame = np.full((_HEIGHT, width + width % 2, 3), 255, dtype=np.uint8)
    bound = game.params.max_transfer

    def bar(column: int, share: float, color: tuple[int, int, int], centered: bool = False) -> None:
        left = _COLUMN * column + 1
        right = left + _COLUMN - 2
        if centered:  # grows up (payment) or down (tax) from the middle line
            mid = _HEIGHT // 2
            size = round(abs(share) * (mid - 1))
            top, bottom = (mid - size, mid) if share >= 0 else (mid, mid + size)
            frame[mid, left:right] = 0
        else:
            top, bottom = _HEIGHT - round(share * (_HEIGHT - 2)), _HEIGHT
        frame[top:bottom, left:right] = color

    for k, (value, high) in enumerate(zip(state_row, game.state_high, strict=True)):
        bar(k, value / high if high else 0.0, (40, 90, 200))
    for i in range(game.n_agents):
        if actions[i] >= 0 and game.n_actions > 1:
            bar(n_state + 2 * i, actions[i] / (game.n_actions - 1), (110, 110, 110))
        color = (40, 160, 60) if transfers[i] >= 0 else (200, 50, 40)
        bar(n_state + 2 * i + 1, transfers[i] / bound, color, centered=True)
    return frame
