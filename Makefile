# `make demo` and `make test` work as root on a bare Debian 12: both install what is missing first.
PY := .venv/bin/python

.PHONY: setup demo demo-apache test lint screenshots bench clean

setup:
	@sh scripts/setup.sh

demo: setup
	$(PY) -m bncert_tui demo --web-server nginx

demo-apache: setup
	$(PY) -m bncert_tui demo --web-server apache

test: setup
	$(PY) -m pytest -n 2 -q

lint: setup
	.venv/bin/ruff check bncert_tui tests bench
	.venv/bin/mypy

screenshots: setup
	$(PY) scripts/screenshots.py

bench: setup
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) bench/startup.py
	$(PY) bench/stream.py
	$(PY) bench/overhead.py
	$(PY) bench/fleet_load.py

clean:
	rm -rf .venv .pytest_cache .mypy_cache .ruff_cache
