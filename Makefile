# `make test` creates .venv (PyTorch 2.13.0 + the package with every extra) and runs the suite.
#
# Which PyTorch build goes into .venv:
#   TORCH=auto (default)  the CUDA build where `nvidia-smi -L` lists a GPU, else the CPU build
#   TORCH=cpu             the CPU build (about 200 MB instead of several GB of CUDA libraries)
#   TORCH=cuda            PyPI's default build of torch (CUDA on Linux x86-64)
#   TORCH_INDEX=URL       take torch from that index instead, e.g. https://download.pytorch.org/whl/cu126
# The CPU build comes from PyTorch's CPU index (TORCH_CPU_INDEX), added to pip's own
# indexes for torch alone (its dependencies come from pip's usual index): pip prefers
# its 2.13.0+cpu wheel. A pip configured with a local CPU wheel (find-links) uses that.
# The build that was installed is printed at the end.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

TORCH_VERSION := 2.13.0
TORCH ?= auto
TORCH_CPU_INDEX ?= https://download.pytorch.org/whl/cpu
TORCH_INDEX ?=

ifeq ($(TORCH),auto)
TORCH_BUILD := $(shell nvidia-smi -L >/dev/null 2>&1 && echo cuda || echo cpu)
else
TORCH_BUILD := $(TORCH)
endif
ifneq ($(filter-out cpu cuda,$(TORCH_BUILD)),)
$(error TORCH must be auto, cpu or cuda, not '$(TORCH)')
endif

ifneq ($(TORCH_INDEX),)
TORCH_PIP_ARGS := --extra-index-url $(TORCH_INDEX)
else ifeq ($(TORCH_BUILD),cpu)
TORCH_PIP_ARGS := --extra-index-url $(TORCH_CPU_INDEX)
else
TORCH_PIP_ARGS :=
endif

.PHONY: test install browser clean dist

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q --no-deps torch==$(TORCH_VERSION) $(TORCH_PIP_ARGS)
	$(PY) -m pip install -q torch==$(TORCH_VERSION)
	@# the distribution was called gfm before it became gfm-matting: one owner for the gfm package
	$(PY) -m pip uninstall -q -y gfm 2>/dev/null || true
	$(PY) -m pip install -q -e ".[all,dev]"
	$(PY) -c "import torch; print('PyTorch', torch.__version__, '(CUDA ' + torch.version.cuda + ' build)' if torch.version.cuda else '(CPU build)', 'asked for: $(TORCH_BUILD)')"
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

# The sdist and the wheel, into dist/ (what `pip install gfm-matting` would get; the
# wheel test, tests/integration/test_wheel.py, installs such a wheel read-only and runs it).
dist: $(STAMP)
	$(PY) -m build --no-isolation --outdir dist .
	@ls -l dist

clean:
	rm -rf $(VENV) build dist src/*.egg-info
