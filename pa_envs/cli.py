"""The ``pa-envs`` command: list, describe and play the envs; train, benchmark and run the demo.

::

    pa-envs list                          # envs, presets, mechanisms, gymnasium ids
    pa-envs describe pollution_v0         # the env card and its exact references
    pa-envs play congestion_v0 --mechanism pigouvian
    pa-envs train --env commons_v0 --mechanism pigouvian --timesteps 100000
    pa-envs harness --envs pollution_v0 --agents PPO,q_learning --seeds 0,1
    pa-envs bench --sections single,vector
    pa-envs demo --quick

``train``, ``harness``, ``bench``, ``demo`` and ``references`` run the modules
of :mod:`pa_envs.experiments` (they need the ``sb3`` / ``experiments`` extras); every
subcommand has ``--help``. A wrong argument is a usage error (exit status 2)
and an error while a command runs is one line on stderr (exit status 1);
``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import inspect
import json
import os
import re
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, TextIO

import numpy as np

import pa_envs
from pa_envs import analysis, presets
from pa_envs.mechanisms import MECHANISM_DESCRIPTIONS, MECHANISM_NAMES, mechanism_builder, mechanism_env

if TYPE_CHECKING:
    from pa_envs.core.game import Game
    from pa_envs.core.parallel import PrincipalAgentParallelEnv
    from pa_envs.core.tabular import TabularModel

# Subcommands that hand their arguments to a module of pa_envs.experiments: (module, summary).
SCRIPTS: dict[str, tuple[str, str]] = {
    "train": ("pa_envs.experiments.train_sb3", "train SB3 agents (or the principal) against a mechanism"),
    "harness": ("pa_envs.experiments.harness", "benchmark algorithms over envs x principals x seeds"),
    "bench": ("pa_envs.experiments.bench_speed", "the performance benchmark suite"),
    "demo": (
        "pa_envs.experiments.experiment",
        "the main experiment: regret of four principals across run lengths",
    ),
    "references": ("pa_envs.experiments.references", "every env's exact references"),
}

MAX_PAIRS = 150_000
"""Largest exact model (state, action profile pairs) that ``describe`` and ``play`` solve unless told
otherwise: the commons at 100 agents (108,171 pairs) takes about 45 s to solve, and time grows faster
than the pairs with the number of agents."""


class UsageError(Exception):
    """A command's arguments describe something the library refuses: reported as a usage error (exit 2)."""


# -- plain text from the docstrings' reStructuredText ------------------------------------------------

# One inline construct of reST, earliest first: a literal is matched before anything inside it can be.
_INLINE = re.compile(
    r"``(?P<literal>.+?)``"
    r"|:(?P<role>[A-Za-z][\w.+-]*(?::[\w.+-]+)*):`(?P<target>[^`]+)`"
    r"|`(?P<title>[^`<]*?)\s*<(?P<url>[^`>]+)>`__?"
    r"|`(?P<interpreted>[^`]+)`_{0,2}"
    r"|\*\*(?P<strong>[^\s*](?:[^*]*?[^\s*])?)\*\*"
    r"|(?<![\w*\\])\*(?P<emphasis>[^\s*](?:[^*]*?[^\s*])?)\*(?![\w*])",
    re.S,
)
_DIRECTIVE = re.compile(r"^(?P<indent>\s*)\.\.(?:\s+(?P<name>[\w:-]+)::(?P<args>.*)|\s.*|)$")
_ADMONITIONS = {"note", "warning", "tip", "hint", "important", "caution", "attention", "danger", "error"}
_KEEP_CONTENT = {"math", "code", "code-block", "sourcecode", "highlight", "parsed-literal", "admonition"}
_LATEX: list[tuple[str, str | Callable[[re.Match[str]], str]]] = [
    (r"\\frac\{([^{}]*)\}\{([^{}]*)\}", lambda m: f"{_group(m[1])} / {_group(m[2])}"),
    (r"\\(?:mathrm|text|textrm|operatorname|mathbf|mathit|mathbb|mathcal)\{([^{}]*)\}", r"\1"),
    (r"\\(?:left|right)\b", ""),
    (r"\\(?:cdot|ast)\b", "*"),
    (r"\\times\b", "x"),
    (r"\\(?:leq?|leqslant)\b", "<="),
    (r"\\(?:geq?|geqslant)\b", ">="),
    (r"\\(?:neq?)\b", "!="),
    (r"\\approx\b", "~"),
    (r"\\infty\b", "inf"),
    (r"\\(?:to|rightarrow)\b", "->"),
    (r"\\(?:ldots|dots|cdots)\b", "..."),
    (r"\\[,;:! ]", " "),
    (r"\\([A-Za-z]+)", r"\1"),  # \sum, \alpha, \max: the word itself
    (r"([_^])\{([^{}]*)\}", lambda m: m[1] + _group(m[2])),
    (r"[{}]", ""),
]


