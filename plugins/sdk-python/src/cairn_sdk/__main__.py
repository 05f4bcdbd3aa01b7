"""``python -m cairn_sdk build APP -o OUT.wasm``: makes a step plugin component.

APP is the module that assigns ``Step = cairn_sdk.export(...)``, found in the
current directory (or the directories given with ``-p``). The build runs
componentize-py against the ``cairn:step`` WIT this package carries.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

WORLD = "cairn:step/plugin@0.2.0"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cairn_sdk", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    build = commands.add_parser("build", help="build a step plugin component")
    build.add_argument("app", help="the module that exports the step, e.g. app")
    build.add_argument("-o", "--output", required=True, help="the .wasm file to write")
    build.add_argument(
        "-p", "--python-path", action="append", default=[],
        help="a directory to find the app and its modules in (default: the current directory)",
    )
    commands.add_parser("wit", help="print the directory of the WIT this SDK builds against")
    args = parser.parse_args(argv)

    wit = Path(__file__).parent / "wit"
    if args.command == "wit":
        print(wit)
        return 0

    from componentize_py import script

    # The component gets the app's directories and this package, copied
    # alone (without its WIT) so that nothing else installed beside it is
    # bundled into every plugin.
    with tempfile.TemporaryDirectory(prefix="cairn-sdk-") as sdk_path:
        shutil.copytree(
            Path(__file__).parent,
            Path(sdk_path) / "cairn_sdk",
            ignore=shutil.ignore_patterns("wit", "__main__.py", "__pycache__"),
        )
        command = ["componentize-py", "-q", "-d", str(wit), "-w", WORLD, "componentize", args.app]
        for path in [*(args.python_path or ["."]), sdk_path]:
            command += ["-p", path]
        command += ["-o", args.output]
        sys.argv = command
        try:
            return script() or 0
        except AssertionError as error:
            # componentize-py reports a failed import as an assertion with a
            # Rust backtrace; the Python part is what the author needs.
            print(str(error).split("\n\nStack backtrace:")[0], file=sys.stderr)
            return 1


if __name__ == "__main__":
    sys.exit(main())
