# Augur — see README.md.
#   make deps    install the system packages the build needs (liburing-dev, libnuma-dev), only when missing
#   make run     the main job: release build, then augur-load's default scenario (YCSB-A, 1 KB values,
#                a hot range drifting over the keys, diurnal load; predictive partitioning; ~3 min)
#                → final table + report.html
#   make compare the same scenario under static, reactive and predictive side by side (~10 min)
#   make compare-replay   the same workload on a real load curve (NYC taxi passengers, data/)
#   make demo    write, read back, SIGKILL a child writer, recover and report
#   make bench-peers   Augur against LMDB and RocksDB (installs liblmdb-dev, librocksdb-dev)
#   make bench-host-floor   the longest pause the host gives a thread that only reads the clock,
#                with the other CPU idle, busy with `yes`, and running a one-thread fillrandom (~5 min)
#   make test    deps, then the whole test suite, then make example
#   make example Examples/Inventory built against a tagged release of HEAD (no unsafe flags) and run
#   make bench   deps, then the engine benchmark (release build)
#   make bench-keyshare   the key-distribution forecast (issue 16) on augur-load's hotspot and zipfian
#                key distributions against persistence and the best static mixture (~1 min)
#   make bench-forecast   the load forecaster on eight traces (NYC taxi, weekly CO2 and monthly Nino
#                sea temperatures from statsmodels' datasets, four generated; TAYLOR=path
#                adds Taylor's) against refit Holt-Winters and MSTL, plus its update cost; SPLIT=validation
#                scores the first 80 % only, MEMBERS=1 adds each member's MASE. Python references in
#                .build/pyenv (~10 min)
SWIFT ?= swift
SWIFT_FLAGS ?=
DEPS := liburing-dev libnuma-dev

.PHONY: deps build release run compare compare-replay demo test example bench bench-peers bench-host-floor bench-keyshare bench-forecast clean

# The default scenario of `make run` (issue 14): at the diurnal peaks one partition is really
# saturated on a 2-core machine (its measured work exceeds its budget), in the troughs the load
# is a sixth of the peak. One period is 120 s: a trough, a peak, a trough, the next rise.
SCENARIO ?= -w a --distribution moving-hotspot --hot-speed 0.01 --value-size 1000 --profile diurnal \
	--rate 10000 --peak-rate 60000 --period 120 --duration 180 --warmup 5 --records 200000
# The same workload whose rate replays a real load curve: NYC taxi passengers (data/, MIT),
# 2.5 s per half-hour row (a day in 120 s), from Monday 2014-07-07.
REPLAY_SCENARIO ?= -w a --distribution moving-hotspot --hot-speed 0.01 --value-size 1000 --profile replay \
	--csv data/nyc_taxi_halfhourly.csv --column passengers --rate 10000 --peak-rate 60000 --row-seconds 2.5 \
	--csv-start-row 288 --duration 180 --warmup 5 --records 200000
LOAD_SCENARIO ?= $(SCENARIO) --policy predictive

deps:
	@missing=""; for p in $(DEPS); do dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=""; [ "$$(id -u)" -ne 0 ] && SUDO=sudo; \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

build: deps
	$(SWIFT) build $(SWIFT_FLAGS)

release: deps
	$(SWIFT) build -c release $(SWIFT_FLAGS)

run: release
	$$($(SWIFT) build -c release --show-bin-path)/augur-load $(LOAD_SCENARIO) --report report.html
	@echo "report.html: throughput, p99, partitions, forecast against actual. The same scenario under"
	@echo "static, reactive and predictive side by side: make compare (about 10 minutes)."

compare: release
	$$($(SWIFT) build -c release --show-bin-path)/augur-load policies $(SCENARIO) --report policies.html --json policies.json

compare-replay: release
	$$($(SWIFT) build -c release --show-bin-path)/augur-load policies $(REPLAY_SCENARIO) --report policies-replay.html --json policies-replay.json

demo: release
	$$($(SWIFT) build -c release --show-bin-path)/augur demo

test: deps
	$(SWIFT) test $(SWIFT_FLAGS)
	$(MAKE) example

# An application that depends on Augur by version, as any package would (issue 17): the
# committed HEAD is cloned bare into .build-example and tagged 0.0.1-g<commit> (a version per
# commit, so no pin or cached checkout of an earlier HEAD is reused), and Examples/Inventory
# resolves it from there — SwiftPM refuses a versioned dependency with unsafe build flags, so
# this also proves Package.swift has none. Then the example runs (open, index, batch, split,
# reopen, a refused key).
EXAMPLE_DIR := $(CURDIR)/.build-example
example: deps
	rm -rf $(EXAMPLE_DIR)/augur.git Examples/Inventory/Package.resolved && mkdir -p $(EXAMPLE_DIR)
	git clone -q --bare . $(EXAMPLE_DIR)/augur.git
	version=0.0.1-g$$(git rev-parse --short=12 HEAD); git -C $(EXAMPLE_DIR)/augur.git tag -f $$version HEAD >/dev/null; \
	cd Examples/Inventory && AUGUR_PACKAGE_URL=file://$(EXAMPLE_DIR)/augur.git AUGUR_PACKAGE_VERSION=$$version \
	    $(SWIFT) build $(SWIFT_FLAGS) --disable-dependency-cache --scratch-path $(EXAMPLE_DIR)/build
	$(EXAMPLE_DIR)/build/debug/Inventory

bench: release
	$$($(SWIFT) build -c release --show-bin-path)/augur-bench

bench-keyshare:
	$(SWIFT) build -c release --product augur-keyshare-bench $(SWIFT_FLAGS)
	$$($(SWIFT) build -c release --show-bin-path)/augur-keyshare-bench $(KEYSHARE_FLAGS)

# The forecast benchmark's Python references (statsmodels, statsforecast), pinned, in a venv
# under .build (git-ignored): created when missing, with python3-venv installed if needed.
PYENV := .build/pyenv
SPLIT ?= test
$(PYENV)/bin/python:
	python3 -m venv $(PYENV) || { apt-get update && apt-get install -y python3-venv && python3 -m venv $(PYENV); }
	$(PYENV)/bin/pip install --quiet numpy==2.4.6 pandas==2.3.3 scipy==1.17.1 statsmodels==0.15.0 statsforecast==2.1.1

bench-forecast: release $(PYENV)/bin/python
	$(SWIFT) build -c release --product augur-forecast-bench $(SWIFT_FLAGS)
	$(PYENV)/bin/python Benchmarks/forecast_benchmark.py --augur $$($(SWIFT) build -c release --show-bin-path)/augur \
	    --split $(SPLIT) $(if $(TAYLOR),--taylor $(TAYLOR)) $(if $(MEMBERS),--members)
	$$($(SWIFT) build -c release --show-bin-path)/augur-forecast-bench 200000 5

bench-peers: deps
	bash Benchmarks/bench-peers.sh

bench-host-floor: deps
	bash Benchmarks/host-floor.sh

clean:
	rm -rf .build
