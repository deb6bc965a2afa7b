"""The layers of docs/architecture.md are kept: import-linter's contracts (pyproject.toml) pass."""

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint, "import-linter is a test dependency (pyproject.toml [test])"
    result = subprocess.run([lint], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:]
    assert "0 broken" in result.stdout


def _cycles(exclude_type_checking_imports: bool) -> set[frozenset[str]]:
    """Pairs of modules that import each other, directly or through others (lazy imports count)."""
    import grimp

    graph = grimp.build_graph("twin", "hil", "gui", exclude_type_checking_imports=exclude_type_checking_imports)
    found = set()
    for importer in graph.modules:
        for imported in graph.find_modules_directly_imported_by(importer):
            if graph.chain_exists(importer=imported, imported=importer):
                found.add(frozenset((importer, imported)))
    return found


def test_no_import_cycles_at_run_time():
    assert _cycles(exclude_type_checking_imports=True) == set()


def test_only_known_type_annotation_back_references():
    # annotations only (TYPE_CHECKING): fault effects act on the Twin they belong to; the site
    # checks read the Site whose loader calls them
    assert _cycles(exclude_type_checking_imports=False) <= {
        frozenset(("twin.model.core", "twin.model.faults")),
        frozenset(("twin.config.site", "twin.config.site_checks")),
    }
