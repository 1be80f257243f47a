"""Kiln's Python worker: imports a fal.App file and either serves its endpoints (serve
mode) or describes it and becomes the template that runners are forked from (template mode,
kiln_harness/template.py), talking to the runtime in length-prefixed JSON frames, reading fd 3
and writing fd 4, as src/runtime/runners/workerProtocol.ts defines.

    python -u -X utf8 kiln_worker.py --mode template|serve --app-file FILE [--class NAME]

stdout and stderr belong to the app: whatever it prints becomes its logs.
"""
from __future__ import annotations

import os
import sys

from kiln_harness.frames import FrameReader, FrameWriter
from kiln_harness.loader import report_error, UserCode
from kiln_harness.process import exit_now

READ_FD = 3
WRITE_FD = 4
USAGE = "usage: kiln_worker.py --mode template|serve --app-file FILE [--class NAME]"
_FLAGS = {"--mode": "mode", "--app-file": "app_file", "--class": "class_name"}


def parse_args(argv: list) -> dict:
    """The three flags, as `--flag value` or `--flag=value` (argparse would cost every cold
    start several milliseconds)."""
    args: dict = {"class_name": None}
    rest = list(argv)
    while rest:
        flag, has_value, value = rest.pop(0).partition("=")
        if flag not in _FLAGS or not (has_value or rest):
            raise SystemExit("%s\nkiln_worker.py: unexpected argument %r" % (USAGE, flag))
        args[_FLAGS[flag]] = value if has_value else rest.pop(0)
    if args.get("mode") not in ("template", "serve") or not args.get("app_file"):
        raise SystemExit(USAGE)
    return args


def main(argv: list) -> int:
    args = parse_args(argv)
    try:
        for fd in (READ_FD, WRITE_FD):
            os.fstat(fd)
            # Processes the app starts must not hold the runtime's pipes open.
            os.set_inheritable(fd, False)
    except OSError:
        sys.stderr.write(
            "kiln_worker.py talks to the Kiln runtime over file descriptors 3 and 4; "
            "it is started by the runtime, not by hand\n"
        )
        return 2

    writer = FrameWriter(WRITE_FD)
    reader = FrameReader(READ_FD)
    user = UserCode(args["app_file"])
    sys.argv = [user.file]
    phase = "import"
    try:
        harness_fds = {}
        if args["mode"] == "template":
            from kiln_harness.template import open_fds

            harness_fds = open_fds()  # anything opened after this is the app's
        module = user.import_module()
        phase = "find-class"
        classes = user.find_classes(module, args["class_name"], need_one=args["mode"] == "serve")
        if args["mode"] == "serve":
            from kiln_harness.server import run_serve

            phase = "setup"
            return run_serve(user, classes[0], reader, writer)
        from kiln_harness.inspector import SourceIndex, inspect_app
        from kiln_harness.template import run_template

        sources = SourceIndex()
        apps = [inspect_app(cls, sources) for cls in classes]
        apps.sort(key=lambda app: app["line"] or 0)
        writer.send({"type": "inspect", "file": user.file, "apps": apps})
        if len(classes) != 1:
            return 0  # described; forking needs the one class the runtime names with --class
        phase = "setup"  # what can fail from here on is a snapshot's setup()
        return run_template(user, classes[0], reader, writer, harness_fds)
    except BaseException as exc:
        report_error(writer, user, phase, exc)
        return 1
    finally:
        writer.close()


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
