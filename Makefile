# Turnaround: `make run` to try it, `make test` to check it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed
export FLASK_APP := app:create_app

.PHONY: run test setup chromium migrate seed clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

setup: $(STAMP) $(NPM_STAMP)

migrate: setup
	@mkdir -p instance
	$(BIN)/flask db upgrade

seed: migrate
	$(BIN)/flask seed-demo

run: seed
	@$(BIN)/python -m app.devrun

# Debian's Chromium for the browser tests: installed when this user may install packages, else the command to run.
chromium:
	@tests/e2e/ensure-chromium

# Two test processes (pytest-xdist), each with its own database and Redis database; TEST_PROCESSES=0 runs the suite in one.
# pytest's exit status 5 means it collected no tests: a failure, said in words.
TEST_PROCESSES ?= 2
test: setup chromium
	@$(BIN)/python -m pytest -n $(TEST_PROCESSES) $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests (PYTEST_ARGS='$(PYTEST_ARGS)')" >&2; fi; \
	exit $$status

clean:
	rm -rf $(VENV) node_modules instance .pytest_cache
