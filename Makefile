# Two commands do all set-up on a fresh machine (see README):
#   make run    create .venv, install, start the app
#   make test   create .venv, install (+ Debian's chromium for the browser test), lint, run every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test chromium bench clean

$(VENV)/.app-installed: requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-installed: $(VENV)/.app-installed requirements-train.txt requirements-dev.txt
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.app-installed
	$(VENV)/bin/streamlit run streamlit_app.py --server.port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.dev-installed chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m pytest -q

bench: $(VENV)/.dev-installed chromium
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