def _group(text: str) -> str:
    """``text`` in brackets unless it is one token (``a`` stays, ``a + b`` becomes ``(a + b)``)."""
    return text if re.fullmatch(r"[\w.]*", text) else f"({text})"


def _latex(text: str) -> str:
    """LaTeX math as a terminal can show it: ``\\frac{a}{b}`` -> ``a / b``, ``\\le`` -> ``<=`` ..."""
    for pattern, replacement in _LATEX:
        previous = None
        while previous != text:  # \frac inside \frac: again until nothing changes
            previous, text = text, re.sub(pattern, replacement, text)
    return text


def _role(role: str, target: str) -> str:
    """The text a Sphinx role shows: ``:class:`~a.B``` -> ``B``, ``:meth:`X.f``` -> ``X.f()``."""
    kind = role.rsplit(":", 1)[-1]
    target = " ".join(target.split())
    titled = re.fullmatch(r"(.*?)\s*<(.+)>", target, re.S)
    if titled and titled[1]:
        return titled[1]
    if titled:
        target = titled[2]
    if kind == "math":
        return _latex(target)
    short = target.startswith("~")
    target = target.lstrip("~!")
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"{target}()" if kind in ("func", "meth") else target


def _inline(match: re.Match[str]) -> str:
    found = match.groupdict()
    if found["role"]:
        return _role(found["role"], found["target"])
    if found["url"]:
        return f"{found['title']} ({found['url']})" if found["title"] else found["url"]
    return next(value for key, value in found.items() if value is not None and key != "target")


def _directives(lines: list[str]) -> list[str]:
    """Directives as text: math and code keep their content, an admonition becomes ``Note: ...``,
    others (comments, targets, autodoc) go; a paragraph's ``::`` becomes ``:``."""
    out: list[str] = []
    i = 0
    while i < len(lines):
        match = _DIRECTIVE.match(lines[i])
        if match is None:
            line = lines[i]
            i += 1
            if line.strip() == "::":  # a literal block follows: its indentation says so already
                continue
            out.append(line[:-3] if line.endswith(" ::") else line[:-1] if line.endswith("::") else line)
            continue
        indent, name, args = (
            len(match["indent"]),
            (match["name"] or "").lower(),
            (match["args"] or "").strip(),
        )
        block = []
        i += 1
        while i < len(lines) and (not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > indent):
            block.append(lines[i])
            i += 1
        content = [line for line in block if not re.match(r"\s*:[\w-]+:", line)]  # the options go
        if name in _ADMONITIONS or name in ("seealso", "deprecated", "versionadded", "versionchanged"):
            label = {"seealso": "See also"}.get(name, name.capitalize())
            out.append(f"{match['indent']}{label}: {args}".rstrip())
            out.extend(content)
        elif name in _KEEP_CONTENT:
            if args and name in ("math", "admonition"):
                content.insert(0, " " * (indent + 4) + args)
            out.extend(_latex(line) if name == "math" else line for line in content)
    return out


def plain_text(text: str) -> str:
    """reStructuredText (a docstring, an env card) as plain terminal text.

    Roles show their text (``:class:`~pa_envs.core.game.Game``` -> ``Game``),
    literals and emphasis lose their markers, math is written out
    (``\\frac{a}{b + 1}`` -> ``a / (b + 1)``), admonitions read ``Note: ...``,
    math and code directives keep their content and other directives go.
    Section titles, lists and indentation stay as they are.
    """
    return _INLINE.sub(_inline, "\n".join(_directives(text.splitlines())))


