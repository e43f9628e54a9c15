# voucher-exchange — `make help` lists every target.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
STAMP  := $(VENV)/.installed

.DEFAULT_GOAL := help
.PHONY: help install run test test-all test-extras timings test-fast test-browser fuzz audit bench bench-risk bench-login bench-webhooks bench-freeze bench-embedded bench-quotes soak chaos graph lint format messages screenshots clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml package.json package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --loglevel=error
	touch $(STAMP)

install: $(STAMP) ## Create .venv and install the pinned dependencies (Python and npm)

run: $(STAMP) ## Start the exchange on SQLite with sandboxes and demo data (PORT=8000)
	$(BIN)/voucher-exchange serve --demo --port $(PORT)

# Two pytest-xdist workers, each file on one worker (its module fixtures start once): much of
# the suite waits on servers, timeouts and fsync, which two workers overlap even on 2 cores.
# --no-loadscope-reorder: files go out in collection order, which tests/conftest.py sets from
# tests/timings.json (longest first, so both workers finish together; `make timings` refreshes
# it). PostgreSQL runs only the tests marked both_backends; the scale-out pushes 300 trades.
PYTEST_SUITE := $(BIN)/pytest -q -n 2 --dist loadfile --no-loadscope-reorder

test: $(STAMP) ## Run the whole test suite (two workers; the README's test command)
	$(PYTEST_SUITE)

test-all: test test-extras ## make test, then the longer proofs (make test-extras); .ci/run runs both

test-extras: $(STAMP) ## The 2,000-trade scale-out alone, then make fuzz and make chaos
	VX_SCALE_TRADES=2000 $(BIN)/pytest -q tests/e2e/test_scale_out.py
	$(MAKE) fuzz
	$(MAKE) chaos

timings: $(STAMP) ## Run make test's suite and record each file's duration in tests/timings.json
	$(PYTEST_SUITE) --record-timings

test-fast: $(STAMP) ## Run the suite without the slow process-killing tests
	$(BIN)/pytest -q -m "not slow"

test-browser: $(STAMP) ## Only the web app's tests in headless Chromium
	$(BIN)/pytest -q -m browser

screenshots: $(STAMP) ## Refresh docs/screenshots/ from the browser tests (only this target takes them)
	VX_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q -m browser

fuzz: $(STAMP) ## Schema-driven fuzzing of the API on both databases, longer than in `make test` (EXAMPLES=100)
	VX_FUZZ_EXAMPLES=$(or $(EXAMPLES),100) $(BIN)/pytest -q -s tests/e2e/test_schema_fuzz.py

audit: $(STAMP) ## Known vulnerabilities in the pinned dependencies (pip-audit); names every package it could not audit
	$(BIN)/python .ci/audit.py $(BIN)/pip-audit

messages: $(STAMP) ## Extract translatable text and merge it into the Korean catalogue
	$(BIN)/pybabel extract -F babel.cfg -k N_ -k gettext:2 --no-location --sort-output -o var/messages.pot src/voucher_exchange
	$(BIN)/pybabel update -i var/messages.pot -d src/voucher_exchange/locale -l ko --no-fuzzy-matching --ignore-obsolete

bench: $(STAMP) ## CPU per trade per process, speed and latency, durable PostgreSQL + SQLite (TRADES=800 BENCH_ARGS=--help)
	$(BIN)/python -m bench.scale_out --trades $(or $(TRADES),800) $(BENCH_ARGS)

bench-risk: $(STAMP) ## One risk decision's latency with 1,000,000 stored trades; sanctions screening on the 2024 list
	$(BIN)/python -m bench.risk_decision
	$(BIN)/python -m bench.sanctions_screening

bench-webhooks: $(STAMP) ## Webhook latency from payment to the partner (p50, p99) and CPU per delivered event (TRADES=200)
	$(BIN)/python -m bench.webhooks --trades $(or $(TRADES),200)

bench-quotes: $(STAMP) ## Quotes open loop on durable PostgreSQL, 2 API processes, 100 sellers each on its own address: p50/p99 (RATE=500 QUOTE_SECONDS=20)
	$(BIN)/python -m bench.scale_out --only quotes --backends postgresql --rates $(or $(RATE),500) --quote-seconds $(or $(QUOTE_SECONDS),20)

bench-embedded: $(STAMP) ## The embedded default as a user runs it (serve --demo): server CPU per trade, idle vs a polled held trade (TRADES=200)
	$(BIN)/python -m bench.embedded --trades $(or $(TRADES),200)

soak: $(STAMP) ## Soak the embedded default, then PostgreSQL: each up to 20,000 trades or MINUTES (15) minutes, RSS and CPU per 1,000 trades, flat-memory verdict, plot in docs/soak.png (TRADES= MINUTES= SOAK_ARGS=--tracemalloc)
	$(BIN)/python -m bench.soak --trades $(or $(TRADES),20000) --minutes $(or $(MINUTES),15) $(SOAK_ARGS)

chaos: $(STAMP) ## Load + flaky sandboxes + worker SIGKILLs + a PostgreSQL restart, then every invariant and zero 5xx (SECONDS=120)
	$(BIN)/python -m bench.chaos --seconds $(or $(SECONDS),120)

graph: $(STAMP) ## Print which package imports which (the architecture test checks the layering)
	$(BIN)/python -m tests.support.imports

bench-freeze: $(STAMP) ## Time from a fraud report to the hold or payout freeze it causes (REPORTS=20)
	$(BIN)/python -m bench.report_to_freeze --reports $(or $(REPORTS),20)

bench-login: $(STAMP) ## Memory and p99 of other requests while 100 concurrent bad log-ins run
	$(BIN)/python -m bench.login_flood

lint: $(STAMP) ## ruff and mypy --strict
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: $(STAMP) ## Format the code
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

clean: ## Remove the venv, caches and local data (var/)
	rm -rf $(VENV) var node_modules .pytest_cache .mypy_cache .ruff_cache
