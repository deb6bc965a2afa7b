"""Fixtures of the HIL tests (helpers in ``hil_rig``; this folder has no package on purpose:
a ``tests/hil`` package would shadow the real ``hil``)."""

from __future__ import annotations

import pytest
from hil_rig import make_rig


@pytest.fixture
def rig(tmp_path):
    rig, server = make_rig(tmp_path)
    rig.step()
    yield rig
    server.stop()
    rig.bridge.close()


@pytest.fixture
def read_only_rig(tmp_path):
    rig, server = make_rig(tmp_path, read_only=True)
    rig.step()
    yield rig
    server.stop()
    rig.bridge.close()
