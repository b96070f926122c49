"""``results/summary.md``: the targets of issue 6 (met or not) and the figures, from the JSONs."""

from __future__ import annotations

from typing import Any

from benchmarks.machine import machine_line
from benchmarks.results import RESULTS_DIR, read_json, results_dir

README = RESULTS_DIR.parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"

#: "Peak memory does not grow with N": the tracemalloc peak at the largest N is at most this
#: many times the peak at the smallest N (plus MEMORY_SLACK_MIB for allocator noise).
MEMORY_GROWTH_FACTOR = 1.5
MEMORY_SLACK_MIB = 0.5


def _yes(ok: bool) -> str:
    return "**met**" if ok else "**MISSED**"


def _waits_targets(waits: dict[str, Any]) -> list[tuple[str, str, bool]]:
    cases = [c for c in waits["cases"] if c["mode"] == "shared"]
    if not cases:
        return []
    case = max(cases, key=lambda c: c["n"])
    n, interval = case["n"], case["poll_interval_s"]
    quiet, fin = case["quiet"], case["finishing"]
    stall = max(quiet["max_stall_ms"], fin["max_stall_ms"])
    latency_max = fin["latency_max_s"] if fin["latency_max_s"] is not None else float("inf")
    return [
        (f"{n:,} waits, shared poller, nothing finishing: <= 2 requests per poll interval",
         f"{quiet['requests_per_poll_interval']:.2f}", quiet["requests_per_poll_interval"] <= 2),
        (f"{n:,} waits: every finish seen within one poll interval + 1 s ({interval + 1:g} s)",
         f"max {latency_max:.2f} s (median {fin['latency_median_s']:.2f} s), "
         f"{fin['events']}/{n} events",
         fin["events"] == n and latency_max <= interval + 1),
        (f"{n:,} waits: no event-loop stall over 100 ms", f"worst {stall:.0f} ms", stall <= 100),
    ]


def _import_targets(imports: dict[str, Any]) -> list[tuple[str, str, bool]]:
    rows = imports["modules"]
    reference = rows[-1]
    out = []
    for row in rows[:-1]:
        out.append((
            f"`import {row['module']}` adds < 30 ms over `airflow.sdk` and less than the dbt "
            f"Cloud operator ({reference['added_ms_median']:.1f} ms)",
            f"{row['added_ms_median']:.1f} ms", bool(row["meets_target"]),
        ))
    return out


def _listing_targets(listing: dict[str, Any]) -> list[tuple[str, str, bool]]:
    rows = listing["rows"]
    by = {(r["variant"], r["n"]): r for r in rows}
    ns = sorted({r["n"] for r in rows})
    big, small = ns[-1], ns[0]
    ours, legacy = by[("ours", big)], by[("saltant-py", big)]
    low, high = by[("ours", small)]["tracemalloc_peak_mib"], ours["tracemalloc_peak_mib"]
    return [
        (f"listing {big:,}: lazy iteration no slower than saltant-py",
         f"{ours['wall_s_median']:.3f} s vs {legacy['wall_s_median']:.3f} s",
         ours["wall_s_median"] <= legacy["wall_s_median"]),
        (f"listing: peak memory does not grow with N (tracemalloc peak at {big:,} <= "
         f"{MEMORY_GROWTH_FACTOR}x the peak at {small:,} + {MEMORY_SLACK_MIB} MiB)",
         f"{low:.2f} MiB at {small:,}, {high:.2f} MiB at {big:,} "
         f"(saltant-py: {by[('saltant-py', small)]['tracemalloc_peak_mib']:.1f} -> "
         f"{legacy['tracemalloc_peak_mib']:.1f} MiB)",
         high <= MEMORY_GROWTH_FACTOR * low + MEMORY_SLACK_MIB),
    ]