def summary(doc: str | None) -> str:
    """The first paragraph of a docstring, in plain text, on one line."""
    first = inspect.cleandoc(doc or "").split("\n\n", 1)[0]
    return " ".join(plain_text(first).split())


def _env_card(name: str) -> str:
    """The env card of a registered env: its game's module docstring."""
    game_class = pa_envs.get_env_module(name).parallel_env_class.game_class
    return inspect.cleandoc(sys.modules[game_class.__module__].__doc__ or "")


# -- argument types: checked while parsing, so a bad value is a usage error ---------------------------


def env_or_preset(text: str) -> str:
    """A registered env or preset (``"<env>:<label>"``): an argparse ``type`` (an unknown name is
    a usage error naming the closest)."""
    try:
        presets.env_kwargs(text)
    except (KeyError, ValueError, TypeError) as error:
        raise argparse.ArgumentTypeError(message(error)) from None
    return text


def mechanism_name(text: str) -> str:
    """A name :func:`pa_envs.mechanisms.make_mechanism` builds: an argparse ``type``."""
    try:
        mechanism_builder(text)
    except (KeyError, ValueError) as error:
        raise argparse.ArgumentTypeError(message(error)) from None
    return text


def json_object(text: str) -> dict[str, Any]:
    """A JSON object of keyword arguments (an argparse ``type``)."""
    example = """write an object such as '{"amount": 2.0}'"""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(
            f"not valid JSON ({error.msg} at character {error.pos}): {text!r}; {example}"
        ) from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(
            f"expected a JSON object of keyword arguments, got {text!r}; {example}"
        )
    return value


def add_json_option(parser: argparse.ArgumentParser | argparse._ArgumentGroup, flag: str, help: str) -> None:
    """Add ``flag``: keyword arguments given as a JSON object (default: none); every command
    line of the suite spells its ``--*-kwargs`` options this way."""
    parser.add_argument(flag, type=json_object, default={}, metavar="JSON", help=help)


def int_at_least(low: int) -> Callable[[str], int]:
    """The type of an int option of at least ``low``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"must be an int >= {low}, got {text!r}")
        return value

    return parse


def add_int_option(
    parser: argparse.ArgumentParser | argparse._ArgumentGroup,
    flag: str,
    help: str,
    *,
    low: int = 1,
    default: int | None = None,
    metavar: str | None = None,
) -> None:
    """Add ``flag``: an int of at least ``low`` (a count, a size, a seed), refused with a usage
    error below it; every command line of the suite spells its int options this way."""
    parser.add_argument(flag, type=int_at_least(low), default=default, metavar=metavar, help=help)


def _unit_interval(text: str) -> float:
    """A number in [0, 1]."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 1.0:  # nan fails too
        raise argparse.ArgumentTypeError(f"must be a number in [0, 1], got {text!r}")
    return value


def message(error: BaseException) -> str:
    """An exception's message (a ``KeyError``'s without the quotes its ``str`` adds)."""
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


@contextlib.contextmanager
def _usage_errors(about: str = "") -> Iterator[None]:
    """What the library refuses in a configuration (names, types, ranges) is a usage error
    (its message after ``about: ``, which says what was being built)."""
    try:
        yield
    except (KeyError, ValueError, TypeError) as error:
        raise UsageError(f"{about}: {message(error)}" if about else message(error)) from error


# -- progress ------------------------------------------------------------------------------------------


