"""Generate the env pages and the env tables of the docs from the registry and the env cards.

The single sources are :data:`pa_envs.ENV_NAMES` (which envs exist), the env card (the
docstring of the module that defines each env, ``pa_envs.envs.<...>``), its parameters class
(fields, defaults and the ``Attributes`` of its docstring), :data:`pa_envs.presets.PRESETS`
and :func:`pa_envs.views.view_ids`. The script writes only between marker comments::

    <!-- env-table:start ... -->            README.md, docs/index.md, docs/envs/index.md
    <!-- env-page:start ... -->             docs/envs/<env>.md: title, usage, gymnasium ids,
                                            rollout GIF, the env card, its parameters
    <!-- env-preset:start ... -->           docs/envs/<env>.md: the env's presets

and ends each block at ``<!-- <name>:end -->``; everything outside the markers is
hand-written (the measured tables, with the commands that measured them) and is kept as it
is. A registered env without a page gets one, with a hand-kept section to fill in. Run from
the repository root::

    python docs/make_env_pages.py            # rewrite the generated blocks
    python docs/make_env_pages.py --check    # exit 1, naming each file that is out of date

The env table's row comes from the ``In short`` entry of the env card, a field list with
``principal``, ``agents``, ``contractible signal`` and ``shared state``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the working tree's pa_envs, not an installed copy

import pa_envs  # noqa: E402  (needs the path above)
from pa_envs import presets  # noqa: E402
from pa_envs.views import view_ids  # noqa: E402

sys.path.insert(0, str(ROOT / "docs"))
from make_rollouts import OUT as ROLLOUTS  # noqa: E402  (the GIFs and how many periods they show)
from make_rollouts import PERIODS as ROLLOUT_PERIODS  # noqa: E402

SCRIPT = "python docs/make_env_pages.py"

# The env tables: the file and the prefix of its links to the env pages.
TABLES: dict[str, str] = {"README.md": "docs/envs/", "docs/index.md": "envs/", "docs/envs/index.md": ""}
TABLE_COLUMNS = ("principal", "agents", "contractible signal", "shared state")

# A generated block: its start marker (the whole comment, regenerated), its body, its end marker.
BLOCK = re.compile(r"<!-- (?P<name>[\w-]+):start\b.*?-->\n(?P<body>.*?)<!-- (?P=name):end -->", re.S)


class GenerationError(ValueError):
    """A page or a docstring the generator cannot read (a missing marker, entry or field)."""


# -- reading the sources ------------------------------------------------------------------------


def card_module(name: str) -> ModuleType:
    """The module that defines env ``name``: its docstring is the env card."""
    return sys.modules[pa_envs.ENVS[name].parallel_env.__module__]


def card_source(name: str) -> str:
    """The env card module's file, relative to the repository root (``pa_envs/envs/<...>.py``)."""
    return Path(inspect.getfile(card_module(name))).resolve().relative_to(ROOT).as_posix()


def md_inline(text: str) -> str:
    """reStructuredText inline markup of a docstring as Markdown: ````x```` -> ```x```,
    ``:role:`~a.b``` -> ```b```, ``:role:`text <target>``` -> ``text``."""
    text = re.sub(r":[\w:]+:`([^`<]*?)\s*<[^`>]*>`", r"\1", text)
    text = re.sub(r":[\w:]+:`~?(?:[\w.]*\.)?([^`.]+)`", r"`\1`", text)
    return re.sub(r"``(.+?)``", r"`\1`", text)


def table_cell(text: str) -> str:
    """One Markdown table cell: one line, pipes escaped (also inside code spans)."""
    return " ".join(md_inline(text).split()).replace("|", r"\|")


def title(name: str) -> str:
    """The page title: the first line of the env card, ``"<env>: what it is."``."""
    first = (card_module(name).__doc__ or "").strip().splitlines()[0]
    env, colon, rest = first.partition(":")
    if env != name or not colon:
        raise GenerationError(f"{card_source(name)}: the docstring's first line must read '{name}: ...'")
    return f"{name} — {rest.strip().rstrip('.')}"


def in_short(name: str) -> dict[str, str]:
    """The ``In short`` field list of the env card: one value per column of the env tables."""
    entry = re.search(r"^In short\n((?:[ \t]+\S.*\n)+)", card_module(name).__doc__ or "", re.M)
    fields = dict(re.findall(r"^\s+:([\w ]+): (.+)$", entry[1] if entry else "", re.M))
    missing = [column for column in TABLE_COLUMNS if column not in fields]
    if missing:
        raise GenerationError(
            f"{card_source(name)}: the env card has no {missing} in its 'In short' entry (a field list "
            f"with {', '.join(TABLE_COLUMNS)}); the env tables read it"
        )
    return {column: fields[column].strip() for column in TABLE_COLUMNS}


