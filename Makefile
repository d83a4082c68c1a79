# Augur — see README.md.
#   make deps    install the system packages the build needs (liburing-dev, libnuma-dev), only when missing
#   make run     the main job: release build, then the demo (write, read back, SIGKILL a writer, recover)
#   make test    deps, then the whole test suite
#   make bench   deps, then the engine benchmark (release build)
SWIFT ?= swift
SWIFT_FLAGS ?=
DEPS := liburing-dev libnuma-dev

.PHONY: deps build release run test bench clean

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
	$$($(SWIFT) build -c release --show-bin-path)/augur demo

test: deps
	$(SWIFT) test $(SWIFT_FLAGS)

bench: release
	$$($(SWIFT) build -c release --show-bin-path)/augur-bench

clean:
	rm -rf .build
