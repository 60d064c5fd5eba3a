"""`python -m compiler`."""

import sys

from compiler import early

# Before the command line's imports: `build <overlay>`'s kustomize runs while they load.
early.start(sys.argv[1:])
try:
    from compiler.cli import main

    code = main()
finally:
    early.discard()  # not taken over by build (or never reached main): ended here
raise SystemExit(code)
