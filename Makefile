# The README's two commands: `make demo` and `make test`. Everything else is installed here.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# pip prints a warning per package for local mirrors some machines configure; keep output readable
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test install bench clean docs-figures

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit("satwin needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(PIP) install --upgrade pip 2>&1 | grep -v "is ignored" || true
	$(PIP) install -e ".[test,gui]" 2>&1 | grep -v "is ignored" || true
	$(BIN)/python -c "import twin, hil, pandapower, simpy, pymodbus" 
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/satwin demo --out results/demo

test: install
	$(BIN)/python -m pytest

bench: install
	$(BIN)/satwin bench

# the one-line PNG and the GUI site view in docs/, from a real run of the freight-corridor site
# (docs/gui/holiday-faults.toml) during its transformer outage at 11:20
docs-figures: install
	$(BIN)/satwin run docs/gui/holiday-faults.toml --out results/holiday-faults
	$(BIN)/satwin grid --from results/holiday-faults --at 11:20 --plot docs/one-line.png
	QT_QPA_PLATFORM=offscreen $(BIN)/satwin gui results/holiday-faults --at 680min --screenshot-site docs/gui/site.png

clean:
	rm -rf $(VENV) results .pytest_cache
