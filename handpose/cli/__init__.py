"""The ``handpose`` command line: a thin layer over the Python API.

Every module in this package that defines ``register(subparsers)`` adds one top-level command
(``hand``, ``synth``, ``data``, ...). Modules import heavy libraries (torch, h5py) inside their
handlers, so ``handpose --help`` stays fast.

Errors a user can cause raise :class:`handpose.errors.HandposeError`; ``main`` prints its message
on one line and exits with status 2. Command-line mistakes (an unknown option, a value out of
range: the option types of :mod:`handpose.utils.validate`) get the same one line, naming the
option, instead of argparse's usage block.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import NoReturn

from handpose import __version__
from handpose.errors import HandposeError


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line errors: ``handpose: error: <what> (see `<command> --help`)``."""

    def error(self, message: str) -> NoReturn:
        message = " ".join(message.split())
        self.exit(2, f"handpose: error: {message} (see `{self.prog} --help`).\n")


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
        prog="handpose",
        description="3D hand pose and mesh estimation: hand model, metrics, simulators, estimators.",
    )
    parser.add_argument("--version", action="version", version=f"handpose {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # a command-line error (one line printed): status 2, like others
        if exc.code == 2:
            return 2
        raise  # --help, --version
    func = getattr(args, "func", None)
    if func is None:
        # A group without its subcommand (e.g. `handpose hand`): show that group's help.
        group = getattr(args, "_group_parser", parser)
        group.print_help()
        if args.command is None:
            return 0
        print(f"handpose: error: `{group.prog}` needs a subcommand (see above).", file=sys.stderr)
        return 2
    try:
        result = func(args)
    except HandposeError as err:
        _clear_progress_bars()
        print(f"handpose: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("handpose: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


def _clear_progress_bars() -> None:
    """Erase unfinished tqdm bars on a terminal, so the error is the one line left."""
    tqdm = sys.modules.get("tqdm")
    if tqdm is None:
        return
    for bar in list(getattr(tqdm.tqdm, "_instances", ())):
        bar.leave = False
        bar.close()


def add_group(subparsers, name: str, help: str) -> argparse._SubParsersAction:
    """Add a command group (``handpose NAME SUBCOMMAND``) and return its subparsers."""
    group = subparsers.add_parser(name, help=help, description=help)
    group.set_defaults(_group_parser=group)
    return group.add_subparsers(dest=f"{name}_command", metavar="SUBCOMMAND")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
