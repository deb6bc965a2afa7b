"""GUI redraw benchmark: a day of 1 s data arriving at 3600x, as the live view receives it.

``python -m gui.bench`` or ``satwin bench gui``. Three figures, each measured in the real
window (offscreen when there is no display):

* feed — a recorded 24 h run sent by a worker process through the same bounded queue and
  batches as a live run, paced at ``speed`` by a ``WallClock``, so the GUI sees exactly the
  data rate of a twin running at that speed and ends with the whole day on screen;
* full day — redraws with all 86,400 points per curve on screen, each forced to paint;
* twin — the real twin live at ``speed`` in its worker process for a while: what the
  simulation itself reaches, and the redraws meanwhile.

A redraw is the timer's work (drain, ``setData``, downsampling) plus the paint that follows.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np

import scenarios

REFERENCE_SCENARIO = scenarios.REFERENCE
# The feeder waits for the wall clock every PACE_ROWS rows: ~2 ms at 3600x, so its batches leave
# every ~20 ms (BATCH_WALL_S) as the live worker's do. A sleep per row would pace it below 3600
# rows/s by itself; a wait every 64 rows (17.8 ms) made the 20 ms batch timer fire only every other
# wait: 28.6 batches/s (measured), which capped the streaming figure at ~28 redraws/s whatever the
# GUI did, since a redraw is skipped when no new rows arrived.
PACE_ROWS = 8


def _figures(window, since_s: float) -> dict[str, float]:
    timer = [d for end, d in zip(window.redraw_stats.stamps_s, window.redraw_stats.durations_s) if end >= since_s]
    paints = [(end, d) for end, d in window.panels.paint_log if end >= since_s]
    if not paints:
        return {"redraws_per_s": 0.0, "timer_redraws_per_s": 0.0, "timer_p50_ms": float("nan"),
                "timer_max_ms": float("nan"), "paint_p50_ms": float("nan"), "paint_max_ms": float("nan"),
                "redraw_max_ms": float("nan")}
    span = paints[-1][0] - since_s
    paint_durations = np.array([d for _, d in paints])
    timer_durations = np.array(timer or [0.0])
    # paints can outnumber the timer's redraws (a cursor or status change repaints too): both are shown
    return {"redraws_per_s": len(paints) / span if span > 0 else float("nan"),
            "timer_redraws_per_s": len(timer) / span if span > 0 else float("nan"),
            "timer_p50_ms": float(np.median(timer_durations) * 1e3),
            "timer_max_ms": float(timer_durations.max() * 1e3),
            "paint_p50_ms": float(np.median(paint_durations) * 1e3),
            "paint_max_ms": float(paint_durations.max() * 1e3),
            "redraw_max_ms": float((timer_durations.max() + paint_durations.max()) * 1e3)}


def _line(label: str, figures: dict[str, float]) -> str:
    return (f"{label}: {figures['redraws_per_s']:.1f} redraws/s (timer: {figures['timer_redraws_per_s']:.1f}/s); "
            f"timer work p50 {figures['timer_p50_ms']:.1f} ms, "
            f"max {figures['timer_max_ms']:.1f} ms; paint p50 {figures['paint_p50_ms']:.1f} ms, "
            f"max {figures['paint_max_ms']:.1f} ms; longest redraw <= {figures['redraw_max_ms']:.1f} ms")


def _run_events(app, seconds: float, until=None) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end and not (until and until()):
        app.processEvents()
        time.sleep(0.001)


def _recorded_day(duration_s: float, folder: Path, echo) -> Path:
    from twin.config.scenario import load_scenario
    from twin.run.session import run_scenario

    scenario = load_scenario(REFERENCE_SCENARIO).with_options(duration_s=duration_s, step_s=1.0)
    echo(f"recording {duration_s / 3600:g} h of 1 s steps headless (the feed) …")
    run_scenario(scenario, folder)
    return folder


def feed_main(results_dir: str, speed: float, out_queue) -> None:
    """Worker process: send a recorded run's rows at ``speed``, batched as a live worker does."""
    from gui.data.replay import ReplaySource
    from gui.data.worker import BatchSender
    from twin.run.loop import WallClock

    source = ReplaySource(results_dir)
    sender = BatchSender(out_queue, len(source.channels), threading.Event())
    clock = WallClock(speed)
    clock.start()
    while (chunk := source.read_next()) is not None:
        t_s, block = chunk
        for k in range(len(t_s)):
            sender.add(t_s[k], lambda row, k=k: row.__setitem__(slice(None), block[:, k]))
            if k % PACE_ROWS == PACE_ROWS - 1:
                clock.wait_until(t_s[k])
    clock.end()
    sender.flush()
    out_queue.put(("finished", "completed", None))


