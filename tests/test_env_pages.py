"""docs/make_env_pages.py: the env pages and env tables are generated, current and complete."""

from __future__ import annotations

import dataclasses
import importlib.util
import shutil
from pathlib import Path

import pytest

import pa_envs
from pa_envs import presets
from pa_envs.views import view_ids

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("make_env_pages", ROOT / "docs" / "make_env_pages.py")
make_env_pages = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(make_env_pages)


def replace(path: Path, old: str, new: str) -> None:
    """Replace the first ``old`` in a file."""
    text = path.read_text(encoding="utf-8")
    assert old in text, (path, old)
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the files the generator reads and writes (and the rollout GIFs it checks)."""
    for relative in make_env_pages.TABLES:
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / relative, tmp_path / relative)
    for page in (ROOT / "docs" / "envs").glob("*_v*.md"):
        shutil.copy(page, tmp_path / "docs" / "envs" / page.name)
    shutil.copytree(ROOT / "docs" / "envs" / "rollouts", tmp_path / "docs" / "envs" / "rollouts")
    return tmp_path


def test_generated_files_are_current(capsys):
    """A new env, a docstring or a preset changed without regenerating fails here."""
    code = make_env_pages.main(["--check"])
    assert code == 0, f"stale generated docs:\n{capsys.readouterr().err}"


def test_check_names_the_stale_file_and_writing_fixes_it(tree, capsys):
    replace(tree / "docs" / "envs" / "grid_v0.md", "`recovery`", "`recovered`")
    replace(tree / "README.md", "| regulator |", "| king |")
    assert make_env_pages.main(["--check", "--root", str(tree)]) == 1
    err = capsys.readouterr().err
    assert "docs/envs/grid_v0.md: out of date" in err and "README.md: out of date" in err
    assert "pollution_v0.md" not in err  # only the stale files are named
    assert make_env_pages.main(["--root", str(tree)]) == 0
    assert make_env_pages.main(["--check", "--root", str(tree)]) == 0
    # The hand-written text outside the markers is kept as it was.
    assert read(tree / "README.md") == read(ROOT / "README.md")


def test_hand_written_text_outside_the_markers_is_kept(tree):
    index = tree / "docs" / "index.md"
    index.write_text(read(index) + "\nA hand-written line.\n", encoding="utf-8")
    assert make_env_pages.main(["--root", str(tree)]) == 0
    assert read(index).endswith("\nA hand-written line.\n")


def test_a_missing_page_or_gif_is_reported_and_a_page_is_created(tree, capsys):
    (tree / "docs" / "envs" / "commons_v0.md").unlink()
    (tree / "docs" / "envs" / "rollouts" / "grid_v0.gif").unlink()
    assert make_env_pages.main(["--check", "--root", str(tree)]) == 1
    err = capsys.readouterr().err
    assert "docs/envs/commons_v0.md: missing" in err
    assert "docs/envs/rollouts/grid_v0.gif: missing (run python docs/make_rollouts.py grid_v0)" in err
    assert make_env_pages.main(["--root", str(tree)]) == 0
    created = read(tree / "docs" / "envs" / "commons_v0.md")
    assert created.startswith("<!-- env-page:start")
    assert "## Exact references at the defaults" in created  # the hand-kept section to fill in
    assert "## The hard preset `commons_v0:hard`" in created


def test_a_file_without_its_markers_is_a_clear_error(tree, capsys):
    replace(tree / "docs" / "envs" / "index.md", "<!-- env-table:end -->", "")
    assert make_env_pages.main(["--check", "--root", str(tree)]) == 2
    assert "docs/envs/index.md: no block ['env-table']" in capsys.readouterr().err


def test_an_env_card_without_its_table_row_is_a_clear_error(monkeypatch):
    module = make_env_pages.card_module("grid_v0")
    monkeypatch.setattr(module, "__doc__", module.__doc__.replace(":shared state:", ":state:"))
    with pytest.raises(make_env_pages.GenerationError, match=r"grid\.py: .*\['shared state'\]"):
        make_env_pages.env_table("")


def test_inline_markup_becomes_markdown():
    text = "``x`` and :class:`~pa_envs.core.game.GameParams`, :attr:`stock_cap`, :func:`a <pa_envs.b>`"
    assert make_env_pages.md_inline(text) == "`x` and `GameParams`, `stock_cap`, a"
    assert make_env_pages.table_cell("``sum(|t|)``\n   next") == r"`sum(\|t\|)` next"


@pytest.mark.parametrize("name", pa_envs.ENV_NAMES)
def test_the_generator_covers_every_registered_env(name):
    head = make_env_pages.page_head(name)
    card = pa_envs.ENVS[name].parallel_env.__module__
    assert head.startswith(f"# {name} — ")
    assert f".. automodule:: {card}" in head  # the card, rendered once from the docstring
    assert head.count(".. automodule::") == 1
    for view in view_ids(name):
        assert f"`{view}`" in head
    assert f"rollouts/{name}.gif" in head
    params = pa_envs.ENVS[name].parallel_env_class.game_class.params_class
    for field in dataclasses.fields(params):
        assert f"| `{field.name}` |" in head, field.name
    assert f"| `max_cycles` | int | `{pa_envs.ENVS[name].parallel_env().game.params.max_cycles!r}` |" in head
    env_presets = [preset for preset in presets.PRESETS.values() if preset.env == name]
    sections = make_env_pages.preset_sections(name)
    for preset in env_presets:
        assert f"## The hard preset `{preset.name}`" in sections and preset.why in sections
    row = make_env_pages.in_short(name)
    assert all(row.values())
    for relative, prefix in make_env_pages.TABLES.items():
        assert f"| [`{name}`]({prefix}{name}.md) |" in read(ROOT / relative), relative
