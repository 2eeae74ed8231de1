# Autoencoder Lab: `make run` starts the app, `make test` runs every test. Both create .venv and
# install the pinned requirements on first use; a second run installs nothing unless a
# requirements file changed (the stamp files below are newer than the requirements).

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PIP    := $(BIN)/python -m pip --disable-pip-version-check --quiet
PORT   ?= 8501

RUNTIME_STAMP := $(VENV)/.runtime-installed
DEV_STAMP     := $(VENV)/.dev-installed

.PHONY: run dev test test-fast lint format translations bench lesson-defaults onnx soak chaos cluster cluster-down install install-dev chromium browsers fonts postgresql haproxy fashion-mnist clean

run: $(RUNTIME_STAMP) fashion-mnist
	$(BIN)/streamlit run app.py --server.port=$(PORT)

# For editing the app: reload when a source file is saved (the app itself runs without a file
# watcher, which cost CPU on every rerun; see .streamlit/config.toml).
dev: $(RUNTIME_STAMP)
	$(BIN)/streamlit run app.py --server.port=$(PORT) --server.fileWatcherType=auto --server.runOnSave=true

# The store's tests run against SQLite and a throwaway PostgreSQL server started for the run;
# two test processes (tests/conftest.py says which tests share one).
test: $(DEV_STAMP) chromium browsers fonts postgresql haproxy fashion-mnist
	scripts/with-postgresql $(BIN)/python -m pytest -n 2

# Skips the tests marked slow (training, TensorFlow in a subprocess, served apps, real browsers):
# about 85 s here; `make test` always runs everything. Both print the 25 slowest tests.
test-fast: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not slow"

# Performance figures beside their baselines; writes bench/RESULTS.md. Not part of `make test`:
# timings on a shared machine belong in a benchmark, not in a pass/fail test.
bench: $(DEV_STAMP) chromium
	$(BIN)/python -m bench.run

# The lessons' defaults measured on the validation split (bench/lesson_defaults.py): which race
# settings rank the racers as the texts say, how many epochs the VAE needs; bench/DEFAULTS.md.
lesson-defaults: $(DEV_STAMP)
	$(BIN)/python -m bench.lesson_defaults

# What the web tier runs of the shipped models (trained/*.onnx.zip), rebuilt from the .keras
# files and checked against them; `python -m core.train` writes them too.
onnx: $(RUNTIME_STAMP)
	$(BIN)/python -m core.ml.onnx_export

# A classroom on one local server: 20 Chromium sessions, 2 of them training; then a class of 30
# watching the live board (store queries per second, CPU); then 40 sessions through HAProxy on
# the `make cluster` topology; writes bench/SOAK.md.
soak: $(DEV_STAMP) chromium postgresql haproxy
	$(BIN)/python -m bench.soak
	$(BIN)/python -m bench.class_soak --append
	$(BIN)/python -m bench.cluster_soak --append

# Fault injection on the `make cluster` topology while 6 Chromium students train through HAProxy:
# a worker killed, a worker frozen past the lost-worker limit, the scheduler killed, an app
# server killed, PostgreSQL restarted; checks no run is lost or written twice, no page raised,
# no student saw another's run; figures in bench/CHAOS.md (about 10 minutes).
chaos: $(DEV_STAMP) chromium postgresql haproxy
	$(BIN)/python -m bench.chaos

# The multi-server topology on this machine: PostgreSQL, a Dask scheduler, two training workers,
# two app servers and HAProxy in front on CLUSTER_PORT (docs/DEPLOY.md). Returns once all is
# healthy; its last line is `cluster ready: URL`. `make cluster-down` stops it and drops its data.
CLUSTER_PORT ?= 8600
cluster: $(RUNTIME_STAMP) postgresql haproxy fashion-mnist
	$(BIN)/python -m deploy.cluster up --port $(CLUSTER_PORT)

cluster-down:
	@if [ -x $(BIN)/python ]; then $(BIN)/python -m deploy.cluster down; else echo "no cluster (no $(VENV))"; fi

# Besides ruff: no user-visible text in pages/ or ui/ outside the message catalogue
# (scripts/check-messages).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python scripts/check-messages

# After changing a user-visible text: extract every marked message into locale/messages.pot,
# merge it into each language's catalogue (a new message arrives empty, a changed one marked
# fuzzy: translate both in locale/LANG/LC_MESSAGES/messages.po), and compile. `make test` fails
# while a catalogue misses a message or keeps a fuzzy one (tests/unit/test_catalogue.py).
translations: $(RUNTIME_STAMP)
	$(BIN)/pybabel extract -F babel.cfg --add-comments=Translators: --sort-by-file \
		--project="Autoencoder Lab" --msgid-bugs-address="" -o locale/messages.pot .
	$(BIN)/pybabel update -i locale/messages.pot -d locale -D messages --no-wrap
	$(BIN)/pybabel compile -d locale -D messages --statistics

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

install: $(RUNTIME_STAMP)
install-dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(RUNTIME_STAMP): requirements.txt requirements-web.txt requirements-mnist.txt | $(BIN)/python
	$(PIP) install -r requirements.txt
	$(PIP) install --no-deps -r requirements-mnist.txt
	@touch $@

$(DEV_STAMP): requirements-dev.txt $(RUNTIME_STAMP)
	$(PIP) install -r requirements-dev.txt
	@touch $@

# The browser tests drive a system Chromium (Playwright cannot download its own here).
chromium:
	@scripts/ensure-chromium

# Chinese fonts (Debian's fonts-noto-cjk) for the browsers' screenshots of the Chinese pages.
fonts:
	@scripts/ensure-fonts

# WebKit (Safari's engine) and Firefox ESR for the cross-engine tests (tests/browser/test_browser_engines.py).
browsers:
	@scripts/ensure-browsers

# `make cluster` and its test put Debian's HAProxy in front of the app servers.
haproxy:
	@scripts/ensure-haproxy

# The second dataset: Debian's dataset-fashion-mnist (the app offers MNIST alone without it).
fashion-mnist:
	@scripts/ensure-fashion-mnist

# The store's tests need Debian's PostgreSQL server and pg_virtualenv (installed with apt).
postgresql:
	@scripts/ensure-postgresql

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache tests/artifacts
