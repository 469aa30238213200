# `make run` and `make test` work on a fresh Debian machine as root: they install
# the system packages and the .venv they need, and are idempotent.
SHELL := /bin/bash
PY := .venv/bin/python
STAMP := .venv/.installed
SYSSTAMP := .venv/.system-packages

APT_PACKAGES := libportaudio2 jackd2 libjack-jackd2-0 libsndfile1 \
	libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 \
	libxcb-image0 libxcb-keysyms1 libxcb-randr0 libxcb-render-util0 libxcb-shape0 \
	libxcb-xinerama0 libxcb-xkb1 libfontconfig1 libdbus-1-3 xvfb xauth \
	pipewire pipewire-bin pipewire-jack
# what the tests make their material with (tests/material.py): speech, a piano
TEST_APT_PACKAGES := espeak-ng fluidsynth timgm6mb-soundfont
TESTSTAMP := .venv/.test-packages

.PHONY: run test lint system apt venv build bench clean

run: build
	$(PY) -m app

test: build $(TESTSTAMP) lint
	.venv/bin/pytest -q

lint: $(STAMP)
	.venv/bin/ruff check app engine ui tests scripts

# The audio engine is built once per source version into ~/.cache/uplift
# (engine/build.py, app/build.py); when it is already built this takes about a second.
build: $(STAMP)
	$(PY) -m app.build

bench: build
	$(PY) -m pip install -q -e '.[test,bench]'
	$(PY) scripts/bench.py

system: $(SYSSTAMP)

$(SYSSTAMP): Makefile
	@$(MAKE) --no-print-directory apt PACKAGES="$(APT_PACKAGES)"
	@mkdir -p .venv && test -x $(PY) || python3 -m venv .venv
	@touch $@

$(TESTSTAMP): Makefile $(SYSSTAMP)
	@$(MAKE) --no-print-directory apt PACKAGES="$(TEST_APT_PACKAGES)"
	@touch $@

# installs whichever of $(PACKAGES) are missing (and python3-venv)
apt:
	@missing=$$(for p in $(PACKAGES); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q "install ok installed" || echo $$p; done); \
	python3 -c "import ensurepip, venv" 2>/dev/null || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
		echo "installing system packages:" $$missing; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		export DEBIAN_FRONTEND=noninteractive; \
		echo "jackd2 jackd/tweak_rt_limits boolean false" | $$SUDO debconf-set-selections; \
		$$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(STAMP): pyproject.toml $(SYSSTAMP)
	@test -x $(PY) || python3 -m venv .venv
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	@touch $@

clean:
	rm -rf .venv
