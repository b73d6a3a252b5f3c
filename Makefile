# Xuefen developer commands. Only Python 3.11+ and make are needed; everything else goes in .venv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint format install schema check-schema migrate serve bench bench-import clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Xuefen needs Python 3.11 or newer (set PYTHON=python3.x)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $(STAMP)

install: $(STAMP)

## make demo: migrate a SQLite file, load the demo company, serve http://127.0.0.1:8000/graphql
demo: $(STAMP)
	$(BIN)/xuefen demo

## make test: the whole suite (SQLite unless XUEFEN_TEST_DATABASE_URL names a PostgreSQL server)
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff (lint and format check) and mypy, as CI runs them; make format rewrites the layout
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

serve: $(STAMP)
	$(BIN)/xuefen serve

migrate: $(STAMP)
	$(BIN)/xuefen migrate

schema: $(STAMP)
	$(BIN)/xuefen export-schema

check-schema: $(STAMP)
	$(BIN)/xuefen export-schema --check

## make bench: the benchmarks (sync needs PostgreSQL: BENCH_POSTGRES_URL, default on 127.0.0.1:5432)
BENCH_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/postgres
bench: $(STAMP)
	$(BIN)/python -m bench.catalog_page
	$(BIN)/python -m bench.catalog_page --database "$(BENCH_POSTGRES_URL)"
	$(BIN)/python -m bench.leaderboard
	$(BIN)/python -m bench.leaderboard --database "$(BENCH_POSTGRES_URL)"
	$(BIN)/python -m bench.sync_push --database "$(BENCH_POSTGRES_URL)"
	$(BIN)/python -m bench.read_path --database "$(BENCH_POSTGRES_URL)"
	$(BIN)/python -m bench.read_path --database "$(BENCH_POSTGRES_URL)" --workers 2
	$(BIN)/python -m bench.media_download
	$(BIN)/python -m bench.reports --database "$(BENCH_POSTGRES_URL)"

## make bench-import: a generated company of 20,000 employees and 1,000,000 history records imported (≈ 10 min)
bench-import: $(STAMP)
	$(BIN)/python -m bench.import_company --database "$(BENCH_POSTGRES_URL)"

clean:
	rm -rf $(VENV) .pytest_cache *.egg-info
