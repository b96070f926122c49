"""Benchmark 1: many deferred waits, shared poller vs one poll per trigger.

For each N and polling mode: create N instances on a no-worker local server, run N
``SaltantTaskTrigger.run()`` generators on one event loop in a separate "triggerer" process
(``benchmarks.triggerer``) whose connection points at a counting proxy in front of the server,
then

- phase (a): nothing finishes for K poll intervals: requests per poll interval (proxy count),
  the loop's worst stall and the triggerer's CPU seconds;
- phase (b): the instances are finished gradually (PATCH ``updatetaskinstancestatus/<uuid>/``
  with ``{"state": "successful"}``, as saltant's worker does, straight to the server so it is not
  counted) over F poll intervals: time from each finish (the PATCH's answer) to its event.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.processes import Child, airflow_env, child, scratch_dir
from benchmarks.results import median, pyplot, write_json
from benchmarks.saltant_server import (
    BenchServer,
    bench_server,
    create_instances,
    finish,
    finish_all,
)

CONN_ID = "saltant_bench"
START_TIMEOUT = 180.0


def _proxy_stats(port: int) -> dict[str, Any]:
    response = httpx.get(f"http://127.0.0.1:{port}/__proxy/stats", timeout=30, trust_env=False)
    response.raise_for_status()
    data: dict[str, Any] = response.json()
    return data


def _wait_for_reads(port: int, at_least: int, timeout: float) -> None:
    """Until ``at_least`` distinct instances were read (a detail GET each): every wait has
    started (the shared poller's registration GET, or a trigger's own first GET)."""
    deadline = time.monotonic() + timeout
    while _proxy_stats(port)["distinct_details"] < at_least:
        if time.monotonic() > deadline:
            raise TimeoutError(f"the triggers did not read {at_least} instances in {timeout}s")
        time.sleep(0.2)


def _mark(triggerer: Child, name: str) -> dict[str, Any]:
    triggerer.send(f"mark {name}")
    return triggerer.json_line(60)


async def _finish_gradually(
    bench: BenchServer, uuids: list[str], spread: float
) -> dict[str, float]:
    """PATCH each instance to successful at evenly spaced times over ``spread`` seconds."""
    finished: dict[str, float] = {}
    step = spread / len(uuids)
    loop = asyncio.get_running_loop()
    start = loop.time()
    async with bench.http() as http:

        async def one(i: int, uuid: str) -> None:
            await asyncio.sleep(max(0.0, start + i * step - loop.time()))
            await finish(http, uuid)
            finished[uuid] = time.time()

        await asyncio.gather(*(one(i, u) for i, u in enumerate(uuids)))
    return finished


def _phase(before: dict[str, Any], after: dict[str, Any]) -> dict[str, float]:
    return {
        "seconds": after["time"] - before["time"],
        "cpu_seconds": after["cpu"] - before["cpu"],
        "max_stall_ms": after["max_stall"] * 1000,
        "stalls_over_100ms": after["stalls_over_100ms"],
        "max_gc_pause_ms": after.get("max_gc_pause", 0.0) * 1000,
    }


def _poll_timing(polls: list[list[float]], start: float, end: float) -> dict[str, Any] | None:
    """Shared polls that started in [start, end): their durations and the gaps between them."""
    inside = [(t, d) for t, d in polls if start <= t < end]
    if not inside:
        return None
    starts = [t for t, _ in inside]
    gaps = [b - a for a, b in itertools.pairwise(starts)]
    return {
        "polls": len(inside),
        "duration_s_median": median([d for _, d in inside]),
        "duration_s_max": max(d for _, d in inside),
        "period_s_median": median(gaps) if gaps else None,
        "period_s_max": max(gaps) if gaps else None,
    }


def _stats_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, int]:
    b, a = before.get("poller_stats") or {}, after.get("poller_stats") or {}
    return {k: a[k] - b.get(k, 0) for k in a}


def run_case(
    bench: BenchServer, proxy_port: int, n: int, mode: str, interval: float, quiet_polls: int,
    finish_polls: int, home: str, profile: str | None = None,
) -> dict[str, Any]:
    """One N and one mode; returns its figures."""
    uuids = asyncio.run(create_instances(bench, n, prefix=f"wait-{mode}-{n}"))
    with scratch_dir(f"bench-waits-{mode}-{n}-") as scratch:
        return _run_case(bench, proxy_port, n, mode, interval, quiet_polls, finish_polls, home,
                         profile, uuids, Path(scratch))


def _run_case(
    bench: BenchServer, proxy_port: int, n: int, mode: str, interval: float, quiet_polls: int,
    finish_polls: int, home: str, profile: str | None, uuids: list[str], workdir: Path,
) -> dict[str, Any]:
    (workdir / "uuids.json").write_text(json.dumps(uuids), encoding="utf-8")
    conn = {"conn_type": "saltant", "host": f"http://127.0.0.1:{proxy_port}/api/",
            "password": bench.token}
    env = airflow_env(home, {f"AIRFLOW_CONN_{CONN_ID.upper()}": json.dumps(conn)})
    out = workdir / "triggerer.json"
    args = ["-m", "benchmarks.triggerer", "--uuids", str(workdir / "uuids.json"), "--out",
            str(out), "--conn-id", CONN_ID, "--mode", mode, "--poll-interval", str(interval)]
    if profile:
        args += ["--profile", profile]
    base = _proxy_stats(proxy_port)["distinct_details"]
    try:
        with child(args, env, stdin=True) as triggerer:
            started = triggerer.json_line(START_TIMEOUT)["started"]
            _wait_for_reads(proxy_port, base + n, START_TIMEOUT)
            startup = time.time() - started
            time.sleep(interval)  # settle: registrations done, first poll made
            a0, s0 = _mark(triggerer, "quiet-start"), _proxy_stats(proxy_port)
            time.sleep(quiet_polls * interval)
            a1, s1 = _mark(triggerer, "quiet-end"), _proxy_stats(proxy_port)
            finished = asyncio.run(_finish_gradually(bench, uuids, finish_polls * interval))
            deadline = time.monotonic() + 3 * interval + 30
            b1 = _mark(triggerer, "finish-end")
            while b1["events"] < n and time.monotonic() < deadline:
                time.sleep(0.2)
                b1 = _mark(triggerer, "finish-end")
            s2 = _proxy_stats(proxy_port)
            triggerer.send("quit")
            triggerer.stop(60)
        result = json.loads(out.read_text(encoding="utf-8"))
    finally:
        asyncio.run(finish_all(bench, uuids))  # leave nothing unfinished for the next case
    # several "finish-end" marks: stall and CPU of phase (b) add up over them
    b_marks = [m for m in result["marks"] if m["mark"] == "finish-end"]
    phase_b = _phase(a1, b_marks[-1])
    phase_b["max_stall_ms"] = max(m["max_stall"] for m in b_marks) * 1000
    phase_b["stalls_over_100ms"] = sum(m["stalls_over_100ms"] for m in b_marks)
    phase_b["max_gc_pause_ms"] = max(m.get("max_gc_pause", 0.0) for m in b_marks) * 1000
    latencies = sorted(result["events"][u] - finished[u] for u in finished if u in result["events"])
    quiet_requests = s1["total"] - s0["total"]
    quiet_seconds = a1["time"] - a0["time"]
    return {
        "n": n, "mode": mode, "poll_interval_s": interval,
        "startup_s": startup,
        "quiet": {
            **_phase(a0, a1),
            "requests": quiet_requests,
            "requests_per_poll_interval": quiet_requests / (quiet_seconds / interval),
            "cpu_seconds_per_poll_interval": (a1["cpu"] - a0["cpu"]) / (quiet_seconds / interval),
        },
        "finishing": {
            **phase_b,
            "requests": s2["total"] - s1["total"],
            "events": len(latencies),
            "statuses": sorted(set(result["statuses"].values())),
            "latency_median_s": median(latencies),
            "latency_max_s": max(latencies) if latencies else None,
            "latency_p95_s": latencies[int(0.95 * (len(latencies) - 1))] if latencies else None,
        },
        "shared_polls": {
            "quiet": _poll_timing(result["polls"], a0["time"], a1["time"]),
            "finishing": _poll_timing(result["polls"], a1["time"], b_marks[-1]["time"]),
            "poller_requests_quiet": _stats_delta(a0, a1),
            "poller_requests_finishing": _stats_delta(a1, b_marks[-1]),
        } if mode == "shared" else None,
        "triggerer_peak_rss_mib": result["peak_rss_mib"],
        "errors": result["errors"],
        "latencies_s": [round(x, 4) for x in latencies],
    }


def _plot(cases: list[dict[str, Any]], path: Path, title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(18, 4.5))
    for mode, color in (("shared", "tab:blue"), ("own", "tab:orange")):
        rows = [c for c in cases if c["mode"] == mode]
        ns = [c["n"] for c in rows]
        label = "shared poller" if mode == "shared" else "one poll per trigger"
        axes[0].plot(ns, [c["quiet"]["requests_per_poll_interval"] for c in rows], "o-",
                     color=color, label=label)
        axes[1].plot(ns, [c["finishing"]["latency_median_s"] for c in rows], "o-", color=color,
                     label=f"{label}, median")
        axes[1].plot(ns, [c["finishing"]["latency_max_s"] for c in rows], "s--", color=color,
                     label=f"{label}, max")
        axes[2].plot(ns, [max(c["quiet"]["max_stall_ms"], c["finishing"]["max_stall_ms"])
                          for c in rows], "o-", color=color, label=label)
        axes[3].plot(ns, [c["quiet"]["cpu_seconds_per_poll_interval"] for c in rows], "o-",
                     color=color, label=label)
    interval = cases[0]["poll_interval_s"]
    axes[0].axhline(2, color="gray", ls=":", label="target at N=1,000: 2")
    axes[1].axhline(interval + 1, color="gray", ls=":", label="target: interval + 1 s")
    axes[2].axhline(100, color="gray", ls=":", label="target: 100 ms")
    titles = ["requests per poll interval\n(nothing finishing)", "finish -> event (s)",
              "worst event-loop stall (ms)",
              "triggerer CPU s per poll interval\n(nothing finishing)"]
    for ax, name in zip(axes, titles, strict=True):
        ax.set_xscale("log")
        ax.set_xlabel("deferred waits (N)")
        ax.set_title(name, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(
    ns: list[int], interval: float, quiet_polls: int, finish_polls: int,
    modes: tuple[str, ...] = ("shared", "own"), profile_dir: str | None = None,
) -> dict[str, Any]:
    from benchmarks.machine import machine_info, machine_line
    from benchmarks.results import results_dir

    cases: list[dict[str, Any]] = []
    with scratch_dir("bench-airflow-home-") as home, bench_server() as bench, child(
        ["-m", "benchmarks.proxy", "--upstream-port", str(bench.server.port)]
    ) as proxy:
        proxy_port = int(proxy.line(30).rsplit(" ", 1)[1])
        for n in ns:
            for mode in modes:
                print(f"[bench] waits: N={n}, {mode} polling", flush=True)
                profile = f"{profile_dir}/triggerer-{mode}-{n}.pstats" if profile_dir else None
                case = run_case(bench, proxy_port, n, mode, interval, quiet_polls, finish_polls,
                                home, profile)
                print(f"[bench]   {_describe(case)}", flush=True)
                cases.append(case)
    payload = {
        "parameters": {"ns": ns, "poll_interval_s": interval, "quiet_poll_intervals": quiet_polls,
                       "finish_spread_poll_intervals": finish_polls},
        "cases": cases,
    }
    path = write_json("waits", payload)
    _plot(cases, results_dir() / "waits.png",
          f"saltant deferred waits, poll interval {interval:g} s - {machine_line(machine_info())}")
    print(f"[bench] wrote {path}", flush=True)
    return payload


def _describe(case: dict[str, Any]) -> str:
    q, f = case["quiet"], case["finishing"]
    return (
        f"{q['requests_per_poll_interval']:.1f} req/interval, latency median "
        f"{f['latency_median_s']:.2f}s max {f['latency_max_s']:.2f}s, stall max "
        f"{max(q['max_stall_ms'], f['max_stall_ms']):.0f} ms, CPU {q['cpu_seconds']:.2f}s quiet "
        f"{f['cpu_seconds']:.2f}s finishing, events {f['events']}/{case['n']}, all waits "
        f"polling after {case['startup_s']:.1f}s"
    )
