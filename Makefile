# carina: a Slurm SPANK plugin running each step in one rootless Podman
# container per node. `make demo` and `make test` are the entry points.
SHELL := /bin/bash
GO ?= go
BUILD := $(CURDIR)/build
HELPER_TAGS := containers_image_openpgp exclude_graphdriver_btrfs
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
GO_SOURCES := $(shell find spank cgo pkg cmd -name '*.go' -o -name '*.c' -o -name '*.h') go.mod go.sum

.PHONY: all build install deps bench cluster-up cluster-down demo test unit fuzz e2e soak lint clean

all: build

build: $(BUILD)/spank_carina.so $(BUILD)/carina $(BUILD)/carina-relay

$(BUILD)/spank_carina.so: $(GO_SOURCES) spank/carina.lds
	CGO_ENABLED=1 $(GO) build -buildmode=c-shared -trimpath \
		-ldflags '-extldflags "-Wl,--version-script=$(CURDIR)/spank/carina.lds"' -o $@ ./spank

$(BUILD)/carina: $(GO_SOURCES)
	CGO_ENABLED=1 $(GO) build -trimpath -tags '$(HELPER_TAGS)' -ldflags '-X main.version=$(VERSION)' -o $@ ./cmd/carina

# The relay client goes into every container, whatever its libc: static.
$(BUILD)/carina-relay: $(GO_SOURCES)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $@ ./cmd/carina-relay

# Debian packages needed to build (the cluster scripts install the rest).
deps:
	test/cluster/packages.sh

# Installed layout: the plugin and the helper in one root-owned directory
# that every user can read (the helper runs as the job user).
PREFIX ?= /usr/local
LIBDIR := $(PREFIX)/lib/carina
BINDIR := $(PREFIX)/bin
# The Slurm commands relayed from the containers (pkg/relay.DefaultCommands).
RELAY_COMMANDS := srun sbatch scancel squeue scontrol salloc sinfo sacct sstat sattach

install: build
	install -d -m 0755 $(DESTDIR)$(LIBDIR)
	install -m 0755 $(BUILD)/spank_carina.so $(DESTDIR)$(LIBDIR)/spank_carina.so
	install -m 0755 $(BUILD)/carina $(DESTDIR)$(LIBDIR)/carina
	install -d -m 0755 $(DESTDIR)$(LIBDIR)/bin
	install -m 0755 $(BUILD)/carina-relay $(DESTDIR)$(LIBDIR)/bin/carina-relay
	for n in $(RELAY_COMMANDS); do ln -sfn carina-relay $(DESTDIR)$(LIBDIR)/bin/$$n; done
	install -d -m 0755 $(DESTDIR)$(BINDIR)
	ln -sfn $(LIBDIR)/carina $(DESTDIR)$(BINDIR)/carina

# The cluster loads the installed copies, so it works from any checkout
# directory, even one the test user cannot enter.
# Eight slurmd on this one host: enough to see that an image is pulled
# once per cluster, not once per node.
NODES ?= 8

cluster-up: deps install
	CARINA_BUILD_DIR=$(LIBDIR) CARINA_TEST_NODES=$(NODES) test/cluster/up.sh

cluster-down:
	test/cluster/down.sh

demo: deps cluster-up
	test/demo.sh

lint:
	shellcheck -x test/cluster/*.sh test/*.sh test/bench/*.sh .ci/run
	@out=$$(gofmt -l spank cgo pkg cmd); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet -tags '$(HELPER_TAGS)' ./...

# Unit tests need no Slurm and no cluster (the runas tests run /bin/sh).
# The second run is the pure-Go tier: ./pkg builds and passes without cgo
# (the tags keep containers/image off gpgme and btrfs, which need it).
unit:
	$(GO) test -v -count=1 -tags '$(HELPER_TAGS)' ./cgo/... ./pkg/... ./cmd/...
	CGO_ENABLED=0 $(GO) test -v -count=1 -tags '$(HELPER_TAGS)' ./pkg/...

# Each fuzz target for FUZZTIME, one run per target: go test takes one
# -fuzz target per package and run. A failing input is written to the
# package's testdata/fuzz/FuzzX/, which plain go test runs from then on:
# keep it with the fix. FUZZTIME counts executions, not seconds: a time
# budget races the fuzz coordinator's deadline on a loaded machine and
# fails with a bare "context deadline exceeded" (go.dev/issue/75804,
# fixed in Go 1.27; seen in CI here with FuzzEnvLoad).
FUZZTIME ?= 20000x
FUZZ_TARGETS := option:FuzzParseMounts option:FuzzParseImage option:FuzzDecodeSpec \
	envfile:FuzzEnvLoad config:FuzzConfigFile relay:FuzzFrame

fuzz:
	@set -e; for t in $(FUZZ_TARGETS); do \
		echo "fuzz: $${t#*:} (./pkg/$${t%%:*}, $(FUZZTIME))"; \
		$(GO) test -tags '$(HELPER_TAGS)' -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME) ./pkg/$${t%%:*}; \
	done

e2e:
	bats --tap test/e2e

# Many jobs ending every way a job ends, then zero left behind (test/soak.sh);
# make test runs a short form (SOAK_JOBS=20) after the end-to-end tests.
SOAK_JOBS ?= 100
soak: cluster-up
	CARINA_SOAK_JOBS=$(SOAK_JOBS) test/soak.sh

# The whole suite: build, lint, unit tests, a short fuzz run (about 40 s),
# then the real cluster for the end-to-end tests and a short soak; the
# cluster is stopped again whatever the outcome.
test: deps build lint unit fuzz
	@rc=0; $(MAKE) --no-print-directory cluster-up && $(MAKE) --no-print-directory e2e && \
		CARINA_SOAK_JOBS=20 test/soak.sh || rc=$$?; \
	$(MAKE) --no-print-directory cluster-down || rc=$$((rc ? rc : 1)); exit $$rc

# Benchmarks print figures (docs/PERFORMANCE.md); they are not tests.
bench: cluster-up
	test/bench/images.sh
	test/bench/steps.sh
	test/bench/mpi.sh

clean:
	rm -rf $(BUILD)
