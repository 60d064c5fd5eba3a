"""A stand-in for `kubectl`, for the README's data-moving commands without a cluster.

`exec` runs the command against one of two local PostgreSQL servers: the unified pod's
(`deploy/<name>`, whose programs live under the image's /usr/lib/postgresql/17/bin) or
the CloudNativePG primary (a pod name, programs on its PATH, connected as postgres over
its socket). `get cluster NAME -o jsonpath={.status.currentPrimary}` answers NAME-1.
`apply`, `wait`, `scale`, `rollout` and `delete` only record. Every call is appended to
$STAND_IN_LOG as one JSON line; anything else fails with exit 2.
"""

from __future__ import annotations

import json
import os
import sys

IMAGE_BIN = "/usr/lib/postgresql/17/bin/"


def fail(message: str) -> None:
    print(f"stand-in kubectl: {message}", file=sys.stderr)
    sys.exit(2)


def main(argv: list[str]) -> None:
    env = os.environ
    namespace = None
    if argv[:1] == ["-n"]:
        namespace, argv = argv[1], argv[2:]
    with open(env["STAND_IN_LOG"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"namespace": namespace, "args": argv}) + "\n")
    if not argv:
        fail("no command")
    verb = argv[0]
    if verb in ("apply", "wait", "scale", "rollout", "delete"):
        return
    if verb == "get":
        if argv[1:2] == ["cluster"] and argv[3:] == ["-o", "jsonpath={.status.currentPrimary}"]:
            print(f"{argv[2]}-1", end="")
            return
        fail(f"unexpected get: {argv}")
    if verb != "exec":
        fail(f"unexpected command: {argv}")
    rest = argv[1:]
    if rest[:1] == ["-i"]:
        rest = rest[1:]
    if len(rest) < 5 or rest[1] != "-c" or rest[3] != "--":
        fail(f"exec needs TARGET -c CONTAINER -- COMMAND: {argv}")
    target, container, command = rest[0], rest[2], rest[4:]
    pgbin = env["STAND_IN_PGBIN"]
    child = dict(env)
    if target.startswith("deploy/"):
        if (target, container) != (env["STAND_IN_SOURCE"], env["STAND_IN_SOURCE_CONTAINER"]):
            fail(f"no such unified pod or container: {target} -c {container}")
        if not command[0].startswith(IMAGE_BIN):
            fail(f"{command[0]}: not found in the unified image")
        program = os.path.join(pgbin, command[0][len(IMAGE_BIN) :])
        child["PGPORT"] = env["STAND_IN_SOURCE_PORT"]
        child.pop("PGHOST", None)
    else:
        if (target, container) != (env["STAND_IN_PRIMARY"], "postgres"):
            fail(f"no such instance or container: {target} -c {container}")
        if "/" in command[0]:
            fail(f"{command[0]}: the instance's programs are on its PATH")
        program = os.path.join(pgbin, command[0])
        child.update(
            PGHOST=env["STAND_IN_PRIMARY_SOCKET"],
            PGPORT=env["STAND_IN_PRIMARY_PORT"],
            PGUSER="postgres",
        )
    if not os.path.isfile(program):
        fail(f"{command[0]}: not found")
    os.execve(program, [program, *command[1:]], child)


if __name__ == "__main__":
    main(sys.argv[1:])