def attribute_docs(cls: type) -> dict[str, tuple[str, str]]:
    """``{field: (type, description)}`` from the numpy ``Attributes`` section of ``cls``'s
    docstring and of its bases' (the class's own entry wins)."""
    docs: dict[str, tuple[str, str]] = {}
    for klass in reversed(cls.__mro__):
        doc = inspect.cleandoc(klass.__dict__.get("__doc__") or "")
        section = re.search(r"^Attributes\n-+\n(.*?)(?:\n\S[^\n]*\n-+\n|\Z)", doc, re.M | re.S)
        if section is None:
            continue
        # "name : type" or "a, b : type" (numpy's form for several fields of one type)
        for entry in re.finditer(r"^(\w+(?:, \w+)*) : ([^\n]+)\n((?:[ \t]+[^\n]*\n?|\n)*)", section[1], re.M):
            for field in entry[1].split(", "):
                docs[field] = (entry[2].strip(), entry[3])
    return docs


def parameters_table(name: str) -> str:
    """The env's parameters: every field of its parameters class, its type, default and meaning."""
    params_class = pa_envs.ENVS[name].parallel_env_class.game_class.params_class
    docs = attribute_docs(params_class)
    rows = ["| parameter | type | default | meaning |", "|---|---|---|---|"]
    for field in dataclasses.fields(params_class):
        if field.name not in docs:
            raise GenerationError(
                f"{params_class.__module__}.{params_class.__name__}: the field {field.name!r} has no "
                "entry in the 'Attributes' section of its docstring (or its bases')"
            )
        kind, meaning = docs[field.name]
        default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
        rows.append(f"| `{field.name}` | {table_cell(kind)} | `{default!r}` | {table_cell(meaning)} |")
    # The class's "Notes" (constraints between fields), as a paragraph under the table.
    notes = re.search(
        r"^Notes\n-+\n(.*?)(?:\n\S[^\n]*\n-+\n|\Z)", inspect.cleandoc(params_class.__doc__ or ""), re.M | re.S
    )
    if notes:
        rows.append("\n" + " ".join(md_inline(notes[1]).split()))
    return "\n".join(rows)


# -- the generated blocks -----------------------------------------------------------------------


def start_marker(block: str, source: str) -> str:
    return (
        f"<!-- {block}:start: generated by {SCRIPT} from {source}; edit that, then run it "
        "(the text outside the markers is hand-kept) -->"
    )


