# Two commands: `make run` and `make test`. Everything else is a helper of those or of CI.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
STAMP  := $(VENV)/.installed

.PHONY: run test fuzz bench lint e2e clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt
	@touch $(STAMP)

run: $(STAMP)  ## serve the embedded default on port 8001 (PORT overrides)
	scripts/run.sh

test: $(STAMP)  ## the whole suite on SQLite and on PostgreSQL + Redis
	scripts/test.sh $(ARGS)

fuzz: $(STAMP)  ## schemathesis against a live server on SQLite, then PostgreSQL (FUZZ_LANES=...): no request may produce a 5xx
	scripts/fuzz.sh

e2e: $(STAMP)  ## production topology without Docker: entrypoint + gunicorn + nginx on throwaway services (E2E_ONLY=...)
	scripts/e2e.sh

bench: $(STAMP)  ## benchmarks: print figures and ratios (BENCH=auth runs one; not run by CI)
	scripts/bench.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
