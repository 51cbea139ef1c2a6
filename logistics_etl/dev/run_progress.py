"""What `logistics run` prints while `airflow dags test` runs, read from its output as it comes.

A line per finished try of a task; the dbt layers' node tasks (which all end after the one build, in no useful
order) are held and printed by layer, in the graph's order, when the run has ended. While nothing else is said
a line at least every `HEARTBEAT_S` seconds says what is going on: Airflow starting, the task running and for
how long, and for a `dbt build` how many of its nodes are done, as dbt counts them.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Iterable

HEARTBEAT_S = 8.0  # with the 0.5 s look in _heartbeat: a line at least every 10 s

# dbt's line for a finished node: "22:06:54  3 of 280 OK created sql incremental model bronze.brz_drivers ..."
# (its START lines and the on-run-start hooks' "1 of 3 OK hook: ..." are not nodes)
_DBT_NODE_DONE = re.compile(r"^\d\d:\d\d:\d\d\s+\d+ of (\d+) (?!START)(?!.* hook: )\S")


class RunProgress:
    """Feed it the run's task starts and ends and its output lines; `close` prints the held node tasks."""

    def __init__(self, layers: Iterable[str], say: Callable[[str], None] = print,
                 heartbeat_s: float = HEARTBEAT_S) -> None:
        self.started = self.last_said = time.monotonic()
        self.held: dict[str, list[tuple[float, str, str]]] = {layer: [] for layer in layers}
        self.ended = 0
        self.running: tuple[str, float] | None = None  # the task now running, since when
        self.dbt_done = 0
        self.dbt_total = 0
        self._say = say
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._beat = threading.Thread(target=self._heartbeat, args=(heartbeat_s,), daemon=True)
        self._beat.start()

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, text: str) -> None:
        with self._lock:
            self._say(text)
            self.last_said = time.monotonic()

    def task_started(self, task_id: str) -> None:
        self.running = (task_id, time.monotonic())
        self.dbt_done = self.dbt_total = 0

    def task_ended(self, task_id: str, state: str) -> None:
        self.running = None
        layer = task_id.split(".", 1)[0]
        if layer in self.held:
            self.held[layer].append((self.elapsed(), state, task_id))
            return
        self.ended += 1
        self.say(f"  {self.elapsed():6.1f}s  #{self.ended:<3} {state:<8} {task_id}")

    def line(self, line: str) -> None:
        """A line of the run's output: dbt's count of finished nodes, while a task runs dbt."""
        if self.running and (m := _DBT_NODE_DONE.match(line)):
            self.dbt_done += 1
            self.dbt_total = int(m.group(1))

    def status(self) -> str:
        if self.running:
            task_id, since = self.running
            dbt = f", dbt: {self.dbt_done} of {self.dbt_total} nodes done" if self.dbt_total else ""
            return f"{task_id} running for {time.monotonic() - since:.0f}s{dbt}"
        held = sum(len(t) for t in self.held.values())
        if held:
            return f"{held} node tasks ended (listed by layer when the run ends)"
        if not self.ended:
            return "airflow dags test is starting (Airflow's imports, the DAG's parse, the run's creation)"
        return "waiting for Airflow to start the next task"

    def _heartbeat(self, every: float) -> None:
        while not self._stop.wait(0.5):
            if time.monotonic() - self.last_said >= every:
                self.say(f"  {self.elapsed():6.1f}s  ... {self.status()}")

    def close(self) -> None:
        """Stop the heartbeat; print the held node tasks, layer by layer."""
        self._stop.set()
        self._beat.join()
        for layer, tasks in self.held.items():
            if tasks:
                self.say(f"  {layer}: {len(tasks)} tasks")
            for at, state, task_id in tasks:
                self.ended += 1
                self.say(f"  {at:6.1f}s  #{self.ended:<3} {state:<8} {task_id}")
