"""Generate ``docs/cli.md`` from the command line itself, so the reference cannot drift.

    python -m bayes_unlearn.cli.docgen > docs/cli.md

Every command, argument, option, default, example (the command's epilog) and exit code
comes from the Typer app; a test checks that the committed file matches this output.
"""

from __future__ import annotations

import typer.main

from .app import EXIT_CODES, app

INTRO = """\
# Command-line reference

*Generated from the CLI by `python -m bayes_unlearn.cli.docgen > docs/cli.md`; do not edit by hand.*

Conventions shared by every command:

- `--json` prints exactly one JSON object on stdout (NaN/inf become `null`); tables, progress
  bars and warnings go to stderr or are left out.
- `--quiet` / `-q` hides progress bars and tables (errors and warnings still print); it may
  come before or after the command (`bayes-unlearn forget model --rows 3 -q`).
  `--version` prints the version.
- A user error prints one line `error: …` on stderr, no traceback, and exits with the code
  below. Set `BAYES_UNLEARN_DEBUG=1` to see the traceback of an internal error.
- Row ids are strings: the 0-based data-row position, or the values of `--id-column` at fit time.
"""


def _cli():
    return typer.main.get_command(app)


def _escape(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _default(param) -> str:
    if param.required:
        return "required"
    default = param.default
    if getattr(param, "is_flag", False) and default is False:
        return "off"
    if default is None:
        return "—"
    return f"`{default}`"


def _option_names(param) -> str:
    names = list(param.opts) + list(param.secondary_opts)
    return ", ".join(f"`{n}`" for n in names)


def _type(param, ctx) -> str:
    text = param.display_type(ctx).strip("<>")
    if getattr(param, "min", None) is not None or getattr(param, "max", None) is not None:
        lo = "" if param.min is None else f"≥ {param.min}"
        hi = "" if param.max is None else f"≤ {param.max}"
        text = text.replace(" range", "") + " " + " ".join(x for x in (lo, hi) if x)
    return "flag" if text == "bool" else text


def command_section(name: str, command) -> str:
    ctx = command.make_context(name, [], resilient_parsing=True)
    usage = command.get_usage(ctx).replace("Usage: ", "", 1)
    lines = [f"## `bayes-unlearn {name}`", "", _escape(command.help or ""), "", "```",
             f"bayes-unlearn {usage}", "```", ""]
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    options = [p for p in command.params if p.param_type_name == "option"]
    if arguments:
        lines += ["| argument | type | description |", "|---|---|---|"]
        lines += [f"| `{p.name.upper()}` | {_type(p, ctx)} | {_escape(p.help or '')} |" for p in arguments]
        lines.append("")
    if options:
        lines += ["| option | type | default | description |", "|---|---|---|---|"]
        lines += [f"| {_option_names(p)} | {_type(p, ctx)} | {_default(p)} | {_escape(p.help or '')} |"
                  for p in options]
        lines.append("")
    if command.epilog:
        example = command.epilog.split("Example:", 1)[-1].strip()
        lines += ["Example:", "", "```", example, "```", ""]
    return "\n".join(lines)


def render_cli_reference() -> str:
    cli = _cli()
    parts = [INTRO, "## Global options", "", "| option | description |", "|---|---|"]
    parts += [f"| {_option_names(p)} | {_escape(p.help or '')} |" for p in cli.params
              if p.param_type_name == "option"]
    parts += ["| `--help` | Show a command's help, with an example, and exit. |", ""]
    parts += ["## Exit codes", "", "| code | meaning |", "|---|---|"]
    parts += [f"| {code} | {_escape(meaning)} |" for code, meaning in sorted(EXIT_CODES.items())]
    parts += ["| 130 | interrupted (Ctrl-C) |", ""]
    parts += ["## Commands", ""]
    parts += [f"- [`{name}`](#bayes-unlearn-{name}) — {_escape(cmd.get_short_help_str(200))}"
              for name, cmd in cli.commands.items()]
    parts.append("")
    for name, command in cli.commands.items():
        parts.append(command_section(name, command))
    return "\n".join(parts).rstrip() + "\n"


if __name__ == "__main__":
    print(render_cli_reference(), end="")
