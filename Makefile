# Two commands do all set-up on a fresh machine (see README):
#   make run    create .venv, install, start the app
#   make test   create .venv, install (+ Debian's chromium for the browser test), lint, type-check, run every test
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8501

.PHONY: run test chromium bench clean translations

$(VENV)/.app-installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	touch $@

# The weights file leaves out what the verified ImageNet backbone holds: fetch it once, while online.
$(VENV)/.backbone-fetched: $(VENV)/.app-installed model/core/backbone.py
	$(PY) -m model backbone
	touch $@

$(VENV)/.dev-installed: $(VENV)/.backbone-fetched requirements-train.txt requirements-dev.txt requirements-scale.txt
	$(PY) -m pip install --quiet -r requirements-train.txt -r requirements-dev.txt -r requirements-scale.txt
	touch $@

run: $(VENV)/.backbone-fetched
	$(VENV)/bin/brain-mri-app --server.port $(PORT)

chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

test: $(VENV)/.dev-installed chromium
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

# Extract every message into the template and merge it into each language's catalog (model/locales); then translate
# the new entries. The app compiles the catalogs in memory when it starts; `make test` fails on a missing translation.
translations: $(VENV)/.dev-installed
	$(VENV)/bin/pybabel extract -F model/locales/babel.cfg -k N_ -k _ --no-location --sort-output --width 120 \
	  --project brain-mri-classifier -o model/locales/messages.pot .
	$(VENV)/bin/pybabel update -i model/locales/messages.pot -d model/locales --width 120 --ignore-obsolete

bench: $(VENV)/.dev-installed chromium
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache
