# Two commands for a fresh machine: `make run` and `make test`. Each builds .venv by itself.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ORACLE := tests/oracle
ORACLE_STAMP := $(ORACLE)/node_modules/.installed
NATIVE_DIR := src/solarb/native
NATIVE_SRC := $(wildcard $(NATIVE_DIR)/*.c $(NATIVE_DIR)/*.h) setup.py
NATIVE_STAMP := $(NATIVE_DIR)/.built

.PHONY: run test venv native oracle sim bench clean

$(STAMP): pyproject.toml requirements.lock
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) on PATH (or: make PYTHON=python3 ...)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.lock
	$(PY) -m pip install -q --no-deps -e .
	@touch $(STAMP)

venv: $(STAMP)

# The C swap kernels (solarb.native), built in place; optional: without a C compiler solarb runs
# its pure-Python path (the tests then say the kernels are missing).
$(NATIVE_STAMP): $(STAMP) $(NATIVE_SRC)
	$(PY) setup.py -q build_ext --inplace
	@touch $(NATIVE_STAMP)

native: $(NATIVE_STAMP)

$(ORACLE_STAMP): $(ORACLE)/package.json $(ORACLE)/package-lock.json
	cd $(ORACLE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(ORACLE_STAMP)

oracle: $(ORACLE_STAMP)

run: $(NATIVE_STAMP)
	$(VENV)/bin/solarb run $(ARGS)

sim: $(NATIVE_STAMP)
	$(VENV)/bin/solarb sim $(ARGS)

test: $(NATIVE_STAMP) $(ORACLE_STAMP)
	$(PY) -m pytest $(ARGS)

bench: $(NATIVE_STAMP)
	$(VENV)/bin/solarb bench --json $(ARGS)

clean:
	rm -rf $(VENV) $(ORACLE)/node_modules build $(NATIVE_STAMP) $(NATIVE_DIR)/*.so
