"""`python -m compiler`."""

import os
import sys

from compiler import early

# Before the command line's imports: `build <overlay>`'s kustomize runs while they load,
# and so do `check`'s and `diff`'s renderings of the overlays on disk.
early.start(sys.argv[1:])
request = early.render_request(sys.argv[1:])
code = 130
try:
    if request is not None:
        from compiler.rendercache import start_early

        start_early(*request)
    from compiler.cli import main

    code = main()
except BaseException as exc:
    # Interrupted or terminated where the command line does not handle it: before it
    # runs, or inside an import (where Python may wrap the KeyboardInterrupt).
    from compiler.tools import Terminated, close_tools

    cause: BaseException | None = exc
    seen: set[int] = set()
    while cause is not None and not isinstance(cause, (KeyboardInterrupt, Terminated)):
        seen.add(id(cause))
        cause = cause.__cause__ or cause.__context__
        cause = None if cause is not None and id(cause) in seen else cause
    if cause is None:
        raise
    close_tools()  # a rendering still running starts no other kustomize
    code = 130 if isinstance(cause, KeyboardInterrupt) else 143
    sys.stderr.write("interrupted\n" if code == 130 else "terminated\n")
finally:
    early.discard()  # not taken over by build (or never reached main): ended here
    if request is not None:
        from compiler.rendercache import finish_early

        finish_early()  # not taken by check or diff: ended, none left running
# Python's teardown (30-40 ms of every command, measured: freeing every module) has
# nothing of ours left to do: every file and folder is closed or removed by now, and no
# thread runs. Skipped once the output is flushed; a failing flush (a closed pipe) and
# any thread still running take the usual way out.
try:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None:  # None: Python started without that descriptor
            stream.flush()
except (OSError, ValueError):  # a closed pipe, or a stream closed by hand
    raise SystemExit(code) from None
threading = sys.modules.get("threading")  # not imported: no thread was ever started
if threading is None or threading.active_count() == 1:
    os._exit(code)
raise SystemExit(code)
