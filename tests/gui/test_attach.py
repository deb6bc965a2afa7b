"""``satwin gui --attach``: the window watches a served twin over a real socket on 127.0.0.1."""

from __future__ import annotations

import importlib.util
import socket
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from gui.data.attach import UNAVAILABLE, AttachError, Poller, parse_address
from gui.windows.attach_window import AttachWindow

HIL_TESTS = Path(__file__).resolve().parents[1] / "hil"


def _hil_rig():
    """``tests/hil/hil_rig.py`` (that folder is not a package on purpose: it would shadow ``hil``)."""
    if "hil_rig" not in sys.modules:
        spec = importlib.util.spec_from_file_location("hil_rig", HIL_TESTS / "hil_rig.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules["hil_rig"] = module
        spec.loader.exec_module(module)
    return sys.modules["hil_rig"]


@pytest.fixture
def rig(tmp_path):
    rig, server = _hil_rig().make_rig(tmp_path)
    rig.step(5)
    yield rig
    server.stop()
    rig.bridge.close()


@pytest.fixture
def attach(qtbot):
    windows = []

    def make(port: int, **poller_options) -> AttachWindow:
        window = AttachWindow(Poller("127.0.0.1", port, poll_s=0.05, **poller_options))
        qtbot.addWidget(window)
        window.show()
        window.start_run()
        windows.append(window)
        return window

    yield make
    for window in windows:
        window.close()


def free_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _meter_p_kw(rig) -> float:
    """What the registers say: the meter's ``p_kw`` read over Modbus by the reference client."""
    from hil.clients.reference_ems import SiteClient

    client = SiteClient("127.0.0.1", rig.port)
    try:
        return client.read(client.discover()["meter"])["p_kw"]
    finally:
        client.close()


def test_attach_plots_the_served_grid_import_as_the_registers_say(rig, attach, qtbot):
    window = attach(rig.port)
    qtbot.waitUntil(lambda: window.store.n >= 1, timeout=10_000)
    assert window.sim_now_s == pytest.approx(5.0)
    registers = _meter_p_kw(rig)
    assert registers == pytest.approx(rig.snap.grid_p_kw, rel=1e-6)  # float32 on the wire
    assert window.store.value_at("grid_p_kw", 5.0) == registers
    assert window.store.value_at("contract_limit_kw", 5.0) == pytest.approx(rig.snap.contract_limit_kw, rel=1e-6)
    assert window.store.value_at("pv_p_kw", 5.0) == pytest.approx(rig.snap.pv_p_kw.sum(), rel=1e-5, abs=1e-3)
    assert window.store.value_at("bess_soc_pct", 5.0) == pytest.approx(rig.snap.bess_soc_pct, rel=1e-6)
    assert window.store.value_at("charger_connected", 5.0) == rig.snap.charger_connected.sum()

    rig.step(10)  # the server steps on: a new sample per new sim time, none while it stands still
    qtbot.waitUntil(lambda: window.sim_now_s == 15.0, timeout=10_000)
    qtbot.wait(300)
    times = list(window.store.time())  # the poller may catch a step in between, never one twice
    assert times[0] == 5.0 and times[-1] == 15.0 and times == sorted(set(times))
    window.redraw()
    grid_curve = next(curve for curve, channel in window.panels.curves if channel == "grid_p_kw")
    assert grid_curve.yData[-1] == _meter_p_kw(rig)
    assert window.poller.connected and "attached to 127.0.0.1" in window.status.text()
    # what Modbus does not carry is said on its panel, not drawn as zeros
    assert not any(channel.startswith(("v_pu.", "trafo_loading_pct.", "queue_len."))
                   for _curve, channel in window.panels.curves)
    assert all(UNAVAILABLE in window.panels.notes[title] for title in ("Bus voltage", "Transformer loading"))


def test_closing_the_window_stops_polling(rig, attach, qtbot):
    window = attach(rig.port)
    qtbot.waitUntil(lambda: window.poller.polls >= 3, timeout=10_000)
    window.close()
    assert not window.poller.alive
    polls = window.poller.polls
    qtbot.wait(300)
    assert window.poller.polls == polls
    assert "stopped" in window.poller.status


def test_lost_connection_shows_in_the_status_bar_and_gives_up_after_the_bound(tmp_path, attach, qtbot):
    rig, server = _hil_rig().make_rig(tmp_path)
    rig.step()
    window = attach(rig.port, max_reconnects=2, reconnect_s=0.05)
    qtbot.waitUntil(lambda: window.poller.connected, timeout=10_000)
    server.stop()
    rig.bridge.close()
    qtbot.waitUntil(lambda: "lost" in window.status.text() or window.poller.gave_up, timeout=15_000)
    qtbot.waitUntil(lambda: window.poller.gave_up, timeout=30_000)
    window.redraw()
    assert "gave up" in window.status.text() and not window.poller.alive
    assert window.failure and window.ready_for_screenshot(None)  # a screenshot run ends instead of waiting


def test_connection_refused_is_a_clean_status_not_a_crash(attach, qtbot):
    window = attach(free_port(), max_reconnects=1, reconnect_s=0.05)
    qtbot.waitUntil(lambda: window.poller.gave_up, timeout=20_000)
    window.redraw()
    assert "gave up" in window.status.text() and "no Modbus server" in window.status.text()
    assert window.store.n == 0


@pytest.mark.parametrize("text", ["localhost", "host:", ":5020", "host:http", "host:70000"])
def test_bad_addresses_are_refused_with_one_line(text):
    with pytest.raises(AttachError) as refused:
        parse_address(text)
    assert "\n" not in str(refused.value)


def test_addresses_parse():
    assert parse_address("127.0.0.1:5020") == ("127.0.0.1", 5020)
    assert parse_address("[::1]:502") == ("::1", 502)


# -- the command line, against ``hil.serve.serve`` in a thread -----------------------------
def _served(tmp_path, speed: float = 600.0):
    """``serve`` of the evening in a thread on a free port; (port, stop, thread).

    Eight simulated hours (48 s at 600x) outlast a GUI start-up on a loaded CI machine; the
    test stops the server itself when it is done.
    """
    from hil.serve import ServeOptions, serve

    listening, stop, box = threading.Event(), threading.Event(), {}

    def on_listening(port: int) -> None:
        box["port"] = port
        listening.set()

    thread = threading.Thread(target=serve, daemon=True, kwargs=dict(
        scenario=_hil_rig().evening_scenario(duration_s=8 * 3600.0), out_dir=tmp_path / "served", port=0,
        options=ServeOptions(speed=speed),
        echo=lambda _line: None, stop=stop, on_listening=on_listening))
    thread.start()
    assert listening.wait(60)
    return box["port"], stop, thread


def test_attach_screenshot_renders_after_a_few_polls_and_exits_zero(tmp_path):
    from tests.gui.test_cli import satwin_gui

    port, stop, thread = _served(tmp_path)
    try:
        png = tmp_path / "attach.png"
        done = satwin_gui("--attach", f"127.0.0.1:{port}", "--screenshot", str(png))
        assert done.returncode == 0, done.stderr
        assert png.stat().st_size > 10_000
    finally:
        stop.set()
        thread.join(60)


def test_attach_cli_refuses_bad_addresses_and_silent_ports_with_exit_two():
    from tests.gui.test_cli import satwin_gui

    done = satwin_gui("--attach", "nonsense")
    assert done.returncode == 2 and "Traceback" not in done.stderr and "HOST:PORT" in done.stderr
    done = satwin_gui("--attach", f"127.0.0.1:{free_port()}")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "no Modbus server answers at 127.0.0.1" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_samples_are_numbers_where_modbus_has_them(rig, attach, qtbot):
    window = attach(rig.port)
    qtbot.waitUntil(lambda: window.store.n >= 1, timeout=10_000)
    row = {name: window.store.value_at(name, window.sim_now_s) for name in window.store.names}
    assert np.isnan(row["load_p_kw"])  # not published
    assert all(np.isfinite(v) for k, v in row.items() if k != "load_p_kw")


def test_a_server_restart_leaves_no_stale_envelope_bins(qtbot):
    """Sim time going backwards is a new run: the plot starts over, and so do the reduced bins."""
    from gui.data.attach import Sample
    from gui.plot.envelope import PeakEnvelope

    window = AttachWindow(Poller("127.0.0.1", free_port()))  # never started: the test feeds its rows
    qtbot.addWidget(window)
    width = len(window.store.names)
    rng = np.random.default_rng(7)

    def feed(values: np.ndarray) -> None:
        for t, row in enumerate(values, start=1):
            window.poller.rows.put(Sample(float(t), 18.0, row))
        while window.pull():
            pass

    feed(rng.normal(100.0, 1.0, size=(2000, width)))  # the first run
    window.panels.envelope.view(window.store, 0.0, 2000.0, 100.0)  # bins reduced from it
    feed(rng.normal(-100.0, 1.0, size=(2000, width)))  # the server restarted: another run from t = 1 s
    assert window.restarts == 1 and window.store.n == 2000
    x, y = window.panels.envelope.view(window.store, 0.0, 2000.0, 100.0)  # the same bin size as before
    fresh_x, fresh_y = PeakEnvelope().view(window.store, 0.0, 2000.0, 100.0)
    np.testing.assert_array_equal(x, fresh_x)
    np.testing.assert_array_equal(y, fresh_y)  # used to keep the first run's maxima (~ +100)
    assert y.max() < 0
