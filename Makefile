# Two commands for a fresh machine: `make run` and `make test`. Each builds .venv by itself.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ORACLE := tests/oracle
ORACLE_STAMP := $(ORACLE)/node_modules/.installed

.PHONY: run test venv oracle sim bench clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

$(ORACLE_STAMP): $(ORACLE)/package.json $(ORACLE)/package-lock.json
	cd $(ORACLE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(ORACLE_STAMP)

oracle: $(ORACLE_STAMP)

run: $(STAMP)
	$(VENV)/bin/solarb run $(ARGS)

sim: $(STAMP)
	$(VENV)/bin/solarb sim $(ARGS)

test: $(STAMP) $(ORACLE_STAMP)
	$(PY) -m pytest $(ARGS)

bench: $(STAMP)
	$(VENV)/bin/solarb bench --json $(ARGS)

clean:
	rm -rf $(VENV) $(ORACLE)/node_modules
