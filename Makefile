# hookwatch: `make help` lists the targets.

# One version for the binary and the packages, from git (packaging/version.sh).
VERSION ?= $(shell packaging/version.sh 2>/dev/null || echo 0.0.0+dev)
BIN     := bin/hookwatch
LDFLAGS := -s -w -X main.version=$(VERSION)
PKGVERSION ?= $(VERSION)
# Debian packages the tests and `make generate` need (.ci/run installs them).
DEPS    := clang llvm gcc libc6-dev make openssh-server openssh-client rpm systemd rsyslog rsyslog-gnutls auditd fakeroot faketime patchelf sudo gdb strace eatmydata libjemalloc2 opensc valgrind gpg docker.io debootstrap systemd-container lintian rpmlint

FUZZTIME ?= 20s

.DEFAULT_GOAL := help

help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z0-9-]+:.*## / {printf "  %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

build: ## build the static agent binary into bin/hookwatch
	CGO_ENABLED=0 go build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN) ./cmd/hookwatch

run: build ## run the sensor in the foreground as root, printing ECS events
	$(BIN) run -log-format text $(ARGS)

test: ## run every test (as root: BPF and end-to-end tests load real programs)
	go test -race -cover -count=1 -timeout 40m ./...

race-e2e: ## run the end-to-end tests against a race-detector build of the daemon
	HOOKWATCH_E2E_RACE=1 go test -count=1 -timeout 30m ./cmd/hookwatch

generate: ## rebuild the BPF objects (bpf2go) from bpf/*.c and bench/ref; commit the result
	go generate ./sensor/probe ./bench/ref

package: ## build .deb and .rpm packages for amd64 and arm64 into dist/
	mkdir -p dist
	gzip -9n < packaging/hookwatch.8 > dist/hookwatch.8.gz
	set -e; for arch in amd64 arm64; do \
		CGO_ENABLED=0 GOARCH=$$arch go build -trimpath -ldflags "$(LDFLAGS)" -o dist/bin/hookwatch ./cmd/hookwatch; \
		for p in deb rpm; do \
			ARCH=$$arch VERSION=$(PKGVERSION) go tool nfpm package --config packaging/nfpm.yaml --packager $$p --target dist/; \
		done; \
	done

bench: ## benchmark against no sensor and auditd (root; writes bench-results.json)
	go run ./bench -json bench-results.json $(ARGS)

deps: ## install the Debian packages and the npm tools (tools/kql) the tests need
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(DEPS)
	npm ci --prefix tools/kql --no-audit --no-fund

# The fuzz targets, as package:Target under sensor/.
FUZZ = procfs:FuzzParseMaps procfs:FuzzParseStat ldso:FuzzParseCache judge:FuzzReadELF \
	pkgdb:FuzzParseMD5Sums pkgdb:FuzzParseDiversions loaderconf:FuzzParse config:FuzzLoad \
	probe:FuzzDecode ruleset:FuzzParse allowlist:FuzzParse format:FuzzMarshalDocString format:FuzzECSString

fuzz: ## run each fuzz target for a short while (FUZZTIME to change it)
	set -e; for t in $(FUZZ); do \
		go test ./sensor/$${t%%:*} -run '^$$' -fuzz "^$${t#*:}\$$" -fuzztime $(FUZZTIME); \
	done

clean: ## remove build outputs
	rm -rf bin dist

.PHONY: help build run test race-e2e generate package bench deps fuzz clean
