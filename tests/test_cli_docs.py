"""The documentation against the CLI: README commands parse, docs/cli.md is current, every command
has an example that parses, and the global options behave."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from bayes_unlearn import __version__
from bayes_unlearn.cli import app
from bayes_unlearn.cli.app import EXIT_CODES
from bayes_unlearn.cli.docgen import render_cli_reference

ROOT = Path(__file__).resolve().parents[1]
CLI = typer.main.get_command(app)


def shell_commands(markdown: str, program: str = "bayes-unlearn") -> list[str]:
    """Command lines starting with ``program`` inside fenced code blocks (``$ `` prompts and ``\\`` joins)."""
    commands = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", markdown, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.strip().removeprefix("$ ")
            if line.startswith(program + " ") or line == program:
                commands.append(line.split(" #", 1)[0].strip())
    return commands


def parse_command_line(line: str):
    """Parse a ``bayes-unlearn …`` line with the CLI's own parser, without running the command.

    Returns (command name, parsed parameters); raises the parser's usage error when an option
    does not exist, a value does not convert, or a required option is missing.
    """
    args = shlex.split(line)[1:]
    group_ctx = CLI.make_context("bayes-unlearn", list(args), resilient_parsing=True)
    protected = getattr(group_ctx, "protected_args", None) or getattr(group_ctx, "_protected_args", [])
    rest = list(protected) + list(group_ctx.args)
    assert rest, f"no command in {line!r}"
    name, command, cmd_args = CLI.resolve_command(group_ctx, rest)
    assert command is not None, f"unknown command in {line!r}"
    ctx = command.make_context(name, list(cmd_args), parent=group_ctx)
    return name, ctx.params


def test_readme_keeps_the_two_setup_commands():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme.split("## Set-up", 1)[1].split("\n## ", 1)[0]
    assert "make demo" in setup and "make test" in setup


@pytest.mark.parametrize("doc", ["README.md", "docs/methods.md"])
def test_documented_commands_exist_and_their_options_parse(doc):
    lines = shell_commands((ROOT / doc).read_text(encoding="utf-8"))
    if doc == "README.md":
        assert len(lines) >= 5
    for line in lines:
        parse_command_line(line)  # raises on an unknown command or option


def test_the_parser_rejects_what_does_not_exist():
    # The README check must be able to fail: unknown commands and options are caught.
    with pytest.raises(Exception, match="unknown command|No such command"):
        parse_command_line("bayes-unlearn forgett model --rows 3")
    with pytest.raises(Exception, match="No such option"):
        parse_command_line("bayes-unlearn forget model --rowz 3")
    with pytest.raises(Exception, match="Missing (option|parameter)"):
        parse_command_line("bayes-unlearn fit data.csv --out m")
    name, params = parse_command_line("bayes-unlearn --quiet forget m --rows 3,4 --json")
    assert name == "forget" and params["rows"] == "3,4" and params["as_json"] is True


@pytest.mark.parametrize("name", sorted(CLI.commands))
def test_every_command_has_an_example_that_parses(name):
    command = CLI.commands[name]
    assert command.help, f"{name} has no description"
    epilog = command.epilog or ""
    match = re.search(r"Example:\s*(bayes-unlearn .+)", epilog)
    assert match, f"`{name} --help` shows no example (Typer epilog 'Example: bayes-unlearn {name} …')"
    example = match.group(1).split("   (", 1)[0].strip()
    assert parse_command_line(example)[0] == name
    result = CliRunner().invoke(app, [name, "--help"])
    assert result.exit_code == 0 and "Example:" in result.output


def test_docs_cli_md_is_generated_from_the_current_cli():
    committed = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    assert committed == render_cli_reference(), (
        "docs/cli.md is stale: run `.venv/bin/python -m bayes_unlearn.cli.docgen > docs/cli.md`")
    for name in CLI.commands:
        assert f"## `bayes-unlearn {name}`" in committed
    for code in EXIT_CODES:
        assert f"| {code} |" in committed


def test_version_and_quiet():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.strip() == f"bayes-unlearn {__version__}"
    result = CliRunner().invoke(app, ["--quiet", "info", "/nonexistent/model"])
    assert result.exit_code == 4 and result.stdout == ""
    assert result.stderr.strip().startswith("error:") and len(result.stderr.strip().splitlines()) == 1


def test_quiet_flag_may_follow_the_command(tmp_path, capsys):
    from bayes_unlearn.cli.app import hoist_quiet, main

    assert hoist_quiet(["forget", "m", "--rows", "3", "-q"]) == ["-q", "forget", "m", "--rows", "3"]
    assert hoist_quiet(["-q", "info", "m", "--quiet"]) == ["-q", "info", "m"]
    assert hoist_quiet(["predict", "m", "--", "-q"]) == ["predict", "m", "--", "-q"]
    with pytest.raises(SystemExit) as exit_info:
        main(["info", str(tmp_path / "missing-model"), "-q"])
    err = capsys.readouterr().err
    assert "No such option" not in err and "missing-model" in err
    assert exit_info.value.code == 4  # a model-file error, not a usage error (2)
