"""Operational figures of a day: drift, streams, uptime, plugin errors, log counters."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from plugins.journal import (
    KillSwitchResumeRow,
    KillSwitchRow,
    LogStatsRow,
    PluginErrorRow,
    ReconcileRow,
    RunRow,
    StreamRow,
)

from .model import (
    DriftFigure,
    DriftIncident,
    KillSwitchFigure,
    LogFigure,
    MismatchFigure,
    PluginErrorFigure,
    RunFigure,
    StreamFigure,
    StreamPeriod,
    UptimeFigure,
)

DOWN_STATES = frozenset({"disconnected", "stale"})
UP_STATES = frozenset({"connected", "resynced"})
TOP_KEYS = 10


def drift_figure(reconciles: Sequence[ReconcileRow]) -> DriftFigure:
    """Reconciles of the day; an incident is a run that found drift or failed."""
    by_status: dict[str, int] = defaultdict(int)
    repaired_by_kind: dict[str, int] = defaultdict(int)
    incidents = []
    for r in reconciles:
        by_status[r.status] += 1
        for m in r.mismatches:
            if m.repaired:
                repaired_by_kind[m.kind] += 1
        if r.mismatches or r.status != "ok":
            incidents.append(
                DriftIncident(
                    at=r.ts,
                    status=r.status,
                    reason=r.reason,
                    error=r.error,
                    mismatches=tuple(
                        MismatchFigure(
                            kind=m.kind,
                            key=m.key,
                            cache_value=m.cache_value,
                            exchange_value=m.exchange_value,
                            repaired=m.repaired,
                        )
                        for m in r.mismatches
                    ),
                )
            )
    return DriftFigure(
        reconciles=len(reconciles),
        by_status=dict(sorted(by_status.items())),
        mismatches=sum(len(r.mismatches) for r in reconciles),
        repaired=sum(repaired_by_kind.values()),
        repaired_by_kind=dict(sorted(repaired_by_kind.items())),
        in_flight_skipped=sum(r.in_flight_skipped for r in reconciles),
        incidents=tuple(incidents),
    )


def stream_figures(
    before: Iterable[StreamRow],
    during: Sequence[StreamRow],
    runs: Sequence[RunFigure],
    start: int,
    end: int,
) -> tuple[StreamFigure, ...]:
    """Per stream: state changes counted, and the periods it was down (clipped to the day).

    A period opens at ``disconnected`` or ``stale`` and closes at ``connected`` or
    ``resynced``, or when its run ends (a stopped bot is downtime, not a stream outage).
    """
    run_end = {r.run_id: r.up_to for r in runs}
    names = sorted({s.stream for s in during} | {s.stream for s in before})
    carried = {s.stream: s for s in before if s.state in DOWN_STATES}
    out = []
    for name in names:
        rows = [s for s in during if s.stream == name]
        periods: list[StreamPeriod] = []
        open_row = carried.get(name)
        opened_at = start
        for row in rows:
            if open_row is not None and open_row.run_id != row.run_id:
                closed = min(run_end.get(open_row.run_id, row.ts), row.ts)
                periods.append(_period(open_row, opened_at, closed))
                open_row = None
            if row.state in DOWN_STATES and open_row is None:
                open_row, opened_at = row, row.ts
            elif row.state in UP_STATES and open_row is not None:
                periods.append(_period(open_row, opened_at, row.ts))
                open_row = None
        if open_row is not None:
            periods.append(_period(open_row, opened_at, run_end.get(open_row.run_id, end)))
        out.append(
            StreamFigure(
                stream=name,
                connects=sum(1 for s in rows if s.state == "connected"),
                disconnects=sum(1 for s in rows if s.state == "disconnected"),
                stale=sum(1 for s in rows if s.state == "stale"),
                resyncs=sum(1 for s in rows if s.needs_resync or s.state == "resynced"),
                down_ms=sum(p.end - p.start for p in periods),
                periods=tuple(periods),
            )
        )
    return tuple(out)


def _period(row: StreamRow, start: int, end: int) -> StreamPeriod:
    return StreamPeriod(
        stream=row.stream, state=row.state, start=start, end=max(start, end), reason=row.reason
    )


def run_figures(
    runs: Iterable[RunRow], start: int, end: int, now: int, current_run: str
) -> tuple[RunFigure, ...]:
    """Each run's time up within ``[start, min(end, now))``.

    A run that never recorded a stop counts as up until it was last seen alive (or until now
    if it is the run writing the report).
    """
    out = []
    for run in runs:
        if run.stopped_at is not None:
            last = run.stopped_at
        elif run.run_id == current_run:
            last = now
        else:
            last = run.last_seen if run.last_seen is not None else run.started_at
        up_from = max(run.started_at, start)
        up_to = max(up_from, min(last, end, now))
        out.append(
            RunFigure(
                run_id=run.run_id,
                started_at=run.started_at,
                stopped_at=run.stopped_at,
                up_from=up_from,
                up_to=up_to,
                stop_reason=run.stop_reason,
                clean_stop=run.stopped_at is not None,
                running=run.stopped_at is None and run.run_id == current_run,
            )
        )
    return tuple(out)


def uptime_figure(runs: Sequence[RunFigure], start: int, end: int) -> UptimeFigure:
    """Time covered by at least one run (overlapping runs count once)."""
    covered = 0
    cursor = start
    for run in sorted(runs, key=lambda r: r.up_from):
        lo = max(run.up_from, cursor)
        if run.up_to > lo:
            covered += run.up_to - lo
            cursor = run.up_to
    day = end - start
    return UptimeFigure(
        up_ms=covered,
        day_ms=day,
        share=round(covered / day, 6) if day else 0.0,
        runs_started=sum(1 for r in runs if start <= r.started_at < end),
        runs=tuple(runs),
    )


def plugin_error_figures(errors: Iterable[PluginErrorRow]) -> tuple[PluginErrorFigure, ...]:
    """Failures grouped by (plugin, hook)."""
    groups: dict[tuple[str, str], list[PluginErrorRow]] = defaultdict(list)
    for e in errors:
        groups[(e.plugin, e.hook)].append(e)
    return tuple(
        PluginErrorFigure(
            plugin=plugin,
            hook=hook,
            count=len(rows),
            disabled=any(r.disabled for r in rows),
            last_error=rows[-1].error,
            last_at=rows[-1].ts,
        )
        for (plugin, hook), rows in sorted(groups.items())
    )


def log_figure(before: Iterable[LogStatsRow], during: Sequence[LogStatsRow]) -> LogFigure:
    """Counters gained during the day: per run, its last sample minus its last before the day."""
    baseline = {r.run_id: r for r in before}
    last: dict[str, LogStatsRow] = {}
    for row in during:
        last[row.run_id] = row
    emitted = suppressed = aggregated = sink_errors = 0
    keys: dict[str, int] = defaultdict(int)
    for run_id, row in last.items():
        base = baseline.get(run_id)
        emitted += row.emitted - (base.emitted if base else 0)
        suppressed += row.suppressed - (base.suppressed if base else 0)
        aggregated += row.aggregated_lines - (base.aggregated_lines if base else 0)
        sink_errors += row.sink_errors - (base.sink_errors if base else 0)
        for key, count in row.top_suppressed.items():
            gained = count - (base.top_suppressed.get(key, 0) if base else 0)
            if gained > 0:
                keys[key] += gained
    top = dict(sorted(keys.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_KEYS])
    return LogFigure(
        sampled=bool(last),
        emitted=emitted,
        suppressed=suppressed,
        aggregated_lines=aggregated,
        sink_errors=sink_errors,
        top_suppressed=top,
    )


def kill_switch_figures(
    rows: Iterable[KillSwitchRow], resumes: Iterable[KillSwitchResumeRow] = ()
) -> tuple[KillSwitchFigure, ...]:
    """The kill switch's trips, oldest first, each with its clearing if one is journaled."""
    cleared = {(c.tripped_at, c.limit_name): c for c in resumes}
    figures = []
    for r in rows:
        clearing = cleared.get((r.ts, r.limit_name))
        figures.append(
            KillSwitchFigure(
                at=r.ts,
                limit=r.limit_name,
                value=r.value,
                threshold=r.threshold,
                asset=r.asset,
                actions=tuple(r.action_lines),
                cleared_at=None if clearing is None else clearing.ts,
                cleared_by="" if clearing is None else clearing.by_whom,
            )
        )
    return tuple(figures)
