# extreme3d: one command to set up and run the main job, one to set up and run the tests.
#   make demo   -> set up (if needed), fetch + convert the open Surrey model, reconstruct the bundled photo
#   make test   -> set up (if needed), rebuild the C++ core, run the whole test suite
PY      ?= python3
VENV    := .venv
VPY     := $(VENV)/bin/python
STAMP   := $(VENV)/.extreme3d-setup
# MediaPipe's hand and person models (optional occlusion cues): installed without its declared
# deps (pyproject's `mediapipe` extra lists what it needs; see the comment there).
MEDIAPIPE := 0.10.14
APT_PKGS := g++ cmake libeigen3-dev libboost-dev libosmesa6-dev
SHARED  ?= $(abspath ../shared)
export EXTREME3D_SHARED ?= $(SHARED)
export EXTREME3D_SFM_DIR ?= $(if $(wildcard $(SHARED)/models/sfm),$(SHARED)/models/sfm,)

.PHONY: setup system-deps build test demo lint clean sanitize

# System packages (Debian/Ubuntu): only installed when missing; needs root.
system-deps:
	@missing=$$(for p in $(APT_PKGS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing system packages: $$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

# Virtual environment: torch 2.13.0 (CPU) first, then the package (editable, built by scikit-build-core).
$(STAMP): pyproject.toml
	$(MAKE) system-deps
	[ -x $(VPY) ] || $(PY) -m venv $(VENV)
	$(VPY) -m pip install -q --upgrade pip
	$(VPY) -m pip install -q torch==2.13.0
	$(VPY) -m pip install -q "scikit-build-core>=0.10" "pybind11>=2.12" "setuptools<81"
	$(VPY) -m pip install -q --no-build-isolation -e ".[test,ray,mediapipe]"
	$(VPY) -m pip install -q --no-deps "mediapipe==$(MEDIAPIPE)" || echo "mediapipe==$(MEDIAPIPE) \
	  not installed: hands and background in the face mask will not be found (docs/occlusion.md)"
	touch $(STAMP)

setup: $(STAMP)

# Incremental rebuild of extreme3d._core (serialised with a lock: several shells may build at once).
build: $(STAMP)
	@mkdir -p build
	flock build/.lock $(VPY) -m pip install -q --no-build-isolation --no-deps -e .

test: build
	$(VPY) -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc = 5 ]; then echo "no tests collected"; rc=0; fi; exit $$rc

demo: build
	$(VPY) -m extreme3d demo

# ASan + UBSan build of _core (build/sanitize) and the test suite under it (SANITIZE_TESTS=...
# to run a subset); result in build/sanitize/status.
sanitize: build
	VPY=$(VPY) sh bench/sanitize/run.sh

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf build $(VENV)
