"""Importing the user's app file, finding its fal.App classes, and describing failures by
the user's own file and line rather than by a frame inside fal or the harness."""
from __future__ import annotations

import importlib.machinery
import importlib.util
import os
import re
import sys
import traceback
from types import ModuleType, TracebackType
from typing import Any, Dict, List, Optional

HARNESS_ROOT = os.path.dirname(os.path.dirname(os.path.realpath(__file__)))
_INSTALLED = {"site-packages", "dist-packages"}


class WorkerFailure(Exception):
    """A failure the worker reports as a `failed` frame before exiting 1."""

    def __init__(self, phase: str, error: Dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.phase = phase
        self.error = error


def log_failure(failure: WorkerFailure) -> None:
    """The failure in the logs, with the whole traceback."""
    sys.stderr.write(failure.error["traceback"] or failure.error["message"] + "\n")


def report_failure(writer: Any, failure: WorkerFailure) -> None:
    """Tell the runtime, in a `failed` frame, and the logs."""
    log_failure(failure)
    writer.send({"type": "failed", "phase": failure.phase, "error": failure.error})


class UserCode:
    """The app file and its folder: frames from files in that folder are the user's."""

    def __init__(self, app_file: str) -> None:
        self.file = os.path.abspath(app_file)
        self.folder = os.path.dirname(os.path.realpath(self.file))
        self._verdicts: Dict[str, bool] = {}

    def is_user_file(self, filename: str) -> bool:
        verdict = self._verdicts.get(filename)
        if verdict is None:
            real = os.path.realpath(filename)
            verdict = (
                real.startswith(self.folder + os.sep)
                and not real.startswith(HARNESS_ROOT + os.sep)
                # A virtualenv inside the app's folder holds libraries, not the user's code.
                and not _INSTALLED.intersection(real.split(os.sep))
            )
            self._verdicts[filename] = verdict
        return verdict

    def source_error(self, exc: BaseException) -> Dict[str, Any]:
        """The protocol's SourceError for `exc`."""
        file: Optional[str] = None
        line: Optional[int] = None
        first_user_tb: Optional[TracebackType] = None
        tb = exc.__traceback__
        while tb is not None:
            if self.is_user_file(tb.tb_frame.f_code.co_filename):
                if first_user_tb is None:
                    first_user_tb = tb
                file, line = tb.tb_frame.f_code.co_filename, tb.tb_lineno
            tb = tb.tb_next
        message = str(exc) or type(exc).__name__
        compiled = getattr(exc, "filename", None) if isinstance(exc, SyntaxError) else None
        if compiled and os.path.isfile(compiled) and self.is_user_file(compiled):
            # The compiler's position is the one that matters, and no frame ran in that file.
            # (A library's syntax error keeps the user's import line, and str() names the library.)
            file, line, message = exc.filename, exc.lineno, exc.msg or message
            first_user_tb = None
        lines = traceback.format_exception(type(exc), exc, first_user_tb or exc.__traceback__)
        if isinstance(exc, SyntaxError) and first_user_tb is None:
            # Frames of the import machinery say nothing to the user; keep the caret display.
            lines = traceback.format_exception_only(type(exc), exc)
        return {
            "type": type(exc).__name__,
            "message": message,
            "file": os.path.abspath(file) if file else None,
            "line": line,
            "traceback": "".join(lines),
        }

    def failure(self, phase: str, exc: BaseException) -> WorkerFailure:
        return WorkerFailure(phase, self.source_error(exc))

    def lookup_failure(self, message: str) -> WorkerFailure:
        return WorkerFailure(
            "find-class",
            {"type": "LookupError", "message": message, "file": self.file, "line": None, "traceback": ""},
        )

    def import_module(self) -> ModuleType:
        """Run the app file as a module named after it, with its folder importable."""
        folder = os.path.dirname(self.file)
        if folder not in sys.path:
            # After the harness's own folder, so the bundled `fal` wins over any other.
            sys.path.insert(1, folder)
        name = _module_name(self.file)
        loader = importlib.machinery.SourceFileLoader(name, self.file)
        spec = importlib.util.spec_from_file_location(name, self.file, loader=loader)
        module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
        # Registered first, as a normal import does: type hints and pickling look it up.
        sys.modules[name] = module
        try:
            loader.exec_module(module)
        except BaseException as exc:
            sys.modules.pop(name, None)
            raise self.failure("import", exc) from exc
        return module

    def find_classes(self, module: ModuleType, class_name: Optional[str], need_one: bool) -> List[type]:
        """The fal.App subclasses the file defines (not ones it imports), or the one named."""
        import fal

        found: List[type] = []
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, fal.App)
                and value is not fal.App
                and value.__module__ == module.__name__
                and value not in found
            ):
                found.append(value)
        shown = os.path.basename(self.file)
        if not found:
            raise self.lookup_failure(
                "no class in %s subclasses fal.App: define one, e.g. `class MyApp(fal.App):` "
                "with an @fal.endpoint method" % shown
            )
        if class_name is not None:
            chosen = [cls for cls in found if cls.__name__ == class_name]
            if not chosen:
                raise self.lookup_failure(
                    "%s has no fal.App subclass named %s; it defines %s"
                    % (shown, class_name, ", ".join(cls.__name__ for cls in found))
                )
            return chosen
        if need_one and len(found) > 1:
            raise self.lookup_failure(
                "%s defines %d fal.App classes (%s); choose one by its class name"
                % (shown, len(found), ", ".join(cls.__name__ for cls in found))
            )
        return found


def report_error(writer: Any, user: UserCode, phase: str, error: BaseException) -> None:
    """Reports whatever ended a worker's start: a WorkerFailure as it is; anything else, which
    the phases did not foresee, still at the `phase` it happened in."""
    report_failure(writer, error if isinstance(error, WorkerFailure) else user.failure(phase, error))


def _module_name(path: str) -> str:
    stem = os.path.splitext(os.path.basename(path))[0]
    if stem.isidentifier() and stem not in sys.modules:
        return stem
    return "kiln_app_" + re.sub(r"\W", "_", stem)
