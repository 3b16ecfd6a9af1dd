# genai-build: the two commands a user needs are `make iso` and `make test` (see README.md).
GO      ?= go
EDITION ?= server
BIN     := bin/genai-build

.PHONY: iso image build test check lint-ci boot-test bench bench-memory lock clean

# Build an edition's ISO into images/ (default: the server edition).
iso:
	$(GO) run ./cmd/genai-build iso --edition $(EDITION)

# Build the embedded edition's raw disk image (its .img.zst and update bundle) into images/; it
# needs the update key: make image UPDATE_KEY=DIR (genai-build update-key init DIR), or
# $$GENAI_BUILD_UPDATE_KEY.
image:
	$(GO) run ./cmd/genai-build image --edition embedded $(if $(UPDATE_KEY),--update-key $(UPDATE_KEY))

# The genai-build binary itself.
build:
	$(GO) build -o $(BIN) ./cmd/genai-build

# Static checks, then every test: unit, fuzz seeds, integration against the Debian archive, and the
# QEMU boot matrix. -count=1: every test runs for real (go test would report a cached pass, boots
# included). gotestsum prints each package it ran, each boot test by name, and every skip with its
# reason.
# RACE_PKGS are the packages that start goroutines (the init's supervisor, sockets, reaper, control
# server and module loader; the build, the cache, QEMU's console reader, the squashfs writer's
# workers): they run under the race detector. Add a package here when it starts goroutines. The
# rest run without it: under -race, unpacking the developer package set alone takes minutes. The
# boot tests build images in-process, where it would only slow the build.
# internal/build: the tests of its concurrency (a whole build's parallel stages, two builds on one
# cache, a killed build) run under the race detector; its other tests build whole editions to check
# what they hold, which under -race took 7 to 11 minutes of the suite, so they run without it.
TESTSUM   = $(GO) tool gotestsum --format-hide-empty-pkg
RACE_PKGS = ./initramfs/... ./internal/cache ./internal/gobuild ./internal/ocicache ./internal/qemu ./internal/squashfs ./tools/debugger
BUILD_RACE_TESTS = ^(TestEndToEnd|TestTwoBuildsAtOnce|TestKilledBuildThenBuild)$$
OTHER_PKGS = $$($(GO) list ./... | grep -v -e '/test/boot$$' -e '/initramfs/' \
	-e '/internal/cache$$' -e '/internal/gobuild$$' -e '/internal/ocicache$$' -e '/internal/qemu$$' -e '/internal/squashfs$$' -e '/tools/debugger$$')
test: check lint-ci
	$(TESTSUM) --format pkgname -- -count=1 -race -timeout 30m $(RACE_PKGS)
	$(TESTSUM) --format pkgname -- -count=1 -race -timeout 30m -run '$(BUILD_RACE_TESTS)' ./internal/build
	$(TESTSUM) --format pkgname -- -count=1 -timeout 30m -skip '$(BUILD_RACE_TESTS)' $(OTHER_PKGS)
	$(TESTSUM) --format testname -- -count=1 -timeout 45m ./test/boot

check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change: $$out"; exit 1; fi
	$(GO) vet ./...

# The GitHub Actions workflows (.github/workflows/, the CI part of the design): actionlint checks
# their syntax, expressions, job graph and action inputs, and runs shellcheck on every run: script.
# shellcheck is required, not optional: without it on PATH actionlint silently skips the scripts,
# so `make lint-ci` would pass on one machine and fail on another (.ci/run installs it).
# ./ci's TestWorkflows then checks that each run: step calls only what `make test` exercises.
lint-ci:
	@command -v shellcheck >/dev/null || { echo "lint-ci: shellcheck is needed (apt-get install shellcheck; .ci/run installs it)"; exit 1; }
	$(GO) tool actionlint -no-color -pyflakes=

# One edition's boot tests (test/boot), as the release workflow runs them per edition: its rows
# of TestBootMatrix (every output in every mode it promises) and its own end-to-end test. The
# go test -json events go to $(BOOT_JSON), which `genai-build release --tested` reads.
BOOT_RUN_server    = ^TestBootMatrix$$/^server-(iso|kernel-initrd)-
BOOT_RUN_developer = ^(TestBootMatrix|TestDeveloper)$$/^developer-
BOOT_RUN_enterprise = ^TestEnterprise
BOOT_RUN_embedded  = ^TestEmbedded
BOOT_RUN_desktop   = ^(TestBootMatrix|TestDesktopLogin)$$/^desktop-
BOOT_JSON ?= test-results/boot-$(EDITION).json
boot-test:
	@test -n '$(BOOT_RUN_$(EDITION))' || { echo "boot-test: no boot tests for EDITION=$(EDITION) (editions with some: $(patsubst BOOT_RUN_%,%,$(filter BOOT_RUN_%,$(.VARIABLES))))"; exit 2; }
	@mkdir -p $(dir $(BOOT_JSON))
	$(TESTSUM) --format testname --jsonfile $(BOOT_JSON) -- -count=1 -timeout 45m -run '$(BOOT_RUN_$(EDITION))' ./test/boot

# Build times, sizes and boot times; prints the table README.md shows.
bench:
	$(GO) run ./ci/bench -edition $(EDITION)
	$(GO) run ./ci/bench -edition developer -images-only
	$(GO) run ./ci/bench -edition enterprise -images-only
	$(GO) run ./ci/bench -edition embedded
	$(GO) run ./ci/bench -edition desktop -images-only -skip-cold

# The least memory the edition's image boots with, measured by bisection, against the build's figure.
bench-memory: iso
	$(GO) run ./ci/bench -memory $$(ls images/genai-os-$(EDITION)-*-amd64.iso | head -1)

# Refresh recipes/debian.lock from the Debian archive (verified), then review and commit it.
lock:
	$(GO) run ./cmd/genai-build lock

clean:
	rm -rf bin images/*.iso images/*.img images/*.img.zst images/*.sha256 images/*.manifest.json
