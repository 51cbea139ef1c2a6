"""Run one step of the Makefile with a line at least every 10 s (standard library only: it runs before the
environment exists).

    python3 tools/progress.py LABEL -- COMMAND [ARGS...]

The command's lines are passed on, but a package manager's one line per package (` + name==version`, ` - `,
` ~ `), which are counted instead; while the command says nothing for 10 s, a line says that it still runs and
for how long; at the end, one line with the step's time (and the packages counted). The exit code is the
command's. Ends the command when interrupted or terminated.
"""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
import time

EVERY_S = 8.0  # with the 0.5 s look below: a line at least every 10 s
PACKAGE_LINE = re.compile(r"^ [+\-~] \S")


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python3 tools/progress.py LABEL -- COMMAND [ARGS...]", file=sys.stderr)
        return 2
    label, cmd = argv[0], argv[2:]
    started = last = time.monotonic()
    packages = 0
    lock = threading.Lock()
    done = threading.Event()

    def say(text: str) -> None:
        nonlocal last
        with lock:
            print(text, flush=True)
            last = time.monotonic()

    def heartbeat() -> None:
        while not done.wait(0.5):
            if time.monotonic() - last >= EVERY_S:
                say(f"{label}: still running ({time.monotonic() - started:.0f}s)")

    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    signal.signal(signal.SIGTERM, lambda signum, frame: proc.terminate())
    beat = threading.Thread(target=heartbeat, daemon=True)
    beat.start()
    try:
        for line in proc.stdout:
            if PACKAGE_LINE.match(line):
                packages += 1
            else:
                say(f"{label}: {line.rstrip()}")
        rc = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()
        rc = proc.wait()
    finally:
        done.set()
        beat.join()
    counted = f", {packages} packages changed" if packages else ""
    say(f"{label}: {'done' if rc == 0 else f'failed (exit {rc})'} in {time.monotonic() - started:.1f}s{counted}")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
