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

.PHONY: run test test-pure venv native sanitize oracle sim bench clean

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

# The kernels built with AddressSanitizer + UndefinedBehaviorSanitizer (in build/sanitize, not in
# place), then their differential tests and the DEX tests run against that build.
SANITIZE_DIR := build/sanitize
sanitize: $(STAMP) $(ORACLE_STAMP)
	rm -rf $(SANITIZE_DIR) && mkdir -p $(SANITIZE_DIR) && cp -r src setup.py pyproject.toml README.md $(SANITIZE_DIR)/
	rm -f $(SANITIZE_DIR)/$(NATIVE_DIR)/*.so
	cd $(SANITIZE_DIR) && CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer" \
		LDFLAGS="-fsanitize=address,undefined" ../../$(PY) setup.py -q build_ext --inplace
	export LD_PRELOAD="$$(cc -print-file-name=libasan.so):$$(cc -print-file-name=libubsan.so)" \
		ASAN_OPTIONS=detect_leaks=0 PYTHONPATH=$(SANITIZE_DIR)/src && \
	$(PY) -c "import sys, solarb.native as n; sys.exit(0 if all(m and '$(SANITIZE_DIR)' in m.__file__ for m in map(n.load, n.KERNELS)) else 'not the sanitized kernels')" && \
	$(PY) -m pytest tests/native tests/dex tests/strategy tests/rpc/test_ws_notes.py $(ARGS)

$(ORACLE_STAMP): $(ORACLE)/package.json $(ORACLE)/package-lock.json
	cd $(ORACLE) && npm ci --no-audit --no-fund --loglevel=error
	@touch $(ORACLE_STAMP)

oracle: $(ORACLE_STAMP)

run: $(NATIVE_STAMP)
	$(VENV)/bin/solarb run $(ARGS)

sim: $(NATIVE_STAMP)
	$(VENV)/bin/solarb sim $(ARGS)

# The tests of every module with a C kernel and a Python path, run again on the Python path
# (SOLARB_NATIVE=0): a change that breaks only the fallback fails CI too. `make test` runs them
# after the whole suite unless ARGS picks tests.
PURE_TESTS := tests/dex tests/strategy tests/native tests/market tests/feeds tests/risk \
	tests/rpc/test_ws_notes.py tests/runtime/test_bench.py tests/runtime/test_pipeline_decide.py \
	tests/runtime/test_warm.py tests/test_frozen.py

test: $(NATIVE_STAMP) $(ORACLE_STAMP)
	$(PY) -m pytest $(ARGS)
	$(if $(ARGS),,SOLARB_NATIVE=0 $(PY) -m pytest $(PURE_TESTS))

test-pure: $(STAMP) $(ORACLE_STAMP)
	SOLARB_NATIVE=0 $(PY) -m pytest $(or $(ARGS),$(PURE_TESTS))

bench: $(NATIVE_STAMP)
	$(VENV)/bin/solarb bench --json $(ARGS)

clean:
	rm -rf $(VENV) $(ORACLE)/node_modules build $(NATIVE_STAMP) $(NATIVE_DIR)/*.so
