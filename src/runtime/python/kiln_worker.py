"""Kiln's Python worker: imports a fal.App file and either describes it (inspect mode) or
serves its endpoints (serve mode), talking to the runtime in length-prefixed JSON frames,
reading fd 3 and writing fd 4, as src/runtime/runners/workerProtocol.ts defines.

    python -u -X utf8 kiln_worker.py --mode inspect|serve --app-file FILE [--class NAME]

stdout and stderr belong to the app: whatever it prints becomes its logs.
"""
from __future__ import annotations

import os
import sys

from kiln_harness.frames import FrameReader, FrameWriter
from kiln_harness.loader import UserCode, WorkerFailure

READ_FD = 3
WRITE_FD = 4
USAGE = "usage: kiln_worker.py --mode inspect|serve --app-file FILE [--class NAME]"
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
    if args.get("mode") not in ("inspect", "serve") or not args.get("app_file"):
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
    user = UserCode(args["app_file"])
    sys.argv = [user.file]
    phase = "import"
    try:
        module = user.import_module()
        phase = "find-class"
        classes = user.find_classes(module, args["class_name"], need_one=args["mode"] == "serve")
        if args["mode"] == "inspect":
            from kiln_harness.inspector import SourceIndex, inspect_app

            sources = SourceIndex()
            apps = [inspect_app(cls, sources) for cls in classes]
            apps.sort(key=lambda app: app["line"] or 0)
            writer.send({"type": "inspect", "file": user.file, "apps": apps})
            return 0
        from kiln_harness.server import run_serve

        phase = "setup"
        return run_serve(user, classes[0], FrameReader(READ_FD), writer)
    except WorkerFailure as failure:
        report(writer, failure)
        return 1
    except BaseException as exc:
        # Reading the class failed in a way the phases above did not foresee; still say where.
        report(writer, user.failure(phase, exc))
        return 1
    finally:
        writer.close()


def report(writer: FrameWriter, failure: WorkerFailure) -> None:
    sys.stderr.write(failure.error["traceback"] or failure.error["message"] + "\n")
    writer.send({"type": "failed", "phase": failure.phase, "error": failure.error})


def exit_now(code: int) -> None:
    """Exit without waiting for threads the app started (or handlers still running after the
    grace period): the runtime expects the process to end once it has said what it says."""
    try:
        if "logging" in sys.modules:
            sys.modules["logging"].shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
    finally:
        os._exit(code)


if __name__ == "__main__":
    exit_now(main(sys.argv[1:]))
