"""What the command lines of :mod:`pa_envs.experiments` (and the scripts of ``baselines/``) share."""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pa_envs.cli import HelpFormatter, add_int_option, add_json_option, int_at_least, json_object, message

__all__ = [
    "HelpFormatter",
    "add_env_size_options",
    "add_int_option",
    "add_json_option",
    "existing_path",
    "int_at_least",
    "json_object",
    "message",
    "pyplot",
    "save_figure",
    "script_parser",
]


def add_env_size_options(parser: argparse.ArgumentParser, env_kwargs_help: str) -> None:
    """Add ``--n-agents`` (agents per copy, default 3) and ``--env-kwargs`` (the env's other
    parameters), as the scripts that train on copies of an env take them."""
    add_int_option(parser, "--n-agents", "agents per copy", default=3, metavar="N")
    add_json_option(parser, "--env-kwargs", env_kwargs_help)


def script_parser(module: str, description: str | None, epilog: str | None = None) -> argparse.ArgumentParser:
    """The parser of a baselines script: every option's default shown once, after its help
    (:class:`pa_envs.cli.HelpFormatter`), named ``python -m <module>``, or ``pa-envs <command>``
    when the ``pa-envs`` command runs it."""
    called = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    prog = called if called.startswith("pa-envs") else f"python -m {module}"
    return argparse.ArgumentParser(
        prog=prog, description=description, epilog=epilog, formatter_class=HelpFormatter
    )


def existing_path(*suffixes: str) -> Callable[[str], Path]:
    """The type of an option naming a file that must exist (as given, or with one of ``suffixes``)."""

    def parse(text: str) -> Path:
        path = Path(text)
        if not any(Path(f"{path}{suffix}").is_file() for suffix in ("", *suffixes)):
            tried = " or ".join(repr(f"{path}{suffix}") for suffix in ("", *suffixes))
            raise argparse.ArgumentTypeError(f"no such file: {tried}")
        return path

    return parse


def pyplot() -> Any:
    """matplotlib's ``pyplot`` on the Agg backend: the plots are written to files, never shown."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig: Any, path: Path, dpi: int) -> Path:
    """Lay ``fig`` out, write it to ``path`` and close it (a sweep draws many); return ``path``."""
    fig.tight_layout()
    fig.savefig(path, dpi=dpi)
    pyplot().close(fig)
    return path


class _Lines:
    """What :func:`progress_bar` gives without tqdm: a line on stderr at most every 5 s."""

    def __init__(self, total: float | None, desc: str, unit: str) -> None:
        self.total, self.desc, self.unit = total, desc, unit
        self.n: float = 0
        self.postfix = ""
        self._last = time.monotonic()

    def update(self, n: float = 1) -> None:
        self.n += n
        if time.monotonic() - self._last >= 5.0:
            self.refresh()

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = text

    def refresh(self) -> None:
        self._last = time.monotonic()
        of = f"/{self.total:,.0f}" if self.total is not None else ""
        postfix = f" ({self.postfix})" if self.postfix else ""
        print(f"{self.desc}: {self.n:,.0f}{of} {self.unit}{postfix}", file=sys.stderr, flush=True)

    def write(self, text: str, file: Any = None) -> None:
        print(text, file=file or sys.stdout, flush=True)

    def close(self) -> None:
        self.refresh()


class _Silent(_Lines):
    def refresh(self) -> None:
        pass


def progress_bar(
    total: float | None, desc: str, unit: str = "it", *, enabled: bool = True, **options: Any
) -> Any:
    """A progress bar on stderr that shows itself at least every 5 s.

    tqdm's when it is installed (redrawn up to 10 times a second in a terminal; in a log
    file or a CI log, one line every 5 s so that the log stays readable; every 5 s too
    while nothing updates it), else a line every 5 s while it is updated.
    ``enabled=False`` gives one that shows nothing. Either has ``update(n)``,
    ``set_postfix_str(text)``, ``write(text, file=...)`` (a line that does not break the
    bar: use it for output printed while the bar runs) and ``close()``; ``options`` go
    to tqdm.
    """
    if not enabled:
        return _Silent(total, desc, unit)
    try:
        from tqdm import tqdm
    except ImportError:
        return _Lines(total, desc, unit)

    class Bar(tqdm):
        """tqdm, redrawn every 5 s when nothing updates it (a learner updating its policy
        plays no step for a while): its clock shows the work goes on."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._stopped = threading.Event()
            if not self.disable:
                threading.Thread(target=self._beat, daemon=True).start()

        def _beat(self) -> None:
            while not self._stopped.wait(1.0):
                if self._time() - self.last_print_t >= 5.0:  # type: ignore[has-type]
                    self.refresh()
                    self.last_print_t = self._time()

        def close(self) -> None:
            stopped = getattr(self, "_stopped", None)  # tqdm's __del__ may close a half-built bar
            if stopped is not None:
                stopped.set()
            super().close()

    interactive = sys.stderr.isatty()
    return Bar(
        total=total,
        desc=desc,
        unit=unit,
        file=sys.stderr,
        mininterval=0.1 if interactive else 5.0,
        dynamic_ncols=interactive,
        **options,
    )
