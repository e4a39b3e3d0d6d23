# Kring: `make run` starts Kring on SQLite with a demo circle; `make test` runs every test.
# Both install what they need first (Python packages, socket.io-client from npm,
# compiled translations; for tests also Debian's chromium and Java, for the HTML checker,
# and nginx, whose -t checks deploy/nginx-kring.conf).
# npm runs no install scripts: vnu-jar's would download a Java runtime from the net.

VENV    := .venv
PY      := $(VENV)/bin/python
FLASK   := $(VENV)/bin/flask --app app
PG_URL  ?= postgresql+psycopg://postgres@127.0.0.1:5432/test
# The benchmarks' own database (created when missing; its public schema is dropped each run).
BENCH_PG_URL ?= postgresql+psycopg://postgres@127.0.0.1:5432/kring_bench
PYTHON  ?= python3

.PHONY: run test setup test-sqlite test-postgres browser translations translations-update lint bench bench-notify bench-pages bench-knee bench-smoke

run: setup
	$(FLASK) db upgrade
	@echo
	@echo "== Demo circle: open one link per browser (or private window) =="
	@$(FLASK) kring demo
	@echo
	$(PY) app.py

# The two passes share nothing (own database, own temporary files, free ports), so they
# run side by side; each prints its output in one piece when it ends, and either one
# failing fails ``make test``.
test: setup browser
	$(MAKE) --no-print-directory -j2 --output-sync=target test-sqlite test-postgres

test-sqlite:
	@echo "== Test suite on SQLite =="
	$(PY) -m pytest

test-postgres:
	@echo "== Test suite on PostgreSQL ($(PG_URL)) =="
	TEST_DATABASE_URL=$(PG_URL) $(PY) -m pytest

setup: $(VENV)/.installed node_modules/.installed translations

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error --ignore-scripts
	touch $@

translations: $(VENV)/.installed
	$(VENV)/bin/pybabel compile --statistics -d portal/translations

translations-update: $(VENV)/.installed
	$(VENV)/bin/pybabel extract -F babel.cfg -k _l -o portal/translations/messages.pot --sort-output --no-location .
	$(VENV)/bin/pybabel update -i portal/translations/messages.pot -d portal/translations --no-fuzzy-matching

browser:
	@command -v chromium >/dev/null || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium fonts-noto-core; }
	@command -v java >/dev/null || { \
	  echo "Installing Debian's Java for the HTML checker (vnu)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q default-jre-headless; }
	@command -v nginx >/dev/null || test -x /usr/sbin/nginx || { \
	  echo "Installing Debian's nginx to check deploy/nginx-kring.conf (nginx -t)"; \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q nginx; }

lint: setup
	$(VENV)/bin/ruff check portal tests bench app.py

bench: setup
	$(PY) bench/fanout.py

# One notification run (digests, direct calls, reminders) at 500 and at 5,000 people.
bench-notify: setup
	$(PY) bench/notify.py

# Page speed on a lived-in circle (12 people, 20,000 messages...) against the bare /login page.
bench-pages: setup
	$(PY) bench/pages.py

# Each benchmark at tiny sizes (about two minutes in all): they still run and print their
# figures. No target is enforced here; .ci/run calls this after ``make test``.
bench-smoke: setup
	$(PY) bench/fanout.py --smoke
	$(PY) bench/fanout.py --smoke --postgres $(BENCH_PG_URL)
	$(PY) bench/notify.py --smoke
	$(PY) bench/pages.py --smoke
	$(PY) bench/knee.py --smoke --postgres $(BENCH_PG_URL)

# The capacity knee and memory per socket (bench/README.md); KNEE_ARGS=--smoke for a check.
bench-knee: setup
	$(PY) bench/knee.py $(KNEE_ARGS)