def _waits_table(waits: dict[str, Any]) -> list[str]:
    p = waits["parameters"]
    lines = [
        f"### Deferred waits (poll interval {p['poll_interval_s']:g} s; nothing finishing for "
        f"{p['quiet_poll_intervals']} intervals, then all finished over "
        f"{p['finish_spread_poll_intervals']} intervals)", "",
        "| N | polling | requests / poll interval (quiet) | finish -> event median / max (s) "
        "| worst loop stall (ms) | longest GC pause (ms) | triggerer CPU s / interval (quiet) "
        "| CPU s (finishing) "
        "| requests (finishing) | all waits polling after (s) | triggerer peak RSS (MiB) |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in waits["cases"]:
        q, f = c["quiet"], c["finishing"]
        mode = "shared poller" if c["mode"] == "shared" else "one per trigger"
        latency = (f"{f['latency_median_s']:.2f} / {f['latency_max_s']:.2f}"
                   if f["latency_max_s"] is not None else "n/a")
        lines.append(
            f"| {c['n']:,} | {mode} | {q['requests_per_poll_interval']:.1f} | {latency} "
            f"| {max(q['max_stall_ms'], f['max_stall_ms']):.0f} "
            f"| {max(q.get('max_gc_pause_ms', 0), f.get('max_gc_pause_ms', 0)):.0f} "
            f"| {q['cpu_seconds_per_poll_interval']:.3f} | {f['cpu_seconds']:.2f} "
            f"| {f['requests']} | {c['startup_s']:.1f} | {c['triggerer_peak_rss_mib']:.0f} |"
        )
    polls = [c for c in waits["cases"] if c.get("shared_polls")]
    if polls:
        lines += [
            "", "Shared poller, one poll (listing + confirming GETs), timed from outside:", "",
            "| N | phase | polls | poll duration median / max (s) | poll start-to-start median "
            "/ max (s) |", "|---:|---|---:|---:|---:|",
        ]
        for c in polls:
            for phase in ("quiet", "finishing"):
                t = c["shared_polls"][phase]
                if t:
                    period = (f"{t['period_s_median']:.2f} / {t['period_s_max']:.2f}"
                              if t["period_s_median"] is not None else "n/a")
                    lines.append(
                        f"| {c['n']:,} | {phase} | {t['polls']} | {t['duration_s_median']:.3f} / "
                        f"{t['duration_s_max']:.3f} | {period} |"
                    )
    return lines


def _imports_table(imports: dict[str, Any]) -> list[str]:
    p = imports["parameters"]
    lines = [
        f"### Import cost over `import airflow.sdk` ({p['repetitions']} fresh processes each, "
        "median)", "",
        "| module | added time (ms) | min-max (ms) | added peak RSS (MiB) | modules loaded |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in imports["modules"]:
        lines.append(
            f"| `{r['module']}` | {r['added_ms_median']:.1f} | {r['added_ms_min']:.1f}-"
            f"{r['added_ms_max']:.1f} | {r['added_peak_rss_mib_median']:.1f} "
            f"| {r['modules_loaded_median']:.0f} |"
        )
    base = imports["modules"][0]
    lines += ["", f"`import airflow.sdk` itself: {base['airflow_sdk_ms_median']:.0f} ms, "
                  f"{base['airflow_sdk_peak_rss_mib_median']:.0f} MiB peak RSS (median)."]
    return lines


def _listing_table(listing: dict[str, Any]) -> list[str]:
    lines = [
        f"### Listing task instances ({listing['parameters']['repeats']} fresh processes per "
        "figure, median; tracemalloc from one more run)", "",
        "| N | client | wall time (s) | peak RSS growth (MiB) | tracemalloc peak (MiB) |",
        "|---:|---|---:|---:|---:|",
    ]
    for r in listing["rows"]:
        lines.append(
            f"| {r['n']:,} | {r['variant']} | {r['wall_s_median']:.3f} "
            f"| {r['peak_rss_growth_mib_median']:.1f} | {r['tracemalloc_peak_mib']:.2f} |"
        )
    lines += [""] + [f"- `{k}`: {v}" for k, v in listing["parameters"]["variants"].items()]
    return lines


def write_summary() -> str:
    """Write ``results/summary.md`` from whatever result JSONs exist; return its text."""
    waits, imports, listing = read_json("waits"), read_json("imports"), read_json("listing")
    docs = [d for d in (waits, imports, listing) if d]
    lines = ["# Benchmark results", ""]
    if not docs:
        lines.append("No results yet: run `scripts/bench`.")
    else:
        machine = docs[0]["machine"]
        lines += [
            f"Machine: {machine_line(machine)}.",
            "Measured: " + ", ".join(f"{d['benchmark']} {d['measured_at']} (load average "
                                      f"{d['machine']['load_average_at_start']})" for d in docs)
            + ". The machine is shared: other work running at the same time (e.g. test suites) "
              "shows in the load averages and inflates times and stalls.",
            "", "## Targets (issue 6)", "",
            "| target | measured | |", "|---|---|---|",
        ]
        targets: list[tuple[str, str, bool]] = []
        if waits:
            targets += _waits_targets(waits)
        if imports:
            targets += _import_targets(imports)
        if listing:
            targets += _listing_targets(listing)
        lines += [f"| {t} | {m} | {_yes(ok)} |" for t, m, ok in targets]
        lines += ["", "## Figures", ""]
        for doc, table, png in ((waits, _waits_table, "waits.png"),
                                (imports, _imports_table, "imports.png"),
                                (listing, _listing_table, "listing.png")):
            if doc:
                lines += [*table(doc), "", f"![{png}]({png})", ""]
    text = "\n".join(lines).rstrip() + "\n"
    (results_dir() / "summary.md").write_text(text, encoding="utf-8")
    if results_dir() == RESULTS_DIR:  # the README shows the committed results only
        _update_readme(text)
    return text


def _update_readme(summary: str) -> None:
    """Put the summary (headings demoted, image paths under results/) into README.md."""
    if not README.exists():
        return
    readme = README.read_text(encoding="utf-8")
    if START not in readme or END not in readme:
        return
    body = summary.split("\n", 1)[1].strip()  # without "# Benchmark results"
    body = body.replace("\n### ", "\n#### ").replace("\n## ", "\n### ")
    body = body.replace("](waits.png)", "](results/waits.png)")
    body = body.replace("](imports.png)", "](results/imports.png)")
    body = body.replace("](listing.png)", "](results/listing.png)")
    head, rest = readme.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{body}\n{END}{tail}", encoding="utf-8")
