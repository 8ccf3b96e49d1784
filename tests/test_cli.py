"""The CLI shell: discovery of command modules, help, and the one-line error contract."""

import argparse

import pytest

import handpose.cli as cli
from handpose.errors import HandposeError


def test_help_lists_commands(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert "usage: handpose" in out
    # Every discovered command module appears in the help.
    parser = cli.build_parser()
    subactions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    for name in subactions[0].choices:
        assert name in out


def test_no_command_prints_help_and_succeeds(capsys):
    assert cli.main([]) == 0
    assert "usage: handpose" in capsys.readouterr().out


def test_user_error_is_one_line_and_exit_2(monkeypatch, capsys):
    def boom(args):
        raise HandposeError("the file 'x.h5' does not exist")

    parser = cli.build_parser

    def patched():
        p = parser()
        sub = next(a for a in p._actions if isinstance(a, argparse._SubParsersAction))
        sub.add_parser("boom").set_defaults(func=boom)
        return p

    monkeypatch.setattr(cli, "build_parser", patched)
    assert cli.main(["boom"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "handpose: error: the file 'x.h5' does not exist"
