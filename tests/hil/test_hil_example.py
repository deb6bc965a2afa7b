"""The example in ``examples/`` runs against a served twin and does what it says."""

from __future__ import annotations

import subprocess
import sys

from hil_rig import REPO

from hil.maps.registers import export


def test_first_contact_example(rig, tmp_path):
    unit_map = tmp_path / "map.json"
    unit_map.write_text(export(rig.reg_map, "json", ""))
    result = subprocess.run([sys.executable, str(REPO / "examples" / "modbus_first_contact.py"),
                             "--port", str(rig.port), "--map", str(unit_map)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert "grid import" in result.stdout
    rig.step()
    assert rig.snap.bess_p_set_kw == 200.0
