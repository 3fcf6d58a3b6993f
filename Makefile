# Two entry points (README): `make demo` builds the warehouse on the demo data,
# `make test` runs every check CI runs. Both create .venv from requirements.txt.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
DBT    := $(BIN)/dbt

# dbt-duckdb resolves the database path against the working directory, so the
# profile builds it from this absolute root (docs/toolchain.md, gotcha 3).
export RETENTION_HOME := $(CURDIR)
export TF_CPP_MIN_LOG_LEVEL := 3
export PYTENSOR_FLAGS := compiledir=$(CURDIR)/.cache/pytensor
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: help install browser demo unit test lint pytest dbt-test cdnow clean spark-install spark-parity

help:
	@echo "make demo   - install into .venv, build the warehouse on the demo data, print where results are,"
	@echo "              render the HTML report (reports/retention/retention_report.html)"
	@echo "make unit   - the fast tier (~2 min): pure-Python tests, dbt unit tests, dbt-score; no warehouse build"
	@echo "make test   - install, then lint, the dbt build + tests, pytest and the Spark parity check (what CI runs)"
	@echo "make cdnow  - build the warehouse on the real CDNOW transaction log (orders only)"
	@echo "make clean  - remove the databases and dbt artefacts (keeps .venv)"
	@echo "make spark-parity - build on Spark and DuckDB, compare the tables and the scores (docs/spark.md)"

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	@# An activated venv knows the project root too, so `dbt` works from anywhere.
	@grep -q RETENTION_HOME $(BIN)/activate || echo 'export RETENTION_HOME="$(CURDIR)"' >> $(BIN)/activate
	@touch $@

install: $(VENV)/.installed

# The demo seeds hold eight generated campaigns (docs/demo_data.md): the demo reads them, so
# it shows the uplift path; a user's own data has no contacts unless they switch it on.
DEMO_VARS := --vars '{enable_contacts: true}'

demo: install
	$(DBT) build $(DEMO_VARS)
	$(BIN)/retention summary
	$(BIN)/retention report

cdnow: install
	$(BIN)/retention load-cdnow --out $(CURDIR)/data/cdnow
	RETENTION_DB=cdnow.duckdb $(DBT) build --vars "$$(cat config/cdnow_vars.yml)"
	RETENTION_DB=cdnow.duckdb $(BIN)/retention summary
	RETENTION_DB=cdnow.duckdb $(BIN)/retention report

lint: install
	$(BIN)/ruff check python tests dbt_score_rules benchmarks models
	$(BIN)/ruff format --check python tests dbt_score_rules benchmarks models
	RETENTION_DB=lint.duckdb DBT_TARGET_PATH=target/lint $(BIN)/sqlfluff lint models tests/dbt
	$(BIN)/python tests/spark/check_portable_sql.py

# The unit tier (README, "Tests in layers"): no warehouse build, no browser. Two jobs side
# by side (two cores):
# - unit-dbt: the dbt unit tests, their models' parents built empty (`--empty`: the
#   columns, no rows) in a database of its own; the 6 unit tests of models over dbt Python
#   models need the ML tables and run in `make test`'s build instead (path:models/ml+);
#   then dbt-score on that build's manifest (docs, contracts, keys, PII; pyproject.toml).
# - unit-pytest: pytest without the integration and slow tests, in two processes (pytest-xdist;
#   one test file per process at a time, so module fixtures are built once).
UNIT_TARGET := target/unit
.PHONY: unit-dbt unit-pytest
unit: install
	$(MAKE) --no-print-directory -j2 unit-dbt unit-pytest

unit-dbt: install
	rm -f unit.duckdb unit.duckdb.wal
	RETENTION_DB=unit.duckdb $(DBT) --quiet build --empty --target-path $(UNIT_TARGET) \
		--log-path $(UNIT_TARGET)/logs \
		--select "+test_type:unit" --exclude "test_type:data" "path:models/ml+"
	$(BIN)/dbt-score lint --manifest $(UNIT_TARGET)/manifest.json

