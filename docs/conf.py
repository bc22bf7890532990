"""Sphinx configuration of the pa_envs documentation site.

Build (warnings are errors, as in CI: ``.ci/docs``)::

    .venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html

The pages are MyST Markdown (the same files the README links to); the API
reference is autodoc over the package's numpy-style docstrings.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Autodoc imports the package from the working tree, not from an installed copy.
sys.path.insert(0, str(ROOT))

import pa_envs  # noqa: E402  (needs the path above)

project = "pa_envs"
author = "pa_envs developers"
copyright = "pa_envs developers"
release = pa_envs.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxarg.ext",  # docs/cli.md: the pa-envs reference, generated from its parser
]

source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# -- MyST ---------------------------------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "dollarmath"]
# Anchors for ``page.md#section`` links (the existing pages link to sections).
myst_heading_anchors = 3

# -- autodoc and napoleon (numpy-style docstrings) ----------------------------------
autodoc_member_order = "bysource"
autodoc_default_options = {"show-inheritance": True}
autodoc_typehints = "signature"
# The reference shows what pa_envs documents. Methods that only override gymnasium's or
# PettingZoo's (``step``, ``reset``, ``render`` ...) would inherit those libraries'
# docstrings, whose Google-style "Returns:" blocks are not valid RST here.
autodoc_inherit_docstrings = False
napoleon_google_docstring = False
napoleon_numpy_docstring = True
# Dataclass fields listed under "Attributes" render as a field list, so they do not
# become a second description of the same attribute.
napoleon_use_ivar = True
# Headed blocks of the module docstrings that are not numpy sections: rendered as a
# rubric with their content (a docstring cannot hold a real section title).
napoleon_custom_sections = ["Env card", "Objectives", "Policies", "Contracts", "Conventions", "Agents"]

# Stable-Baselines3 (pa_envs.sb3) comes with the ``dev``/``sb3`` extras and is imported for
# real. Ray (pa_envs.rllib, the ``rllib`` extra) is large and pins its own gymnasium:
# the docs build without it.
autodoc_mock_imports = ["ray"]

# -- HTML -----------------------------------------------------------------------------
html_theme = "furo"
html_title = f"pa_envs {release}"
html_static_path: list[str] = []
html_theme_options = {"navigation_with_keys": True}


# -- one API section per registered env, generated from pa_envs.ENVS --------------------
# ``{pa-env-modules}`` (docs/api/envs.md) renders, for every env of the suite, the module
# that holds its env card (the module docstring), its parameters and its entry points, so
# a new env registered in pa_envs.ENV_NAMES appears without editing the docs.
from docutils import nodes  # noqa: E402
from docutils.statemachine import StringList  # noqa: E402
from sphinx.util.docutils import SphinxDirective  # noqa: E402


def env_card_module(name: str) -> str:
    """The module that defines env ``name`` (``pa_envs.envs.<...>``): its docstring is the env card."""
    return pa_envs.ENVS[name].parallel_env.__module__


class EnvModules(SphinxDirective):
    """One section per registered env: ``pa_envs.<name>`` and its env-card module, autodoc'd."""

    def run(self) -> list[nodes.Node]:
        sections = []
        for name in pa_envs.ENV_NAMES:
            card = env_card_module(name)
            section = nodes.section(
                ids=[nodes.make_id(f"env-{name}")], names=[nodes.fully_normalize_name(name)]
            )
            section += nodes.title(text=name)
            lines = [
                f"Import it as `from pa_envs import {name}`; the entry points and parameters below",
                f"are defined in `{card}`. Its page: [{name}](../envs/{name}.md).",
                "",
                # autodoc writes reStructuredText: parse it as such, not as MyST.
                "```{eval-rst}",
                f".. automodule:: {card}",
                "   :members:",
                "```",
            ]
            self.state.nested_parse(
                StringList(lines, source=self.get_source_info()[0]), self.content_offset, section
            )
            self.state.document.note_implicit_target(section, section)
            sections.append(section)
        return sections


# -- napoleon, adapted to the package's docstrings ---------------------------------------
# 1. Napoleon reads the first line of an attribute's or a property's docstring as
#    "type: description" and splits it at the first colon. The package's one-line
#    docstrings are sentences with colons ("The signal a flat tax targets unless told
#    otherwise: the one that marks ..."), which would render as a bogus type. Their types
#    come from the annotations; their docstrings are left as plain reStructuredText.
# 2. Env modules end their docstring (the env card) with a "Parameters" section of prose
#    that points to the parameters class; a module has no parameters, so there it is a
#    generic section (a rubric and its text), not a list of parameters.
import types  # noqa: E402

from sphinx.ext import napoleon  # noqa: E402
from sphinx.ext.napoleon.docstring import NumpyDocstring  # noqa: E402


def _napoleon_names() -> list[str]:
    values = napoleon.Config._config_values
    return [value[0] for value in values] if isinstance(values, (list, tuple)) else list(values)


def napoleon_docstring(app, what, name, obj, options, lines):
    if what in ("attribute", "property", "data"):
        return
    if what != "module":
        napoleon._process_docstring(app, what, name, obj, options, lines)
        return
    config = types.SimpleNamespace(**{key: getattr(app.config, key) for key in _napoleon_names()})
    config.napoleon_custom_sections = [*(config.napoleon_custom_sections or []), "Parameters"]
    lines[:] = NumpyDocstring(lines, config, app, what, name, obj, options).lines()


# -- known docstring problems in the package, silenced one by one ----------------------
# Each entry drops exactly one docutils warning: (the object whose docstring it comes
# from, the start of the message). Fix the docstring, then delete its entry.
# (docstring, message) pairs of known docutils warnings to drop; none at present.
KNOWN_DOCSTRING_WARNINGS: list[tuple[str, str]] = []


class KnownDocstringWarnings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        location, message = str(getattr(record, "location", "")), record.getMessage()
        return not any(
            f"docstring of {where}:" in location and message.startswith(text)
            for where, text in KNOWN_DOCSTRING_WARNINGS
        )


# Sphinx's logger for docutils' messages (sphinx.util.logging prefixes "sphinx.").
logging.getLogger("sphinx.sphinx.util.docutils").addFilter(KnownDocstringWarnings())


def setup(app):
    app.add_directive("pa-env-modules", EnvModules)
    for listener in list(app.events.listeners["autodoc-process-docstring"]):
        if listener.handler is napoleon._process_docstring:
            app.disconnect(listener.id)
            app.connect("autodoc-process-docstring", napoleon_docstring, priority=listener.priority)
    return {"parallel_read_safe": True}
