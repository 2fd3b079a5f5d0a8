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

.PHONY: run test setup browsers bench clean

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
	$(PY) -m pytest

# Browser tests drive Debian's chromium through Playwright (never `playwright install`).
# Installed here when missing and we may (root with apt); otherwise those tests skip and say why.
browsers:
	@if ! command -v chromium >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "chromium not installed and cannot install it here: browser tests will be skipped."; fi; \
	fi

bench: setup
	$(PY) manage.py sender_bench --n 100000 --method email --json
	$(PY) manage.py sender_bench --n 100000 --method storage --json

clean:
	rm -rf $(VENV) var .pytest_cache
