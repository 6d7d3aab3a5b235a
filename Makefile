# Qazaq CRM: the two commands are `make run` and `make test`; everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PACKAGES := shared contracts $(wildcard services/*) gateway cli
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: install browser run test format test-unit test-integration test-e2e test-browser bench lint proto clean

$(STAMP): $(PYPROJECTS) requirements-dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

install: $(STAMP)

# The browser tests drive Debian's chromium (Playwright never downloads a browser); root installs it.
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -q && apt-get install -y -q chromium; } \
		|| echo "chromium is missing: the browser tests need it (apt-get install chromium)"

run: install
	$(BIN)/crm up --seed

test: install browser lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: install
	$(BIN)/python -m pytest -m "not integration and not e2e" $(PYTEST_ARGS)

test-e2e: install
	$(BIN)/python -m pytest -m e2e $(PYTEST_ARGS)

test-browser: install browser
	$(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench.run_all

# The habits every commit keeps (CI runs this first, through make test): ruff lint and format,
# import contracts (.importlinter), buf lint of the protos.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	cd contracts && ../$(BIN)/buf lint

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

proto: install
	$(BIN)/python contracts/generate.py

clean:
	rm -rf var .pytest_cache
