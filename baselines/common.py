"""What the command lines of the baselines share."""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from typing import Any


def json_dict(text: str) -> dict:
    """Parse a JSON object given on the command line (an argparse ``type``)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"key\": 1}}', got {text!r}")
    return value


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
                if self._time() - self.last_print_t >= 5.0:
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
