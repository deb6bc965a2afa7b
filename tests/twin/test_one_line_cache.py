"""A report's one-line diagram is drawn once a site and kept: a later report of the site
writes the same picture without drawing it, another site gets its own."""

from __future__ import annotations

import pytest

from tests.conftest import FREIGHT_SITE, PASSENGER_SITE
from twin.config.site import load_site
from twin.results import report
from twin.results.one_line import draw_one_line


def test_a_sites_one_line_diagram_is_drawn_once_and_kept(tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    freight, passenger = load_site(FREIGHT_SITE), load_site(PASSENGER_SITE)
    drawn = draw_one_line(freight, tmp_path / "drawn.png").read_bytes()
    first = report.write_one_line(freight, tmp_path / "first.png", cache_dir).read_bytes()
    assert first == drawn and first[:8] == b"\x89PNG\r\n\x1a\n"

    def must_not_draw(*args, **kwargs):
        raise AssertionError("drawn again")

    monkeypatch.setattr(report, "draw_one_line", must_not_draw)
    assert report.write_one_line(freight, tmp_path / "kept.png", cache_dir).read_bytes() == drawn
    with pytest.raises(AssertionError, match="drawn again"):  # another site is not the one kept
        report.write_one_line(passenger, tmp_path / "other.png", cache_dir)

    [entry] = cache_dir.glob("*.pickle")
    entry.write_bytes(b"torn")  # drawn again, never a failure
    monkeypatch.undo()
    assert report.write_one_line(freight, tmp_path / "again.png", cache_dir).read_bytes() == drawn