unit-pytest: install
	$(BIN)/pytest -m "not integration and not slow" -n 2 --dist loadfile

# The report's test opens it in a real headless browser; CI machines start without one.
# Idempotent: nothing happens when /usr/bin/chromium exists (Debian's package).
CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser:
	@[ -x $(CHROMIUM) ] || { \
		echo "Installing Debian's chromium (for the report's browser test)"; \
		$(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
			chromium fonts-dejavu-core >/dev/null; \
	}
	@[ -x $(CHROMIUM) ] || { echo "chromium still missing at $(CHROMIUM)"; exit 1; }

# Three processes on the two cores, one test file per process at a time (module fixtures
# are built once): the tests' dbt builds have single-threaded phases (parsing, each network
# fit) and a test waiting for the shared small build holds its process. The slowest tests
# are printed so CI's duration (limit 40 min) can be watched.
pytest: install browser
	$(BIN)/pytest -n 3 --dist loadfile --durations=15

# The demo build and its data tests, in a database of its own; then the semantic layer
# against the built tables (pytest runs the warehouse-free part: --skip-dw).
dbt-test: install
	RETENTION_DB=test.duckdb $(DBT) build --fail-fast $(DEMO_VARS)
	$(BIN)/dbt-score lint --manifest target/manifest.json
	RETENTION_DB=test.duckdb $(BIN)/mf validate-configs

# Everything CI checks. First lint (one core) beside the demo build and its tests (~1.2
# cores), while the Spark venv's packages download and install (network and disk): lint's
# dbt templater has a target/ of its own (it writes no dbt log). The demo warehouse is what
# the docs tests and the Spark parity check read. Then pytest and the parity check side by
# side: the check is mostly the JVM and waits, and the tests' builds leave the cores idle at
# times.
.PHONY: test-pytest test-spark-parity
test:
	$(MAKE) --no-print-directory -j3 spark-deps lint dbt-test
	$(MAKE) --no-print-directory -j2 test-pytest test-spark-parity

test-pytest:
	RETENTION_DEMO_DB=$(CURDIR)/test.duckdb $(MAKE) --no-print-directory pytest

# Spark compatibility (docs/spark.md): its own venv, the main stack plus dbt-spark and pyspark.
SPARK_VENV := .venv-spark
$(SPARK_VENV)/.deps: requirements.txt requirements-spark.txt
	$(PYTHON) -m venv $(SPARK_VENV)
	$(SPARK_VENV)/bin/pip install --quiet --upgrade pip
	$(SPARK_VENV)/bin/pip install --quiet -r requirements-spark.txt
	@touch $@

# The package itself after the main venv's: an editable install writes python/*.egg-info,
# so the two must not run at once (`make test` installs the two venvs side by side).
$(SPARK_VENV)/.installed: $(SPARK_VENV)/.deps $(VENV)/.installed pyproject.toml
	$(SPARK_VENV)/bin/pip install --quiet --no-deps -e .
	@touch $@

.PHONY: spark-deps
spark-deps: $(SPARK_VENV)/.deps
spark-install: $(SPARK_VENV)/.installed

# Builds on Spark (target spark) and DuckDB, compares them row for row, scores on Spark.
PARITY := PYSPARK_PYTHON=$(CURDIR)/$(SPARK_VENV)/bin/python $(CURDIR)/$(SPARK_VENV)/bin/python tests/spark/parity.py
spark-parity: spark-install
	$(PARITY) $(DEMO_VARS)

# In `make test`: against the demo build dbt-test has made, instead of a build of its own.
test-spark-parity: spark-install
	$(PARITY) $(DEMO_VARS) --duckdb $(CURDIR)/test.duckdb

clean:
	rm -rf target logs reports *.duckdb *.duckdb.wal
