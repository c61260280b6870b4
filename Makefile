# The test command of the README: installs what the tests need, then runs every check.
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# Real programs the integration tests run (Debian packages; pip wheels come from pyproject);
# curl and jq run the README's "Try it"; git and ssh-keygen (openssh-client) the gitops tests;
# stress-ng the CPU chaos experiment; systemd gives systemd-analyze, which checks the units the
# Ansible roles install (systemd need not run as PID 1); postgresql the shared state DB tests.
SYSTEM_PACKAGES := prometheus prometheus-alertmanager pebble chromium curl jq git openssh-client stress-ng systemd postgresql
# Machine-readable reports of the checks (SARIF for code-scanning dashboards); git ignores build/.
REPORTS := build/reports

.PHONY: install install-dev install-system install-grist-peer lint test bench bench-grist chaos loadtest arm64

install:
	$(PIP) install -q -e .

install-dev:
	$(PIP) install -q -e '.[dev]'

install-system:
	@missing=$$(for p in $(SYSTEM_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:" $$missing; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	fi

# The live grist-core peer (test tooling beside the clone, ../shared/peers/grist-core), installed
# once per machine into a cache folder outside the clone; see tests/support/grist_peer.py.
install-grist-peer:
	$(PYTHON) -m tests.support.grist_peer install

lint:
	ruff check src tests bench
	ruff format --check src tests bench
	mypy
	lint-imports
	@mkdir -p $(REPORTS)
	bandit -q -c pyproject.toml -r src -f sarif -o $(REPORTS)/bandit.sarif --exit-zero
	$(PYTHON) .ci/bandit-high $(REPORTS)/bandit.sarif
	bash .ci/secrets-check

test: install-system install-dev install-grist-peer lint
	$(PYTHON) -m pytest -n auto --dist loadscope --cov=gristops --cov-report=term --cov-fail-under=80

# The gateway's figures against their goals (one table per goal set), how a live slot's
# workers share nginx's traffic, then live Grist against the gateway in every store mode
# (bench-grist: the hybrid store's tail latency).
bench: install-dev
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(PYTHON) bench/gateway.py
	$(PYTHON) bench/slot_spread.py
	$(MAKE) bench-grist

# Live Grist against the gateway in every store mode (minutes: 10,000-row document, 8 wrk runs).
bench-grist: install-dev install-grist-peer
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk >/dev/null)
	$(PYTHON) bench/grist.py

# The chaos experiments at full length (minutes) against a live Grist (and, for a slot killed
# in a deploy's watch window, the blue-green slots behind nginx), figures printed;
# `make test` runs the same experiments shortened.
chaos: install-system install-dev install-grist-peer
	GRISTOPS_CHAOS_FULL=1 $(PYTHON) -m pytest tests/integration/test_chaos.py -s -q \
		"tests/integration/test_deploy_bluegreen.py::test_chaos_new_slot_killed_in_watch_switches_back_and_no_request_fails"

# The shipped load-test plan (60 s of load: ramp to 20 users, hold, ramp down) against a local
# gateway on the sample document; figures printed, result and report in build/loadtest/.
loadtest: install-dev
	$(PYTHON) bench/loadtest.py

# gristops on Debian bookworm arm64 under qemu-user (root). Not in `test`: 15-30 min on a busy
# 2-core machine (pip under emulation); the bookworm root is cached in ~/.cache/gristops.
arm64:
	PYTHON=$(PYTHON) bash .ci/arm64