class Progress:
    """Says on stderr what a slow task is doing, once it has run for ``delay`` seconds.

    A quick run prints nothing. A slow one prints the title, the current stage
    (set with :meth:`stage`) and the time so far: on a terminal one line
    rewritten in place, elsewhere (a log, a pipe) a line every ``interval``
    seconds; and, at the end, how long it took.

    Parameters
    ----------
    title : str
        What the task is.
    delay : float
        Seconds of silence before the first report.
    interval : float
        Seconds between reports where the line cannot be rewritten.
    stream : file, optional
        Where to write (default: ``sys.stderr`` when the task starts).
    """

    def __init__(
        self, title: str, *, delay: float = 2.0, interval: float = 5.0, stream: TextIO | None = None
    ):
        self.title = title
        self.delay = delay
        self.interval = interval
        self.stream = stream
        self._stage = ""
        self._shown = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start = 0.0

    def stage(self, text: str) -> None:
        """What the task is doing now (shown at the next report)."""
        self._stage = text  # one assignment: the reporting thread reads a whole string or the last

    def __enter__(self) -> Progress:
        self.stream = sys.stderr if self.stream is None else self.stream
        self._start = time.perf_counter()
        self._thread = threading.Thread(target=self._report, name="pa-envs progress", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, error_type: type[BaseException] | None, *rest: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            end = "done in" if error_type is None else "stopped after"
            self._write(f"{self.title}: {end} {time.perf_counter() - self._start:.1f} s", final=True)

    def _line(self) -> str:
        elapsed = time.perf_counter() - self._start
        return (
            f"{self.title}: {self._stage} ({elapsed:.0f} s)"
            if self._stage
            else f"{self.title} ({elapsed:.0f} s)"
        )

    def _report(self) -> None:
        if self._stop.wait(self.delay):
            return
        self._shown = True
        live = self._live()
        while True:
            self._write(self._line(), final=not live)
            if self._stop.wait(0.5 if live else self.interval):
                return

    def _live(self) -> bool:
        isatty = getattr(self.stream, "isatty", None)
        return bool(isatty and isatty())

    def _write(self, line: str, final: bool) -> None:
        assert self.stream is not None
        if self._live():  # rewrite the line in place; the last one stays
            self.stream.write(f"\r\x1b[K{line}" + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


# -- the commands ----------------------------------------------------------------------------------


def cmd_list(args: argparse.Namespace) -> None:
    """Print the envs, presets and mechanisms, each with one line on what it is, and the gymnasium ids."""
    sections = {
        "envs (pa-envs describe ENV)": {
            # The card's first line reads "<name>: <what it is>".
            name: _env_card(name).split("\n", 1)[0].split(":", 1)[-1].strip()
            for name in pa_envs.ENV_NAMES
        },
        "hard presets (wherever an env name goes)": {
            name: preset.summary for name, preset in presets.PRESETS.items()
        },
        "mechanisms (pa-envs play ENV --mechanism NAME)": {
            name: summary(MECHANISM_DESCRIPTIONS[name]) for name in MECHANISM_NAMES
        },
    }
    width = max(len(name) for rows in sections.values() for name in rows) + 2
    for title, rows in sections.items():
        print(f"{title}:")
        for name, description in rows.items():
            print(f"  {name:<{width}}{description}")
    print("gymnasium ids (gymnasium.make / gymnasium.make_vec):")
    for env_id in pa_envs.GYMNASIUM_IDS:
        print(f"  {env_id}")


def _parallel_env(args: argparse.Namespace, **extra: Any) -> PrincipalAgentParallelEnv:
    """The parallel env the arguments name: an env or a preset, with ``--env-kwargs`` and the
    ``--n-agents`` / ``--max-cycles`` given on top."""
    overrides = dict(args.env_kwargs)
    for key in ("n_agents", "max_cycles"):
        value = getattr(args, key, None)
        if value is None:
            continue
        if key in overrides and overrides[key] != value:
            option = "--" + key.replace("_", "-")
            raise UsageError(f"{key} given twice: {option} {value} and --env-kwargs {key}={overrides[key]!r}")
        overrides[key] = value
    with _usage_errors(args.env):
        return presets.parallel_env(args.env, **overrides, **extra)


def _exact_model(game: Game, max_pairs: int, instead: str) -> TabularModel:
    """The game's exact model, refused (a usage error) beyond ``max_pairs`` (state, profile) pairs."""
    with _usage_errors():  # the library refuses a model too big to hold, naming the parameters
        model = game.exact_model()
    if model.n_pairs > max_pairs:
        size = getattr(game, "model_size_description", lambda: f"n_agents={game.n_agents}")()
        raise UsageError(
            f"the exact model of {game.name} with {size} has {model.n_pairs:,} (state, action profile) "
            f"pairs, more than the {max_pairs:,} of --max-pairs: solving it may take many minutes. "
            f"Use fewer agents, raise --max-pairs to solve it anyway, or {instead}"
        )
    return model


def cmd_describe(args: argparse.Namespace) -> None:
    """Print an env's card as plain text and, unless ``--no-references``, its exact references."""
    env = _parallel_env(args)
    game = env.game
    model = None
    if not args.no_references:
        with Progress(f"building the exact model of {game.name}"):
            model = _exact_model(game, args.max_pairs, "pass --no-references for the card alone")
    print(plain_text(_env_card(game.name)))
    if args.env in presets.PRESETS:
        preset = presets.PRESETS[args.env]
        print(f"\nPreset {preset.name}: {preset.summary}.\n  Why a flat incentive falls short: {preset.why}.")
    if model is None:
        return
    sys.stdout.flush()  # the card now, while the references are solved
    with Progress(f"solving the exact references of {game.name} ({model.n_pairs:,} pairs)"):
        refs = analysis.exact_references(model, agent_discount=args.agent_discount)
    poa = refs.price_of_anarchy
    low, high = refs.laissez_faire_range
    print(
        f"\nExact references of {args.env} (N={game.n_agents}, {game.params.max_cycles} periods, "
        f"agents' discount {args.agent_discount:g}; expected welfare over one episode):"
    )
    print(f"  W*   (social optimum)        {refs.optimum.social_welfare:.2f}")
    print(f"  W_LF (laissez-faire)         {refs.laissez_faire.social_welfare:.2f}")
    print(f"  W_LF over its equilibria     [{low:.2f}, {high:.2f}]")
    print(f"  price of anarchy             {f'{poa:.3f}' if poa is not None else 'n/a'}")
    print(f"  welfare gap W* - W_LF        {refs.welfare_gap:.2f}")
    print(f"  Pigouvian transfers paid     {refs.pigouvian_outcome.transfers:.2f}")
    print(f"  ... implement the optimum    {'uniquely' if refs.pigouvian_unique else 'weakly'}")
    print(f"  model size                   {model.n_pairs:,} (state, action profile) pairs")


def _period_line(game: Game, period: int, state: dict[str, int], infos: dict[str, dict]) -> str:
    """One period in one line: the state it was played in, the actions (and signals, where they
    are outcomes), the transfers and the period's welfare."""
    rows = list(infos.values())
    actions = " ".join(game.action_names[row["action"]] for row in rows)
    signals = " ".join(game.signal_names[row["signal"]] for row in rows)
    shown = f"actions {actions}" + (f"  signals {signals}" if game.signal_names != game.action_names else "")
    transfers = " ".join(f"{row['transfer']:+.2f}" for row in rows)
    where = " ".join(f"{name}={value}" for name, value in state.items())
    return f"  {period:>4}  {where}  {shown}  transfers {transfers}  welfare {rows[0]['social_welfare']:+.2f}"


def cmd_play(args: argparse.Namespace) -> None:
    """Play one episode and print its welfare beside ``W*`` and ``W_LF`` (and each period on request)."""
    base = _parallel_env(args, render_mode="ansi")
    game = base.game
    periods = game.params.max_cycles
    model: TabularModel | None = None  # built when best responses or the references need it
    if args.agents == "best_response" or not args.no_references:
        with Progress(f"building the exact model of {game.name}"):
            model = _exact_model(game, args.max_pairs, "play --agents random --no-references")
    with Progress(f"{game.name}: {args.mechanism}, {periods} periods") as progress:
        progress.stage(f"preparing the mechanism {args.mechanism}")
        with _usage_errors(
            f"mechanism {args.mechanism} with --mechanism-kwargs {json.dumps(args.mechanism_kwargs)}"
        ):
            env = mechanism_env(base, args.mechanism, **args.mechanism_kwargs)
        references = None
        if model is not None and not args.no_references:
            progress.stage("solving W* and W_LF")
            references = (
                analysis.social_optimum(model).social_welfare,
                analysis.laissez_faire(model).social_welfare,
            )
        env.reset(seed=args.seed)
        generator = np.random.default_rng(args.seed)
        welfare = paid = 0.0
        if args.render:
            print(base.render())
        while env.agents:
            progress.stage(f"period {base.period + 1} of {periods}")
            state = game.describe_state(base.game_state())
            if args.agents == "random":
                actions = {agent: int(generator.integers(game.n_actions)) for agent in env.agents}
            else:
                assert model is not None  # built above for best responses
                index = int(model.state_index(base.game_state()))
                joint = analysis.best_responses(model, index, base.contract_in_force())
                actions = dict(zip(env.agents, joint.tolist(), strict=True))
            period = base.period
            _, _, _, _, infos = env.step(actions)
            shared = next(iter(infos.values()))
            welfare += shared["social_welfare"]
            paid += shared["total_transfers"]
            if args.render:
                print(base.render())
            elif args.periods:
                print(_period_line(game, period, state, infos))
    agents = "myopic best-response" if args.agents == "best_response" else "random"
    print(
        f"{args.env} (N={game.n_agents}, one episode of {periods} periods, seed {args.seed}): "
        f"mechanism {args.mechanism}, {agents} agents"
    )
    print(f"  episode welfare W            {welfare:10.2f}   (this seeded episode)")
    if references is not None:
        optimum, laissez_faire = references
        gap = optimum - laissez_faire
        print(f"  W*   social optimum          {optimum:10.2f}   (expected, same horizon)")
        print(f"  W_LF laissez-faire           {laissez_faire:10.2f}   (expected, myopic agents)")
        if abs(gap) > 1e-9:
            closed = (welfare - laissez_faire) / gap
            print(f"  share of W* - W_LF closed    {closed:10.1%}   (W - W_LF) / (W* - W_LF), one episode")
        else:
            print(f"  share of W* - W_LF closed    {'n/a':>10}   (W* = W_LF: no gap to close)")
    print(f"  transfers paid (net)         {paid:10.2f}")


def _script(module_name: str) -> Callable[[Sequence[str]], object]:
    def run(argv: Sequence[str]) -> object:
        import importlib

        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            raise SystemExit(
                f"pa-envs: error: {module_name} needs the optional dependencies "
                f'(pip install "pa_envs[sb3,experiments]"): {error}'
            ) from None
        return module.main(list(argv))

    return run


# -- the parser ------------------------------------------------------------------------------------


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """The terminal's help: every option's default after its help (unless it has none to show:
    a flag, a ``None`` whose help says what it stands for); prose filled to the terminal's width,
    indented blocks (the examples) laid out as written.

    Helps, descriptions and epilogs are written in reStructuredText, as the docs render them
    (``docs/cli.md``): here they are shown as plain text (:func:`plain_text`).
    """

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default is None or isinstance(action.default, bool):
            text = action.help
        else:
            text = super()._get_help_string(action)
        return plain_text(text) if text else text

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        paragraphs = []
        for paragraph in plain_text(text).strip("\n").split("\n\n"):
            lines = paragraph.splitlines()
            if any(line.startswith(" ") for line in lines):  # a literal block
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(paragraphs)


EXAMPLES = """\
Examples::

  pa-envs list
  pa-envs describe pollution_v0
  pa-envs describe commons_v0:hard --no-references
  pa-envs play pollution_v0 --mechanism best_flat_tax
  pa-envs play congestion_v0 --mechanism flat_tax --mechanism-kwargs '{"amount": 0.4}' --periods
  pa-envs train --help
"""

DESCRIBE_EXAMPLES = """\
Examples::

  pa-envs describe pollution_v0
  pa-envs describe grid_v0 --n-agents 5 --agent-discount 0.99
  pa-envs describe platform_v0:hard
  pa-envs describe commons_v0 --env-kwargs '{"growth_rate": 0.5}'
"""

PLAY_EXAMPLES = """\
Examples::

  pa-envs play pollution_v0                              # laissez-faire, one whole episode
  pa-envs play pollution_v0 --mechanism pigouvian --periods
  pa-envs play congestion_v0:hard --mechanism best_flat_tax
  pa-envs play pollution_v0 --mechanism flat_tax --mechanism-kwargs '{"amount": 2}'
  pa-envs play grid_v0 --agents random --max-cycles 10 --render
"""


def _env_options() -> argparse.ArgumentParser:
    """The options ``describe`` and ``play`` share: which env, its parameters and the model size."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "env",
        type=env_or_preset,
        help="a registered env or a hard preset such as pollution_v0:hard (see pa-envs list)",
    )
    add_int_option(parent, "--n-agents", "number of agents (default: the env's or preset's)", metavar="N")
    add_json_option(
        parent, "--env-kwargs", """other env parameters as a JSON object, e.g. ``'{"decay": 0.1}'``"""
    )
    add_int_option(
        parent,
        "--max-pairs",
        "largest exact model solved, in (state, action profile) pairs; larger ones are refused "
        "as they may take many minutes",
        default=MAX_PAIRS,
        metavar="PAIRS",
    )
    return parent


def _add_command(
    commands: argparse._SubParsersAction,
    name: str,
    handler: Callable[[argparse.Namespace], None],
    *,
    help: str,
    description: str,
    epilog: str | None = None,
) -> argparse.ArgumentParser:
    """Add the subcommand ``name``, which ``handler`` runs; those that take an env get its options."""
    parents = [] if name == "list" else [_env_options()]
    command = commands.add_parser(
        name,
        help=help,
        description=description,
        epilog=epilog,
        parents=parents,
        formatter_class=HelpFormatter,
    )
    command.set_defaults(handler=handler, parser=command)  # main() reports usage errors with its parser
    return command


def _add_debug(parser: argparse.ArgumentParser, default: object) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show the traceback of an error"
    )


def build_parser() -> argparse.ArgumentParser:
    """The ``pa-envs`` parser (its subcommands ``train`` ... ``references`` parse their own arguments)."""
    parser = argparse.ArgumentParser(
        prog="pa-envs",
        description=summary(__doc__),
        epilog=EXAMPLES,
        formatter_class=HelpFormatter,
    )
    _add_debug(parser, False)
    parser.add_argument("--version", action="version", version=f"%(prog)s {pa_envs.__version__}")
    commands = parser.add_subparsers(
        dest="command", metavar="COMMAND", title="commands", help="pa-envs COMMAND --help shows its options"
    )
    commands.required = True
    listing = _add_command(
        commands,
        "list",
        cmd_list,
        help="envs, presets and mechanisms with one line on each; gymnasium ids",
        description="List the registered envs, the hard presets and the mechanisms, each with one line on "
        "what it is, and the gymnasium ids.",
    )
    describe = _add_command(
        commands,
        "describe",
        cmd_describe,
        help="an env's card and its exact references",
        description="Print an env's card (players, actions, signals, dynamics, rewards, why it is hard) "
        "and its exact references: the social optimum W*, the laissez-faire equilibrium W_LF, the price "
        "of anarchy and the Pigouvian transfers, expected over one episode.",
        epilog=DESCRIBE_EXAMPLES,
    )
    describe.add_argument(
        "--agent-discount",
        type=_unit_interval,
        default=0.0,
        metavar="D",
        help="how far ahead agents look in the equilibria, in [0, 1] (0: myopic)",
    )
    describe.add_argument("--no-references", action="store_true", help="the card only: solve nothing")
    play = _add_command(
        commands,
        "play",
        cmd_play,
        help="one episode, with its welfare beside W* and W_LF",
        description="Play one whole episode of an env with a mechanism as the principal and print its "
        "welfare beside the social optimum W* and the laissez-faire W_LF (expected, same horizon) and "
        "the share of the gap W* - W_LF it closed.",
        epilog=PLAY_EXAMPLES,
    )
    play.add_argument(
        "--mechanism",
        type=mechanism_name,
        default="no_transfers",
        metavar="NAME",
        help=f"the principal: one of {', '.join(MECHANISM_NAMES)} (see pa-envs list)",
    )
    add_json_option(
        play,
        "--mechanism-kwargs",
        """the mechanism's keyword arguments as a JSON object, e.g. ``'{"amount": 2}'`` for flat_tax""",
    )
    play.add_argument(
        "--agents",
        choices=("best_response", "random"),
        default="best_response",
        help="how the agents act: myopic best responses to the contract posted, or uniformly at random",
    )
    add_int_option(
        play,
        "--max-cycles",
        "periods of the episode (default: the env's or preset's episode length)",
        metavar="T",
    )
    add_int_option(play, "--seed", "seed of the episode and of random agents", low=0, default=0)
    shown = play.add_mutually_exclusive_group()
    shown.add_argument("--periods", action="store_true", help="also print one line per period")
    shown.add_argument(
        "--render", action="store_true", help="also print the env's text rendering of each period"
    )
    play.add_argument(
        "--no-references",
        action="store_true",
        help="skip W* and W_LF (random agents then need no exact model)",
    )
    for command in (listing, describe, play):
        # Given after the subcommand too; SUPPRESS leaves the main parser's value alone otherwise.
        _add_debug(command, argparse.SUPPRESS)

    for name, (module, summary_line) in SCRIPTS.items():
        # The script parses its own arguments (and its own --help); this parser only lists it.
        commands.add_parser(
            name,
            help=summary_line,
            description=f"Run {module} ({summary_line}): ``pa-envs {name} --help`` lists its options.",
            add_help=False,
            formatter_class=HelpFormatter,
        )
    return parser


def _show_warning(message: Warning | str, *args: object, **kwargs: object) -> None:
    """A warning as one line of the command's own, not a path and line of the library's source."""
    print(f"pa-envs: warning: {message}", file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> None:
    """Run the ``pa-envs`` command with ``argv`` (default: ``sys.argv[1:]``)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    known = ["list", "describe", "play", *SCRIPTS]
    first = next((i for i, word in enumerate(argv) if not word.startswith("-")), None)
    if first is not None and argv[first] not in known:
        close = difflib.get_close_matches(argv[first], known, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        parser.error(f"unknown command {argv[first]!r}{hint}; commands: {', '.join(known)}")
    if first is not None and argv[first] in SCRIPTS and set(argv[:first]) <= {"--debug"}:
        # The script parses its own arguments; --debug (before or after the command) is ours.
        command, rest = argv[first], argv[first + 1 :]
        debug = "--debug" in argv[:first] or "--debug" in rest
        rest = [word for word in rest if word != "--debug"]

        def run_script() -> None:
            # The script's own parser names itself after argv[0]: "pa-envs train", not "pa-envs".
            program, sys.argv[0] = sys.argv[0], f"pa-envs {command}"
            try:
                _script(SCRIPTS[command][0])(rest)
            finally:
                sys.argv[0] = program

        _handle(
            command,
            debug,
            lambda message: parser.exit(2, f"pa-envs {command}: error: {message}\n"),
            run_script,
        )
        return
    args = parser.parse_args(argv)
    _handle(args.command, args.debug, args.parser.error, lambda: args.handler(args))


def _handle(command: str, debug: bool, usage: Callable[[str], object], run: Callable[[], object]) -> None:
    """Run a command: a :class:`UsageError` goes to ``usage`` (exit 2), another error is one line
    on stderr (exit 1); with ``debug`` either raises (its traceback shows)."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            run()
    except UsageError as error:
        if debug:
            raise
        usage(str(error))
    except KeyboardInterrupt:
        if debug:
            raise
        print("pa-envs: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    except BrokenPipeError:
        # The reader left (pa-envs describe ... | head): no traceback, and none when Python
        # flushes stdout on exit either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except Exception as error:  # one line, not a traceback; --debug shows it
        if debug:
            raise
        print(
            f"pa-envs {command}: error: {type(error).__name__}: {message(error)} "
            "(--debug shows the traceback)",
            file=sys.stderr,
        )
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
