# `make test` creates .venv (CPU PyTorch 2.13.0 + the package with every extra) and runs the suite.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: test install browser clean

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

# The real-browser test of `gfm serve` drives Debian's chromium with chromium-driver. Installed
# here when missing and apt-get is usable as root; otherwise (or if the install fails) the
# test is skipped with a message, and `make test` goes on.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "make: installing chromium and chromium-driver for the browser test (apt-get)"; \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver) >/dev/null 2>&1 \
			|| echo "make: could not install chromium; the browser test will be skipped"; \
	else \
		echo "make: no chromium/chromedriver (apt-get install chromium chromium-driver as root); the browser test will be skipped"; \
	fi

test: $(STAMP) browser
	$(PY) -m pytest -q

clean:
	rm -rf $(VENV) build src/*.egg-info
