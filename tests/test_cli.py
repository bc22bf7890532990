"""The pa-envs command: help with defaults, --version, list, describe as plain text, play
beside the exact references, and errors as messages (exit 2 or 1), never tracebacks."""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import time

import pytest

import pa_envs
from pa_envs import analysis, cli, presets
from pa_envs.cli import main
from pa_envs.mechanisms import MECHANISM_NAMES, make_mechanism, mechanism_builder

# What reStructuredText leaves behind when it is printed as is.
MARKUP = re.compile(r"``|:[a-z]+(?::[a-z]+)*:`|`[^`]+`_|^\s*\.\. [\w-]+::", re.M)


def run(argv: list[str], capsys) -> tuple[int, str, str]:
    """``(exit status, stdout, stderr)`` of ``pa-envs argv`` run in this process."""
    try:
        main(argv)
        status = 0
    except SystemExit as stop:
        status = stop.code if isinstance(stop.code, int) else 1
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def run_process(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pa_envs.cli", *argv], capture_output=True, text=True, check=False
    )


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    (commands,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    return {"": parser, **commands.choices}


# -- help and version -----------------------------------------------------------------------------


@pytest.mark.parametrize("command", ["", "list", "describe", "play"])
def test_every_option_has_help_and_shows_its_default(command, capsys):
    parser = subcommands()[command]
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, (command, action.dest)
    status, out, _ = run([command, "--help"] if command else ["--help"], capsys)
    assert status == 0 and out.startswith(f"usage: pa-envs {command}".rstrip())
    for action in parser._actions:
        shows_default = action.option_strings and action.default not in (None, False, argparse.SUPPRESS)
        if shows_default:
            assert f"(default: {action.default})" in " ".join(out.split()), (command, action.dest)
    assert "``" not in out and ":func:" not in out


def test_help_names_the_defaults_users_ask_about(capsys):
    out = " ".join(run(["play", "--help"], capsys)[1].split())
    assert "(default: no_transfers)" in out and "(default: 0)" in out
    assert "--max-cycles T periods of the episode (default: the env's or preset's episode length)" in out
    assert "Examples:" in out and "pa-envs play pollution_v0 --mechanism pigouvian --periods" in out


def test_every_subcommand_has_help_text():
    parser = cli.build_parser()
    (commands,) = (action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in commands._choices_actions}
    assert set(helps) == {"list", "describe", "play", *cli.SCRIPTS} and all(helps.values())


@pytest.mark.slow
def test_help_everywhere_and_scripts_name_themselves():
    for argv in (
        ["--help"],
        ["describe", "--help"],
        ["play", "--help"],
        ["train", "--help"],
        ["harness", "--help"],
    ):
        result = run_process(argv)
        assert result.returncode == 0 and "usage" in result.stdout.lower(), (argv, result.stderr)
    assert run_process(["train", "--help"]).stdout.startswith("usage: pa-envs train")


def test_version(capsys):
    status, out, _ = run(["--version"], capsys)
    assert status == 0 and out == f"pa-envs {pa_envs.__version__}\n"


# -- list -----------------------------------------------------------------------------------------


def test_list_describes_every_env_preset_and_mechanism(capsys):
    status, out, _ = run(["list"], capsys)
    assert status == 0
    descriptions = {}
    for name in [*pa_envs.ENV_NAMES, *presets.PRESETS, *MECHANISM_NAMES]:
        match = re.search(rf"^  {re.escape(name)} +(\S.*)$", out, re.M)
        assert match, f"{name} has no line with a description"
        descriptions[name] = match[1]
    assert not MARKUP.search(out)
    # One line tells each mechanism from the others (flat_tax, flat_schedule, best_flat_tax ...).
    assert len({descriptions[name] for name in MECHANISM_NAMES}) == len(MECHANISM_NAMES)
    assert "pa_envs/Pollution-Agent-v0" in out


def test_mechanism_descriptions_come_from_the_docstrings():
    for name in MECHANISM_NAMES:
        builder = mechanism_builder(name)
        assert cli.summary(builder.__doc__).split()[:3] == cli.plain_text(builder.__doc__).split()[:3]
    with pytest.raises(ValueError, match=r"did you mean 'pigouvian'\?"):
        mechanism_builder("pigouvan")


def test_every_listed_mechanism_is_built_by_make_mechanism():
    env = pa_envs.pollution_v0.parallel_env(max_cycles=3)
    kwargs = {
        "flat_schedule": {"transfers": [0.0, 0.0, -1.0]},
        "flat_tax": {"amount": 1.0},
        "budgeted": {"mechanism": "no_transfers", "budget": 1.0},
        "two_phase": {"total_periods": 30},
    }
    for name in MECHANISM_NAMES:
        assert make_mechanism(name, env, **kwargs.get(name, {})) is not None, name


# -- describe -------------------------------------------------------------------------------------


@pytest.mark.parametrize("env", pa_envs.ENV_NAMES)
def test_describe_prints_the_card_as_plain_text(env, capsys):
    status, out, _ = run(["describe", env, "--no-references"], capsys)
    assert status == 0 and "Env card" in out and out.startswith(f"{env}:")
    assert not MARKUP.search(out), MARKUP.search(out)


def test_describe_prints_the_exact_references(capsys):
    status, out, _ = run(["describe", "congestion_v0", "--n-agents", "2"], capsys)
    model = pa_envs.congestion_v0.parallel_env(n_agents=2).game.exact_model()
    optimum = analysis.social_optimum(model).social_welfare
    assert status == 0 and "Env card" in out and "price of anarchy" in out
    assert re.search(rf"W\*   \(social optimum\) +{optimum:.2f}\n", out)


def test_describe_a_preset_says_what_it_changes(capsys):
    status, out, _ = run(["describe", "pollution_v0:hard", "--no-references"], capsys)
    assert (
        status == 0
        and "Preset pollution_v0:hard" in out
        and presets.PRESETS["pollution_v0:hard"].summary in out
    )


def test_describe_refuses_a_model_too_big_at_once(capsys):
    start = time.perf_counter()
    status, out, err = run(["describe", "commons_v0", "--n-agents", "200"], capsys)
    assert time.perf_counter() - start < 20
    assert status == 2 and out == ""
    assert f"{cli.MAX_PAIRS:,}" in err and "--max-pairs" in err and "--no-references" in err
    status, out, _ = run(["describe", "commons_v0", "--n-agents", "200", "--no-references"], capsys)
    assert status == 0 and "Env card" in out


def test_plain_text_of_restructured_text():
    text = (
        "See :class:`~pa_envs.core.game.Game`, :func:`pa_envs.analysis.equilibrium`, "
        ":meth:`~Mechanism.state_dict` and :class:`the game <pa_envs.core.game.Game>`.\n"
        "A ``literal * with stars *``, *emphasis*, **strong**, `a link <https://x.org>`_ and 2 * 3 * 4.\n"
        "Math :math:`\\frac{a}{b + 1} \\le \\alpha_{i}`.\n\n"
        ".. note:: Mind the *gap*.\n\n"
        ".. math::\n\n   W^* = \\sum_{t} r_t\n\n"
        ".. autoclass:: Hidden\n   :members:\n\n"
        "Code::\n\n    x = 1\n"
    )
    assert cli.plain_text(text) == (
        "See Game, pa_envs.analysis.equilibrium(), state_dict() and the game.\n"
        "A literal * with stars *, emphasis, strong, a link (https://x.org) and 2 * 3 * 4.\n"
        "Math a / (b + 1) <= alpha_i.\n\n"
        "Note: Mind the gap.\n\n"
        "\n   W^* = sum_t r_t\n\n"
        "Code:\n\n    x = 1"
    )


# -- play -----------------------------------------------------------------------------------------


def test_play_prints_welfare_beside_the_references(capsys):
    status, out, _ = run(["play", "pollution_v0", "--max-cycles", "5"], capsys)
    model = pa_envs.pollution_v0.parallel_env(max_cycles=5).game.exact_model()
    optimum = analysis.social_optimum(model).social_welfare
    laissez_faire = analysis.laissez_faire(model).social_welfare
    assert status == 0 and "5 periods" in out
    assert re.search(rf"W\*   social optimum +{optimum:.2f} ", out)
    assert re.search(rf"W_LF laissez-faire +{laissez_faire:.2f} ", out)
    assert re.search(r"episode welfare W +-?\d+\.\d\d", out) and "share of W* - W_LF closed" in out
    assert "period" not in out.split("\n", 1)[1]  # no per-period lines unless asked


def test_play_defaults_to_one_whole_episode_and_shows_periods_on_request(capsys):
    periods = pa_envs.congestion_v0.parallel_env().game.params.max_cycles
    status, out, _ = run(["play", "congestion_v0", "--periods"], capsys)
    lines = [line for line in out.splitlines() if re.match(r"\s+\d+  queue=", line)]
    assert status == 0 and len(lines) == periods and f"{periods} periods" in out
    status, out, _ = run(["play", "grid_v0", "--agents", "random", "--max-cycles", "2", "--render"], capsys)
    assert status == 0 and out.count("grid_v0  period") == 3


def test_play_a_preset_with_a_mechanism_and_its_kwargs(capsys):
    argv = ["play", "congestion_v0:hard", "--mechanism", "flat_tax", "--mechanism-kwargs", '{"amount": 0.5}']
    status, out, _ = run(argv, capsys)
    assert status == 0 and "mechanism flat_tax" in out and "W_LF" in out


# -- errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (["describ", "pollution_v0"], "did you mean 'describe'"),
        (["describe", "polution_v0"], "did you mean 'pollution_v0'"),
        (["describe", "pollution_v0:hrd"], "did you mean 'pollution_v0:hard'"),
        (["play", "pollution_v0", "--mechanism", "pigouvan"], "did you mean 'pigouvian'?"),
        (
            ["describe", "pollution_v0", "--n-agents", "0"],
            "argument --n-agents: must be an int >= 1, got '0'",
        ),
        (["play", "pollution_v0", "--max-cycles", "ten"], "argument --max-cycles: must be an int >= 1"),
        (["play", "pollution_v0", "--seed", "-1"], "argument --seed: must be an int >= 0"),
        (["describe", "pollution_v0", "--agent-discount", "2"], "must be a number in [0, 1], got '2'"),
        (["describe", "pollution_v0", "--env-kwargs", "{decay: 1}"], "not valid JSON"),
        (["describe", "pollution_v0", "--env-kwargs", "[1]"], "expected a JSON object"),
        (
            ["describe", "pollution_v0", "--env-kwargs", '{"decay": 7}'],
            "decay must be a finite number in [0, 1]",
        ),
        (["describe", "pollution_v0", "--env-kwargs", '{"dekay": 0.1}'], "unknown parameter(s) ['dekay']"),
        (
            ["describe", "pollution_v0", "--n-agents", "4", "--env-kwargs", '{"n_agents": 3}'],
            "n_agents given twice",
        ),
        (
            ["play", "pollution_v0", "--mechanism", "flat_tax"],
            "missing 1 required positional argument: 'amount'",
        ),
        (
            ["play", "pollution_v0", "--mechanism", "flat_tax", "--mechanism-kwargs", '{"amount": 9}'],
            "max_transfer",
        ),
        (["play", "pollution_v0", "--periods", "--render"], "not allowed with argument --periods"),
    ],
)
def test_bad_arguments_are_usage_errors(argv, fragment, capsys):
    status, out, err = run(argv, capsys)
    assert out == ""
    assert status == 2 and fragment in err and "usage: pa-envs" in err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("pa-envs")


