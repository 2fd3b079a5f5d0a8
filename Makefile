# Two commands on a fresh machine with Python 3.12+: `make run` and `make test`.
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000

# First interpreter that actually runs and is 3.12+: $PYTHON, python3.13, python3.12,
# python3, then every pyenv version (newest first). Shims that fail are skipped.
FIND_PYTHON = for c in "$$PYTHON" python3.13 python3.12 python3 \
	  $$(ls -d $$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)/versions/3.*/bin/python3 2>/dev/null | sort -rV); do \
	  [ -n "$$c" ] || continue; \
	  if "$$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; then echo "$$c"; exit 0; fi; \
	done; exit 1

# The scale-out configuration (PostgreSQL + Redis) that `make test` also runs on when both answer.
SCALE_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sender
SCALE_REDIS_URL ?= redis://127.0.0.1:6379/0
SERVERS ?= 2
WORKERS ?= 4
# Workers per send method's queue, e.g. QUEUES="email=4 sms=1 telegram=1 storage=1" (empty: WORKERS take every queue).
QUEUES ?=
# Exit 0 when both servers of the scale-out configuration accept connections.
SCALE_UP = $(PY) -c 'import socket, sys, urllib.parse as u; \
	urls = [u.urlsplit(x) for x in sys.argv[1:]]; \
	[socket.create_connection((x.hostname, x.port), timeout=2).close() for x in urls]' \
	"$(SCALE_DATABASE_URL)" "$(SCALE_REDIS_URL)" 2>/dev/null

.PHONY: run run-scale test test-scale setup browsers screenshots sink bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	@base=$$($(FIND_PYTHON)) || { echo "Sender needs Python 3.12 or newer; none found. Install one or set PYTHON=/path/to/python3.12." >&2; exit 1; }; \
	echo "Using $$base ($$($$base --version))"; \
	[ -x $(PY) ] && $(PY) -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null || { rm -rf $(VENV); "$$base" -m venv $(VENV); }
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

run: setup
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo --if-empty
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py run_sender --port $(PORT)

test: setup browsers
	$(VENV)/bin/lint-imports
	$(PY) -m pytest
	@$(MAKE) --no-print-directory test-scale

# The whole suite again on PostgreSQL (data and task queue) and Redis (channel layer).
test-scale: setup
	@if $(SCALE_UP); then \
	  echo "Running the suite again on PostgreSQL ($(SCALE_DATABASE_URL)) and Redis ($(SCALE_REDIS_URL))"; \
	  DATABASE_URL="$(SCALE_DATABASE_URL)" REDIS_URL="$(SCALE_REDIS_URL)" $(PY) -m pytest; \
	else \
	  echo "SKIPPED the PostgreSQL + Redis run: nothing answers at $(SCALE_DATABASE_URL) and $(SCALE_REDIS_URL)"; \
	  echo "(start both, or point SCALE_DATABASE_URL / SCALE_REDIS_URL at yours)."; \
	fi

# Scale-out on one machine: SERVERS daphne processes, WORKERS db_workers (or QUEUES), the periodic round,
# and the same loopback sandboxes as `make run` for every method not pointed at a real gateway.
run-scale: setup
	@$(SCALE_UP) || { echo "run-scale needs PostgreSQL and Redis at $(SCALE_DATABASE_URL) and $(SCALE_REDIS_URL)." >&2; exit 1; }
	DATABASE_URL="$(SCALE_DATABASE_URL)" REDIS_URL="$(SCALE_REDIS_URL)" $(PY) manage.py run_scale --create-database \
	  --servers $(SERVERS) --workers $(WORKERS) --port $(PORT) $(foreach q,$(QUEUES),--queue $(q))

# The README's screenshots, retaken by the browser tests.
screenshots: setup browsers
	SENDER_SCREENSHOTS=1 $(PY) -m pytest -m browser -q

# Browser tests drive Debian's chromium through Playwright (never `playwright install`).
# Installed here when missing and we may (root with apt); otherwise those tests skip and say why.
browsers:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not installed and cannot install it here: browser tests will be skipped."; fi; \
	fi

# Benchmarks send into Postfix's smtp-sink (a C sink fast enough to measure us, not itself).
sink:
	@if ! command -v smtp-sink >/dev/null 2>&1 && [ ! -x /usr/sbin/smtp-sink ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's postfix for its smtp-sink..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postfix >/dev/null; \
	  else echo "postfix's smtp-sink not installed: the benchmark falls back to aiosmtpd and measures the sink."; fi; \
	fi

bench: setup sink
	$(PY) manage.py sender_bench --n 100000 --method email --json
	$(PY) manage.py sender_bench --n 100000 --method storage --json

clean:
	rm -rf $(VENV) var .pytest_cache
