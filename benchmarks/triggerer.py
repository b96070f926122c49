"""The triggerer side of the wait benchmark (run in its own process by ``benchmarks.waits``).

Runs one ``SaltantTaskTrigger.run()`` async generator per task instance on one asyncio event
loop, as Airflow's triggerer does, plus a ticker task that measures how late the loop wakes it
(the loop's stalls). Reads commands on stdin, one per line, and answers one JSON line each:

- ``mark NAME``: ``{"mark", "time", "cpu", "max_stall", "stalls_over_100ms", "events"}``; the
  stall figures cover the time since the previous mark;
- ``quit``: cancels what still runs, writes the ``--out`` JSON file and exits.

Environment: ``AIRFLOW_HOME`` (a temporary one) and ``AIRFLOW_CONN_<ID>`` (the connection).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import logging
import resource
import sys
import threading
import time
from typing import Any

TICK = 0.01  # seconds the ticker sleeps; lateness beyond this is a stall of the loop


class Ticker:
    """Sleeps TICK seconds in a loop and keeps the worst overshoot since the last reset."""

    def __init__(self) -> None:
        self.max_stall = 0.0
        self.over_100ms = 0

    def reset(self) -> tuple[float, int]:
        worst, count = self.max_stall, self.over_100ms
        self.max_stall, self.over_100ms = 0.0, 0
        return worst, count

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            start = loop.time()
            await asyncio.sleep(TICK)
            stall = loop.time() - start - TICK
            self.max_stall = max(self.max_stall, stall)
            if stall > 0.1:
                self.over_100ms += 1


async def _wait_one(trigger: Any, events: dict[str, float], statuses: dict[str, str]) -> None:
    generator = trigger.run()
    try:
        event = await generator.__anext__()
        events[trigger.task_instance_uuid] = time.time()
        statuses[trigger.task_instance_uuid] = str(event.payload.get("status"))
    finally:
        await generator.aclose()


class GcTimer:
    """Diagnostics: the longest pause of Python's cyclic garbage collector since the last reset."""

    def __init__(self) -> None:
        self.max_pause = 0.0
        self.collections = 0
        self._start = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.collections += 1
            self.max_pause = max(self.max_pause, time.perf_counter() - self._start)

    def reset(self) -> tuple[float, int]:
        worst, count = self.max_pause, self.collections
        self.max_pause, self.collections = 0.0, 0
        return worst, count


class PollTimer:
    """Diagnostics: how long each shared poll takes (wraps the poller's one-poll method).

    Reads the poller only through its diagnostics (``active_pollers()``, ``stats``) and times
    ``SharedTaskPoller._poll_once`` from the outside; if either is renamed, it records nothing.
    """

    def __init__(self) -> None:
        self.polls: list[tuple[float, float]] = []  # (start wall time, seconds)
        try:
            from saltant_provider.triggers import poller
        except ImportError:
            return
        original = getattr(poller.SharedTaskPoller, "_poll_once", None)
        if original is None:
            return
        polls = self.polls

        async def timed(self_: Any, *args: Any, **kwargs: Any) -> Any:
            start = time.time()
            try:
                return await original(self_, *args, **kwargs)
            finally:
                polls.append((start, time.time() - start))

        poller.SharedTaskPoller._poll_once = timed  # type: ignore[method-assign,assignment]

    @staticmethod
    def stats() -> dict[str, int]:
        """The request counters of every live shared poller, added up."""
        try:
            from saltant_provider.triggers.poller import active_pollers
        except ImportError:
            return {}
        total: dict[str, int] = {}
        for live in active_pollers():
            for name, value in vars(getattr(live, "stats", object())).items():
                if isinstance(value, int):
                    total[name] = total.get(name, 0) + value
        return total


def _stdin_lines(loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[str]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop closed: the run is over
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line.strip())
        loop.call_soon_threadsafe(queue.put_nowait, "quit")


def _peak_rss_kib() -> int:
    """This process's peak RSS (``VmHWM``: ``ru_maxrss`` would start at the parent's peak)."""
    with open("/proc/self/status", encoding="utf-8") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def _say(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from saltant_provider.triggers.saltant import SaltantTaskTrigger

    with open(args.uuids, encoding="utf-8") as f:
        uuids: list[str] = json.load(f)
    loop = asyncio.get_running_loop()
    timer = PollTimer()
    gc_timer = GcTimer()
    ticker = Ticker()
    ticker_task = asyncio.create_task(ticker.run())
    events: dict[str, float] = {}
    statuses: dict[str, str] = {}
    triggers = [
        SaltantTaskTrigger(
            saltant_conn_id=args.conn_id,
            task_instance_uuid=uuid,
            poll_interval=args.poll_interval,
            shared_polling=args.mode == "shared",
        )
        for uuid in uuids
    ]
    cpu_start = time.process_time()
    tasks = [asyncio.create_task(_wait_one(t, events, statuses)) for t in triggers]
    _say({"started": time.time(), "triggers": len(tasks)})
    commands: asyncio.Queue[str] = asyncio.Queue()
    threading.Thread(target=_stdin_lines, args=(loop, commands), daemon=True).start()
    marks: list[dict[str, Any]] = []
    while (command := await commands.get()) != "quit":
        if command.startswith("mark "):
            worst, count = ticker.reset()
            gc_worst, gc_count = gc_timer.reset()
            mark = {
                "mark": command[5:], "time": time.time(), "cpu": time.process_time() - cpu_start,
                "max_stall": worst, "stalls_over_100ms": count, "events": len(events),
                "poller_stats": timer.stats(),
                "max_gc_pause": gc_worst, "gc_collections": gc_count,
            }
            marks.append(mark)
            _say(mark)
    for task in [*tasks, ticker_task]:
        task.cancel()
    with contextlib.suppress(asyncio.TimeoutError):
        await asyncio.wait_for(asyncio.gather(*tasks, ticker_task, return_exceptions=True), 30)
    errors = [repr(t.exception()) for t in tasks if not t.cancelled() and t.exception()]
    return {
        "marks": marks, "events": events, "statuses": statuses, "errors": errors[:10],
        "polls": timer.polls,
        "peak_rss_mib": _peak_rss_kib() / 1024,
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m benchmarks.triggerer")
    parser.add_argument("--uuids", required=True, help="JSON file: the uuids to wait for")
    parser.add_argument("--out", required=True, help="JSON file to write the results to")
    parser.add_argument("--conn-id", required=True)
    parser.add_argument("--mode", choices=("shared", "own"), required=True)
    parser.add_argument("--poll-interval", type=float, required=True)
    parser.add_argument("--profile", help="write cProfile stats of the whole run to this file")
    arguments = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if arguments.profile:
        import cProfile

        with cProfile.Profile() as profile:
            result = asyncio.run(main(arguments))
        profile.dump_stats(arguments.profile)
    else:
        result = asyncio.run(main(arguments))
    with open(arguments.out, "w", encoding="utf-8") as out:
        json.dump(result, out)