def test_a_usage_error_in_a_fresh_process_has_no_traceback():
    result = run_process(
        ["play", "pollution_v0", "--mechanism", "flat_tax", "--mechanism-kwargs", '{"amount": "x"}']
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.splitlines()[-1].startswith("pa-envs play: error: mechanism flat_tax")


def test_an_error_while_running_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    def fails(args: argparse.Namespace) -> None:
        raise RuntimeError("the solver gave up")

    monkeypatch.setattr(cli, "cmd_list", fails)
    status, _, err = run(["list"], capsys)
    assert (
        status == 1
        and err == "pa-envs list: error: RuntimeError: the solver gave up (--debug shows the traceback)\n"
    )
    for argv in (["--debug", "list"], ["list", "--debug"]):
        with pytest.raises(RuntimeError, match="the solver gave up"):
            main(argv)


def test_library_warnings_are_one_line(capsys):
    status, _, err = run(["describe", "pollution_v0:hard", "--n-agents", "4", "--no-references"], capsys)
    assert status == 0 and err.startswith(
        "pa-envs: warning: pollution_v0:hard: overriding the preset's ['n_agents']"
    )
    assert err.count("\n") == 1


# -- progress -------------------------------------------------------------------------------------


def test_progress_is_silent_when_quick_and_reports_when_slow():
    quiet = io.StringIO()
    with cli.Progress("quick", stream=quiet):
        pass
    assert quiet.getvalue() == ""
    slow = io.StringIO()
    progress = cli.Progress("slow task", delay=0.0, interval=0.05, stream=slow)
    progress.stage("period 1 of 9")
    with progress:
        time.sleep(0.2)
    lines = slow.getvalue().splitlines()
    assert lines[0].startswith("slow task: period 1 of 9 (") and re.fullmatch(
        r"slow task: done in \d+\.\d s", lines[-1]
    )


# -- the scripts' subcommands ---------------------------------------------------------------------


def script_parsers() -> dict[str, argparse.ArgumentParser]:
    from pa_envs.experiments import harness, references, train_sb3

    return {
        "train": train_sb3.build_parser(),
        "harness": harness.build_parser(),
        "references": references.build_parser(),
    }


@pytest.mark.parametrize("command", ["train", "harness", "references"])
def test_every_script_option_has_help_and_shows_its_default_once(command, capsys):
    parser = script_parsers()[command]
    status, out, _ = run([command, "--help"], capsys)
    assert status == 0 and out.startswith(f"usage: pa-envs {command}")
    flat = " ".join(out.split())
    for action in parser._actions:
        assert action.help and action.help != argparse.SUPPRESS, (command, action.dest)
        if action.option_strings and action.default not in (None, False, argparse.SUPPRESS):
            assert flat.count(f"(default: {action.default})") >= 1, (command, action.dest)
    assert "(default: None)" not in flat and "(default: every env) (default:" not in flat
    assert flat.count("(default:") == len(re.findall(r"\(default:", flat))
    assert "``" not in out


def test_scripts_run_as_modules_name_themselves():
    result = subprocess.run(
        [sys.executable, "-m", "baselines.train_sb3", "--help"], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0 and result.stdout.startswith("usage: python -m baselines.train_sb3")


@pytest.mark.parametrize(
    ("argv", "fragment"),
    [
        (
            ["train", "--env", "congestion"],
            "argument --env: no env named 'congestion'; did you mean 'congestion_v0'?",
        ),
        (["train", "--mechanism", "pigouvan"], "did you mean 'pigouvian'?"),
        (["train", "--env-kwargs", '{"foo": 1}'], "--env-kwargs: unknown parameter(s) ['foo']"),
        (["train", "--n-envs", "0"], "argument --n-envs: must be an int >= 1"),
        (["train", "--n-agents", "0"], "argument --n-agents: must be an int >= 1"),
        (["train", "--timesteps", "-5"], "argument --timesteps: must be an int >= 0"),
        (["train", "--timesteps", "0", "--load", "/nonexist"], "argument --load: no such file"),
        (["--debug", "train", "--n-envs", "0"], "argument --n-envs"),
        (["train", "--n-envs", "0", "--debug"], "argument --n-envs"),
        (["harness", "--env-kwargs", '{"foo": 1}'], "unknown parameter(s) ['foo']"),
        (["harness", "--jobs", "0"], "argument --jobs: must be an int >= 1"),
        (
            ["references", "--env", "polution_v0"],
            "argument --env: no env named 'polution_v0'; did you mean 'pollution_v0'",
        ),
    ],
)
def test_script_subcommands_report_bad_arguments_as_usage_errors(argv, fragment, capsys):
    status, _, err = run(argv, capsys)
    assert status == 2 and fragment in err, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].startswith("pa-envs ")


def test_an_error_in_a_script_is_one_line_and_debug_shows_the_traceback(monkeypatch, capsys):
    from pa_envs.experiments import references

    def fails(argv: list[str]) -> None:
        raise RuntimeError("the solver gave up")

    monkeypatch.setattr(references, "main", fails)
    status, _, err = run(["references"], capsys)
    assert status == 1 and err == (
        "pa-envs references: error: RuntimeError: the solver gave up (--debug shows the traceback)\n"
    )
    for argv in (["--debug", "references"], ["references", "--debug"]):
        with pytest.raises(RuntimeError, match="the solver gave up"):
            main(argv)


def test_did_you_mean_names_the_closest_names_as_text():
    from pa_envs.core.names import did_you_mean

    assert did_you_mean("insurance", ["insurance_v0", "pollution_v0"]) == "; did you mean 'insurance_v0'?"
    assert did_you_mean("abc", ["abx", "aby"]) == "; did you mean 'aby' or 'abx'?"
    assert did_you_mean("abc", ["abx", "aby", "abz"]) == "; did you mean 'abz', 'aby' or 'abx'?"
    assert did_you_mean("zzz", ["abc"]) == ""
