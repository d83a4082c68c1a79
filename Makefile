# Augur — see README.md.
#   make deps    install the system packages the build needs (liburing-dev, libnuma-dev), only when missing
#   make run     the main job: release build, then augur-load's default scenario (YCSB-A with a moving
#                hotspot on a diurnal profile, predictive partitioning; ~80 s) → final table + report.html
#   make demo    write, read back, SIGKILL a child writer, recover and report
#   make bench-peers   Augur against LMDB and RocksDB (installs liblmdb-dev, librocksdb-dev)
#   make test    deps, then the whole test suite
#   make bench   deps, then the engine benchmark (release build)
SWIFT ?= swift
SWIFT_FLAGS ?=
DEPS := liburing-dev libnuma-dev

.PHONY: deps build release run demo test bench bench-peers clean

# The default scenario of `make run`.
LOAD_SCENARIO ?= -w a --distribution moving-hotspot --hot-speed 0.02 --profile diurnal \
	--rate 5000 --peak-rate 40000 --period 30 --duration 70 --warmup 5 --records 200000 \
	--policy predictive --capacity 5000

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

demo: release
	$$($(SWIFT) build -c release --show-bin-path)/augur demo

test: deps
	$(SWIFT) test $(SWIFT_FLAGS)

bench: release
	$$($(SWIFT) build -c release --show-bin-path)/augur-bench

bench-peers: deps
	bash Benchmarks/bench-peers.sh

clean:
	rm -rf .build
