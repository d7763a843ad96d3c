"""The `gan-zoo` help: it answers without loading Keras or a backend (which takes seconds),
names what every option does, and shows the defaults."""

import argparse
import os
import subprocess
import sys

import pytest

from gan_zoo import cli

HEAVY = ("tensorflow", "keras", "jax", "torch")
SUBCOMMANDS = ("train", "sweep", "generate", "evaluate", "convert")


def _subparsers(parser):
    """{name: parser} of the subcommands of `parser`."""
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def _has_default(action):
    """Whether argparse's `action` has a default to show: it is not unset (None), off (False)
    or hidden (SUPPRESS) unless given."""
    return all(action.default is not nothing for nothing in (None, False, argparse.SUPPRESS))


def _entries(help_text):
    """{option or positional: its help entry, whitespace collapsed} from argparse's help."""
    entries, lines = {}, []
    for line in help_text.splitlines():
        if line.startswith("  ") and not line.startswith("   "):  # an entry's first line
            lines = [line]
            entries[line.split()[0].rstrip(",")] = lines
        elif line.startswith("   ") and lines:  # its help, wrapped
            lines.append(line)
        else:
            lines = []
    return {name: " ".join(" ".join(lines).split()) for name, lines in entries.items()}


@pytest.mark.once
@pytest.mark.parametrize("command", ["", *SUBCOMMANDS])
def test_help_imports_no_keras_and_no_backend(command):
    """The console script, in a fresh interpreter, lists every module it imports."""
    result = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            os.path.join(os.path.dirname(sys.executable), "gan-zoo"),
            *command.split(),
            "--help",
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0 and "usage: gan-zoo" in result.stdout, result.stderr[-2000:]
    imported = {
        line.rpartition("|")[2].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:")
    }
    assert "gan_zoo.cli" in imported  # what is measured is the command line's import
    assert {name.partition(".")[0] for name in imported} & set(HEAVY) == set()


@pytest.mark.once
@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_every_option_says_what_it_does(name):
    parser = _subparsers(cli.build_parser())[name]
    undocumented = [action.dest for action in parser._actions if not (action.help or "").strip()]
    assert not undocumented


@pytest.mark.once
@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_help_shows_the_defaults(name):
    parser = _subparsers(cli.build_parser())[name]
    entries = _entries(parser.format_help())
    with_defaults = [action for action in parser._actions if _has_default(action)]
    assert with_defaults
    for action in with_defaults:
        entry = entries[action.option_strings[-1] if action.option_strings else action.dest]
        assert f"(default: {action.default})" in entry, entry


@pytest.mark.once
@pytest.mark.parametrize("name", SUBCOMMANDS)
def test_help_shows_no_default_for_options_unset_unless_given(name):
    """Such an option says in its help what happens without it, not "(default: None)"."""
    help_text = " ".join(_subparsers(cli.build_parser())[name].format_help().split())
    assert "(default: None)" not in help_text and "(default: False)" not in help_text
