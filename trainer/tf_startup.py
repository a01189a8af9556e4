"""TensorFlow's start-up lines, kept off stderr.

When `tensorflow` is first imported, its C++ core may write lines to file descriptor 2 that no log
level silences, and which lines depends on the CPU: on x86 CPUs where TensorFlow turns oneDNN on,
"WARNING: All log messages before absl::InitializeLog() is called are written to STDERR" and
"... port.cc:153] oneDNN custom operations are on ...", even with TF_CPP_MIN_LOG_LEVEL=2. Every
command line promises a user error as one line on stderr, so the first import of `tensorflow` runs
with fd 2 pointed at a temporary file, whose bytes go back to stderr only if the import fails.

`install()` puts a finder first on `sys.meta_path`; it does nothing when TensorFlow is already
loaded, or when the user asked for TensorFlow's messages (TF_CPP_MIN_LOG_LEVEL below 2).
"""

from __future__ import annotations

import os
import sys
import tempfile

MODULE = "tensorflow"


def wants_tensorflow_messages() -> bool:
    try:
        return int(os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")) < 2
    except ValueError:
        return False


class _Stderr:
    """fd 2 redirected to a temporary file until `restore`; nothing happens where fd 2 cannot be
    redirected (closed, no temporary file): TensorFlow then imports as it would anyway."""

    def __init__(self) -> None:
        self._saved = -1
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
            self._file = tempfile.TemporaryFile()
            saved = os.dup(2)
        except (OSError, ValueError):
            return
        try:
            os.dup2(self._file.fileno(), 2)
        except OSError:
            os.close(saved)
            return
        self._saved = saved

    def restore(self, replay: bool) -> None:
        if self._saved < 0:
            return
        try:
            if sys.stderr is not None:
                sys.stderr.flush()
        except (OSError, ValueError):
            pass
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._saved = -1
        if replay:
            self._file.seek(0)
            data = self._file.read()
            if data:
                os.write(2, data)
        self._file.close()


class QuietImport:
    """A meta path finder that loads `tensorflow` with its start-up lines captured (see the module).
    It only finds and wraps: the capture lasts while the module executes, so a `find_spec` probe
    that never imports leaves stderr as it is."""

    def find_spec(self, name, path=None, target=None):
        if name != MODULE:
            return None
        spec = _find_with_others(name, path, target)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        loader = spec.loader
        had_own = "exec_module" in vars(loader)
        exec_module = loader.exec_module

        def quiet_exec_module(module):
            uninstall()  # TensorFlow is being imported: once is enough
            stderr = _Stderr()
            try:
                exec_module(module)
            except BaseException:
                stderr.restore(replay=True)
                raise
            else:
                stderr.restore(replay=False)
            finally:
                if had_own:
                    loader.exec_module = exec_module
                else:
                    vars(loader).pop("exec_module", None)

        loader.exec_module = quiet_exec_module
        return spec


def _find_with_others(name, path, target):
    """The spec every other finder on sys.meta_path gives (their own side effects captured too)."""
    for finder in list(sys.meta_path):
        if isinstance(finder, QuietImport):
            continue
        find_spec = getattr(finder, "find_spec", None)
        if find_spec is None:
            continue
        spec = find_spec(name, path, target)
        if spec is not None:
            return spec
    return None


def install() -> None:
    if MODULE in sys.modules or wants_tensorflow_messages():
        return
    if not any(isinstance(f, QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, QuietImport())


def uninstall() -> None:
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, QuietImport)]
