# make run   : set up .venv, migrate, serve on http://127.0.0.1:8000 (embedded PostgreSQL + Redis)
# make test  : set up .venv and run the test suite
VENV    ?= .venv
PYTHON  ?= python3
BIN      = $(VENV)/bin
STAMP    = $(VENV)/.installed-stamp
HOST    ?= 127.0.0.1
PORT    ?= 8000

.PHONY: install run worker test lint typecheck openapi bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/crm-api serve --host $(HOST) --port $(PORT)

worker: install
	$(BIN)/crm-api worker

test: install
	$(BIN)/pytest -q

lint: install
	$(BIN)/ruff check src tests bench

typecheck: install
	$(BIN)/mypy src

openapi: install
	$(BIN)/crm-api openapi --out openapi/openapi.json

bench: install
	$(BIN)/python -m bench.run

clean:
	rm -rf $(VENV) .crm-test .pytest_cache .ruff_cache .mypy_cache