def env_table(link_prefix: str) -> str:
    """The table of every registered env, its links relative to the page that holds it."""
    rows = ["| env | " + " | ".join(TABLE_COLUMNS) + " |", "|---" * (len(TABLE_COLUMNS) + 1) + "|"]
    for name in pa_envs.ENV_NAMES:
        cells = [table_cell(value) for value in in_short(name).values()]
        rows.append(f"| [`{name}`]({link_prefix}{name}.md) | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def page_head(name: str) -> str:
    """The generated top of an env page: title, usage, ids, rollout GIF, env card, parameters."""
    module = card_module(name)
    principal_id, agent_id = view_ids(name)
    params_class = pa_envs.ENVS[name].parallel_env_class.game_class.params_class
    game_class = pa_envs.ENVS[name].parallel_env_class.game_class
    return f"""# {title(name)}

```python
from pa_envs import {name}

env = {name}.parallel_env(n_agents=3)  # PettingZoo parallel API
aec = {name}.env(n_agents=3)  # AEC (Stackelberg) API
```

Gymnasium views: `{principal_id}` (the principal learns), `{agent_id}` (one agent learns).
Source: `{card_source(name)}` (`{params_class.__name__}`, `{game_class.__name__}`).

![{name}: a rollout under the Pigouvian mechanism](rollouts/{name}.gif)

*The first {ROLLOUT_PERIODS} periods of a seeded episode of `{name}` at its defaults, as its
`render_mode="rgb_array"` frames show them: the Pigouvian mechanism posts the contracts
and the agents play myopic best responses to them (the `"best_response"` behaviour).
Made by `python docs/make_rollouts.py`.*

## Env card

The docstring of `{module.__name__}`:

```{{eval-rst}}
.. automodule:: {module.__name__}
   :no-members:
   :no-index:
```

### Parameters

From `{params_class.__name__}` (every field is validated at construction: a bad value raises
a `ValueError` naming it, the expected range and the value received).

{parameters_table(name)}
"""


def preset_sections(name: str) -> str:
    """A section per preset of the env: its parameters, what changes and why it is hard."""
    sections = []
    for preset in (p for p in presets.PRESETS.values() if p.env == name):
        kwargs = ", ".join(f"{key}={value!r}" for key, value in preset.kwargs.items())
        sections.append(
            f"""## The hard preset `{preset.name}`

`presets.parallel_env("{preset.name}")` = `{name}.parallel_env({kwargs})`: {preset.summary}.
At its defaults the best flat incentive closes most of the gap; here it closes at most
{presets.FLAT_SHARE_LIMIT} of it (the tests check the bound), while the Pigouvian oracle's period-,
state- and agent-contingent transfers implement `W*`. Why: {preset.why}.
`python -m baselines.references --presets` recomputes its figures;
`python -m baselines.experiment --env {preset.name}` runs the four principals of
[the main experiment](../experiment.md) on it.
"""
        )
    return "\n".join(sections)


HAND_KEPT = """
## Exact references at the defaults

Hand-kept: the figures of `python -m baselines.references --env {name}`, with the date
and the command that measured them.
"""


def new_page(name: str) -> str:
    """The page of an env that has none yet: the generated blocks around a hand-kept section."""
    return (
        "<!-- env-page:start -->\n<!-- env-page:end -->\n"
        + HAND_KEPT.format(name=name)
        + "\n<!-- env-preset:start -->\n<!-- env-preset:end -->\n"
    )


# -- splicing the blocks into the files ---------------------------------------------------------


def fill(text: str, where: str, blocks: dict[str, tuple[str, Callable[[], str]]]) -> str:
    """``text`` with each named block's body replaced: ``blocks[name] = (source, make_body)``."""
    found = {match["name"] for match in BLOCK.finditer(text)}
    missing = sorted(set(blocks) - found)
    if missing:
        raise GenerationError(
            f"{where}: no block {missing}; mark it with '<!-- NAME:start -->' and '<!-- NAME:end -->' "
            "on lines of their own"
        )

    def body(match: re.Match[str]) -> str:
        if match["name"] not in blocks:
            return match[0]
        source, make = blocks[match["name"]]
        content = make().strip("\n")
        return f"{start_marker(match['name'], source)}\n{content + chr(10) if content else ''}" + (
            f"<!-- {match['name']}:end -->"
        )

    return BLOCK.sub(body, text)


def expected_files(root: Path = ROOT) -> dict[Path, str]:
    """Every generated file and the text the script would write there, from the files as they are."""
    files: dict[Path, str] = {}
    for relative, prefix in TABLES.items():
        path = root / relative
        files[path] = fill(
            path.read_text(encoding="utf-8"),
            relative,
            {
                "env-table": (
                    "pa_envs.ENV_NAMES and each env card's 'In short'",
                    lambda p=prefix: env_table(p),
                )
            },
        )
    for name in pa_envs.ENV_NAMES:
        path = root / "docs" / "envs" / f"{name}.md"
        text = path.read_text(encoding="utf-8") if path.is_file() else new_page(name)
        module = card_module(name).__name__
        files[path] = fill(
            text,
            path.relative_to(root).as_posix(),
            {
                "env-page": (f"the docstrings of {module}", lambda n=name: page_head(n)),
                "env-preset": ("pa_envs.presets.PRESETS", lambda n=name: preset_sections(n)),
            },
        )
    return files


def stale_files(root: Path = ROOT) -> list[str]:
    """What ``--check`` reports: each generated file that differs from what the script would
    write (or is missing), and each env page whose rollout GIF is missing."""
    problems = []
    for path, text in expected_files(root).items():
        relative = path.relative_to(root).as_posix()
        if not path.is_file():
            problems.append(f"{relative}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{relative}: out of date")
    for name in pa_envs.ENV_NAMES:
        if not (root / ROLLOUTS.relative_to(ROOT) / f"{name}.gif").is_file():
            problems.append(
                f"docs/envs/rollouts/{name}.gif: missing (run python docs/make_rollouts.py {name})"
            )
    return problems


def main(argv: list[str] | None = None) -> int:
    """Write the generated blocks (or, with ``--check``, report the stale files); return the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if a file is stale")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository root (default: this one)")
    args = parser.parse_args(argv)
    try:
        if args.check:
            problems = stale_files(args.root)
            for problem in problems:
                print(f"{problem}; regenerate with {SCRIPT}", file=sys.stderr)
            return 1 if problems else 0
        for path, text in expected_files(args.root).items():
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                path.write_text(text, encoding="utf-8")
                print(f"wrote {path.relative_to(args.root).as_posix()}")
    except GenerationError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
