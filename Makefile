# One entry point for people and CI. Every target installs what it needs first.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
DEMO_DB := data/demo.duckdb
# The database `make run` opens: the demo by default; DB=path/own.duckdb opens your own
# (created empty when it does not exist: demo data never goes into it).
DB     ?= $(DEMO_DB)
PORT   ?= 8501

.PHONY: run test check lint format bench demo install install-dev browser clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.txt
	$(PY) -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Debian's chromium for the real-browser tests; Playwright never downloads a browser here.
browser:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || \
	  { (apt-get update -qq || sudo apt-get update -qq) && \
	    (apt-get install -y -qq chromium || sudo apt-get install -y -qq chromium); }

$(DEMO_DB): | $(VENV)/.installed
	$(PY) -m analytics demo --db $(DEMO_DB)

# Rebuild the demo database (only ever data/demo.duckdb; see DEMO_DB).
demo: $(VENV)/.installed
	$(PY) -m analytics demo --db $(DEMO_DB) --replace

# The demo database is built on first use, and only when it is the one being opened.
run: $(VENV)/.installed $(if $(filter $(DEMO_DB),$(DB)),$(DEMO_DB))
	SALES_DB=$(DB) $(VENV)/bin/streamlit run dashboard.py --server.port $(PORT) --server.headless true

# PYTHONDONTWRITEBYTECODE (set on some CI images) is lifted for the tests: every command,
# server and crash test starts a Python that otherwise compiles the project from source
# again (a third of a CPU second each), and pytest rewrites every test module per worker.
test: $(VENV)/.installed-dev browser
	env -u PYTHONDONTWRITEBYTECODE $(PY) -m pytest -q -n auto --durations=10

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

check: lint test

bench: $(VENV)/.installed-dev
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