def bench_feed(app, results_dir: Path, speed: float, echo) -> dict[str, float]:
    import multiprocessing

    from gui.data.live import QUEUE_BATCHES, BatchReader
    from gui.data.replay import ReplaySource
    from gui.windows.window import TwinWindow

    source = ReplaySource(results_dir)
    context = multiprocessing.get_context("spawn")
    rows = context.Queue(maxsize=QUEUE_BATCHES)
    reader = BatchReader(rows)

    class FeedWindow(TwinWindow):
        def pull(self) -> bool:
            return reader.drain_into(self.store) > 0

    window = FeedWindow("satwin bench", source.channels.names, source.total_rows, source.start_hour,
                        source.limits(), source.duration_s, source.site())  # with the site view, as live
    window.show()
    feeder = context.Process(target=feed_main, args=(str(results_dir), speed, rows), daemon=True)
    feeder.start()
    _run_events(app, 0.2)
    started = time.perf_counter()
    _run_events(app, 10 * source.total_rows / speed + 60, until=lambda: reader.final is not None)
    fed_s = time.perf_counter() - started
    _run_events(app, 0.5)
    feeder.join(10)
    figures = _figures(window, started)
    last_hour = _figures(window, started + fed_s * 23 / 24)
    n = window.store.n
    echo(f"fed {n:,} rows in {fed_s:.1f} s ({n / fed_s:,.0f} rows/s, asked {speed:g}) from a worker process")
    echo(_line("  whole feed", figures))
    echo(_line("  last 1/24 (a full day on screen)", last_hour))

    window.panels.set_x_range(0.0, source.duration_s)
    since = time.perf_counter()
    for _ in range(100):
        window.mark_dirty()
        window.redraw()
        window.panels.viewport().repaint()
    full_day = _figures(window, since)
    echo(_line(f"  full day, forced ({window.store.n:,} points x {len(window.panels.curves)} curves)", full_day))
    window.close()
    return {"feed": figures, "last_hour": last_hour, "full_day": full_day}


def bench_twin(app, speed: float, seconds: float, echo) -> dict[str, float]:
    from gui.data.live import LiveRun
    from gui.windows.live_window import LiveWindow
    from twin.config.scenario import load_scenario

    scenario = load_scenario(REFERENCE_SCENARIO)
    with tempfile.TemporaryDirectory() as out:
        window = LiveWindow(LiveRun(scenario, Path(out) / "run", speed=speed))
        window.show()
        started = time.perf_counter()
        window.start_run()
        _run_events(app, seconds)
        elapsed = time.perf_counter() - started
        figures = _figures(window, started)
        figures["sim_speed"] = window.sim_now_s / elapsed
        window.close()
    echo(f"real twin live at {speed:g}x for {seconds:g} s wall: reached {figures['sim_speed']:,.0f}x real time")
    echo(_line("  with the twin in its worker process", figures))
    return figures


def bench_live(speed: float = 3600.0, duration_s: float = 86400.0, echo=print, results_dir: Path | None = None,
               twin_seconds: float = 15.0) -> dict:
    from gui.windows.app import qt_app

    app = qt_app(headless=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = results_dir or _recorded_day(duration_s, Path(tmp) / "day", echo)
        feed = bench_feed(app, folder, speed, echo)
    twin = bench_twin(app, speed, twin_seconds, echo)
    return {**feed, "twin": twin}


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=float, default=3600.0)
    parser.add_argument("--hours", type=float, default=24.0)
    parser.add_argument("--results", type=Path, help="an existing results folder of 1 s steps to feed")
    args = parser.parse_args()
    bench_live(args.speed, args.hours * 3600.0, results_dir=args.results)
