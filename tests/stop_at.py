"""`python -m compiler ARGS`, stopped by itself (SIGSTOP) at a point seen on disk.

    python tests/stop_at.py PATH... -- ARGS

The compiler runs unchanged in this process (as `python -m` runs it); an audit hook,
called before each file operation (open, rename, remove, mkdir, rmdir), stops the
process at the first one after any PATH exists. A test then signals the stopped process
(SIGINT, SIGTERM, SIGKILL) and continues it: the signal lands at that very point however
loaded the machine is. Polling the disk from outside and signalling when a file appeared
missed short phases under load: the compile sometimes committed before the signal came.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys

EVENTS = {"open", "os.rename", "os.remove", "os.mkdir", "os.rmdir"}


def stop_after(paths: list[str]) -> None:
    """Stop this process at the first file operation after any of ``paths`` exists."""
    state = {"done": False, "inside": False}

    def hook(event: str, args: tuple[object, ...]) -> None:
        if state["done"] or state["inside"] or event not in EVENTS:
            return
        state["inside"] = True
        try:
            if any(os.path.lexists(path) for path in paths):
                state["done"] = True
                os.kill(os.getpid(), signal.SIGSTOP)
        finally:
            state["inside"] = False

    sys.addaudithook(hook)


def main() -> None:
    split = sys.argv.index("--")
    paths, args = sys.argv[1:split], sys.argv[split + 1 :]
    stop_after(paths)
    sys.argv = [sys.argv[0], *args]
    sys.path[0] = os.getcwd()  # as `python -m` has it, not this file's folder
    runpy.run_module("compiler", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
