# The two commands of the README: `make serve` and `make test`. Everything else is their setup.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8001
# The browser tests drive Debian's Chromium at this path (never a downloaded browser). Only root
# may install it; USER_ID is overridable so the tests of this file can try either path.
CHROMIUM ?= /usr/bin/chromium
USER_ID ?= $(shell id -u)
PYTEST_ARGS ?=
REFRESH_ARGS ?=

.PHONY: serve test build install browser crawl refresh rates bench bench-nppes nppes-bulk clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

build: install
	$(BIN)/python build_db.py

# serve.py: Datasette over the immutable database in one worker process per core (WORKERS=N to choose).
serve: build
	@echo "Serving the directory at http://127.0.0.1:$(PORT)/ (database: ketamine). Ctrl-C stops it."
	$(BIN)/python serve.py --db data/ketamine.db --host 127.0.0.1 --port $(PORT) $(if $(WORKERS),--workers $(WORKERS))

# Installs Chromium when it is missing and this is root (CI); anyone else gets every other test,
# and the run's last lines list the browser tests skipped and how to run them (tests/conftest.py).
browser:
	@if [ -x "$(CHROMIUM)" ]; then :; \
	elif [ "$(USER_ID)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	else echo "$(CHROMIUM) is missing and only root can install it: the browser tests will be skipped."; fi

test: install browser
	KAD_CHROMIUM=$(CHROMIUM) $(BIN)/python -m pytest $(PYTEST_ARGS)

# Refresh a feed from the live source (needs the internet): make crawl SPIDER=nppes
# Spider arguments go in ARGS: make crawl SPIDER=plan_net ARGS="-a payer=humana"
crawl: install
	$(BIN)/scrapy crawl $(SPIDER) $(ARGS)

# Every spider whose source answers (behind the feed guard), then the build, the tests and a
# summary of what changed (needs the internet): make refresh; make refresh REFRESH_ARGS=--dry-run
refresh: install browser
	KAD_CHROMIUM=$(CHROMIUM) $(BIN)/python -m kad.refresh $(REFRESH_ARGS)

# Negotiated rates from a payer's price-transparency files (needs the internet):
# make rates TOC=<address or path of a table of contents> [WORKERS=2] [SCHEDULER=tcp://host:8786] [CODES=G2082,J0013]
rates: install
	$(BIN)/python -m kad.rates --toc "$(TOC)" $(if $(WORKERS),--workers $(WORKERS)) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(CODES),--codes $(CODES))

bench: install
	$(BIN)/python -m bench.run

# The NPPES bulk loader against csv-only reading, 100k and 1M synthetic rows (BENCHMARKS-nppes-bulk.md).
bench-nppes: install
	$(BIN)/python -m bench.nppes_bulk

# Likely ketamine and Spravato providers from the monthly NPPES file (a path or its address):
# make nppes-bulk NPPES_ZIP=NPPES_Data_Dissemination_November_2026.zip
nppes-bulk: install
	@test -n "$(NPPES_ZIP)" || (echo "usage: make nppes-bulk NPPES_ZIP=<path or URL of the NPPES ZIP>" >&2; exit 2)
	$(BIN)/python -m kad.nppes_bulk "$(NPPES_ZIP)"

clean:
	rm -rf $(VENV) data/ketamine.db
