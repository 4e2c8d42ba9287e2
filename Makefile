# matrixgen — common tasks. `make test` is what CI runs.
GO ?= go

.PHONY: build test golden bench example fuzz vet docs e2e e2e-smoke e2e-lifecycle e2e-federation e2e-images

build:
	$(GO) build -o matrixgen ./cmd/matrixgen

# Builds the quickstart example into out/.
example:
	$(GO) run ./cmd/matrixgen build -c examples/quickstart.yaml -o out/

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt would change the files above"; exit 1; }

# internal/pipeline alone runs for about 10 minutes on a 2-core machine,
# Go's default limit per package.
# tools/dendrite is a module of its own (Dendrite's dependencies stay out of
# matrixgen's): it holds the generated dendrite.yaml files to Dendrite's
# own config structs and checks.
test: vet
	$(GO) test -count=1 -timeout 40m ./...
	cd tools/dendrite && $(GO) test -count=1 ./...
	$(MAKE) fuzz FUZZTIME=5s

# Rewrites golden trees and expected CLI/validation outputs; review the diff.
golden:
	$(GO) test ./internal/pipeline ./internal/validate ./cmd/matrixgen -update

# A short run of every fuzz target (scripts/fuzz.sh); longer runs:
# make fuzz FUZZTIME=5m (docs/fuzzing.md). Minimizing a new input may take up to
# FUZZMINIMIZETIME, and its runs are not counted: with Go's default of 60s,
# a short run of a target with large inputs (FuzzMDADTranslate) can spend
# all of its time minimizing one.
FUZZTIME ?= 10s
FUZZMINIMIZETIME ?= 5s
fuzz:
	GO=$(GO) FUZZTIME=$(FUZZTIME) FUZZMINIMIZETIME=$(FUZZMINIMIZETIME) ./scripts/fuzz.sh

# Measures build time, memory and the stages; prints the tables of
# docs/benchmarks.md.
bench:
	./scripts/bench.sh

# Regenerates docs/options.md from the schema.
docs:
	$(GO) run ./cmd/matrixgen explain --format markdown > docs/options.md

# Routing tests against a real Traefik; opt-in, never part of `make test`:
# the first build of Traefik takes about 15 minutes and 5 GB. Traefik is
# built from tools/traefik, a module of its own, so that its dependencies
# stay out of matrixgen's go.mod; it is rebuilt only when that module changes.
TRAEFIK_BIN ?= $(CURDIR)/.tools/traefik
.PHONY: e2e-traefik
e2e-traefik: $(TRAEFIK_BIN)
	MATRIXGEN_TRAEFIK=$(TRAEFIK_BIN) $(GO) test -tags e2e -run TestTraefik -count=1 -timeout 30m ./internal/proxytest

$(TRAEFIK_BIN): tools/traefik/go.mod tools/traefik/go.sum
	mkdir -p $(dir $(TRAEFIK_BIN))
	cd tools/traefik && nice -n 19 $(GO) build \
		-ldflags "-X github.com/traefik/traefik/v3/pkg/version.Version=$$($(GO) list -m -f '{{.Version}}' github.com/traefik/traefik/v3)" \
		-o $(TRAEFIK_BIN) github.com/traefik/traefik/v3/cmd/traefik

# LiveKit's server started with the LiveKit config the rtc examples
# generate, on loopback, until it answers its health check (docs/calls.md);
# opt-in, like e2e-traefik. LiveKit is built from tools/livekit, a module
# of its own, and kept outside the clone under a name keyed by that
# module's go.sum, so that a machine builds each release once.
LIVEKIT_BIN ?= /var/cache/matrixgen/livekit-$(shell sha256sum tools/livekit/go.sum | cut -c1-16)
.PHONY: e2e-rtc
e2e-rtc: $(LIVEKIT_BIN)
	MATRIXGEN_LIVEKIT=$(LIVEKIT_BIN) $(GO) test -tags e2e -run TestLiveKitStarts -count=1 -timeout 20m ./internal/pipeline

# No prerequisites: the name holds the go.sum it was built from.
$(LIVEKIT_BIN):
	mkdir -p $(dir $(LIVEKIT_BIN))
	cd tools/livekit && nice -n 19 $(GO) build -o $(LIVEKIT_BIN).tmp github.com/livekit/livekit-server/cmd/server
	mv $(LIVEKIT_BIN).tmp $(LIVEKIT_BIN)

# The cluster target's output applied to a real API server: etcd and
# kube-apiserver on loopback, the Gateway API's CRDs installed, and
# `kubectl apply --dry-run=server -k` on every example (docs/cluster.md);
# opt-in, like e2e-traefik. kube-apiserver is built from tools/kube-apiserver,
# a module of its own, and kept outside the clone under a name keyed by its
# go.sum; etcd and kubectl are unpacked from Debian sid.
KUBE_APISERVER_BIN ?= /var/cache/matrixgen/kube-apiserver-$(shell sha256sum tools/kube-apiserver/go.sum | cut -c1-16)
.PHONY: e2e-k8s
e2e-k8s: $(KUBE_APISERVER_BIN)
	MATRIXGEN_KUBE_APISERVER=$(KUBE_APISERVER_BIN) MATRIXGEN_ETCD=$$(./scripts/etcd.sh) \
		MATRIXGEN_KUBECTL=$$(./scripts/kubectl.sh) \
		$(GO) test -tags e2e -run TestKubernetesAPIServer -count=1 -timeout 30m -v ./internal/pipeline

# No prerequisites: the name holds the go.sum it was built from. The
# version is the release's, as kubectl reads it (a bare go build leaves a
# placeholder kubectl cannot parse).
$(KUBE_APISERVER_BIN):
	mkdir -p $(dir $(KUBE_APISERVER_BIN))
	cd tools/kube-apiserver && v=$$($(GO) list -m -f '{{.Version}}' k8s.io/kubernetes) && minor=$${v#v1.} && \
		nice -n 19 $(GO) build -ldflags "-X k8s.io/component-base/version.gitVersion=$$v \
			-X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$${minor%%.*} \
			-X k8s.io/component-base/version.gitTreeState=clean" \
		-o $(KUBE_APISERVER_BIN).tmp k8s.io/kubernetes/cmd/kube-apiserver
	mv $(KUBE_APISERVER_BIN).tmp $(KUBE_APISERVER_BIN)

# Dendrite 0.13.8 started for real with the dendrite example's
# dendrite.yaml, as install.sh leaves it, against a real PostgreSQL on
# loopback, and an account made and logged in (docs/homeservers.md);
# opt-in, like e2e-rtc. The server and its create-account client are
# built from tools/dendrite, without cgo so that the binaries run on any
# Linux, into a directory keyed by that module's go.sum.
DENDRITE_DIR ?= /var/cache/matrixgen/dendrite-$(shell sha256sum tools/dendrite/go.sum | cut -c1-16)
DENDRITE_BIN = $(DENDRITE_DIR)/dendrite
.PHONY: e2e-dendrite dendrite-path
e2e-dendrite: $(DENDRITE_BIN)
	MATRIXGEN_DENDRITE=$(DENDRITE_BIN) $(GO) test -tags e2e -run TestDendriteStarts -count=1 -timeout 20m -v ./internal/pipeline

# Prints the server binary's path, building it first when missing
# (create-account is beside it): `make -s dendrite-path`.
dendrite-path: $(DENDRITE_BIN)
	@echo $(DENDRITE_BIN)

$(DENDRITE_BIN):
	rm -rf $(DENDRITE_DIR).tmp
	mkdir -p $(DENDRITE_DIR).tmp
	cd tools/dendrite && CGO_ENABLED=0 nice -n 19 $(GO) build -trimpath -o $(DENDRITE_DIR).tmp/ \
		github.com/matrix-org/dendrite/cmd/dendrite github.com/matrix-org/dendrite/cmd/create-account
	rm -rf $(DENDRITE_DIR)
	mv $(DENDRITE_DIR).tmp $(DENDRITE_DIR)

# Boot tests (internal/boot, docs/testing.md): each example with each proxy
# type installed by its install.sh on a fresh systemd host with Docker, real
# Synapse, PostgreSQL and proxy, and a matrix-nio client through it. Needs
# docker.io and mmdebstrap; images are built from Debian packages once and
# rebuilt when their recipe changes. E2E_RUN picks cases, such as
# E2E_RUN='^TestBoot$$/workers/nginx$$' (anchored: TestBootStarts shares the prefix).
E2E_RUN ?= ^(TestBoot|TestE2E)$$
# The dendrite example boots too, with the binaries of e2e-dendrite.
e2e: e2e-images $(DENDRITE_BIN)
	MATRIXGEN_TRAEFIK=$(TRAEFIK_BIN) MATRIXGEN_DENDRITE_DIR=$(DENDRITE_DIR) $(GO) test -tags e2e -run '$(E2E_RUN)' -count=1 -timeout 170m -v ./internal/boot

# The boots CI runs: the quickstart behind Traefik and behind nginx, and the
# moment operators lose data in most: a PostgreSQL major upgrade, with its
# dump killed and its disk full on the way.
e2e-smoke: e2e-images
	MATRIXGEN_TRAEFIK=$(TRAEFIK_BIN) $(GO) test -tags e2e -run '^TestBoot$$/quickstart/(traefik|nginx)$$' -count=1 -timeout 60m -v ./internal/boot
	MATRIXGEN_TRAEFIK=$(TRAEFIK_BIN) $(GO) test -tags e2e -run '^TestE2E$$/^PostgresUpgrade$$' -count=1 -timeout 30m -v ./internal/boot

# A server's life on booted hosts: upgrade and rollback, backup and restore,
# a PostgreSQL major upgrade, federation between two bundles.
e2e-lifecycle: e2e-images
	MATRIXGEN_TRAEFIK=$(TRAEFIK_BIN) $(GO) test -tags e2e -run 'TestE2E' -count=1 -timeout 80m -v ./internal/boot

# Two bundles, alpha.test and beta.test, on hosts of their own that federate
# (part of e2e-lifecycle).
e2e-federation: e2e-images
	MATRIXGEN_TRAEFIK=$(TRAEFIK_BIN) $(GO) test -tags e2e -run 'TestE2E/Federation' -count=1 -timeout 60m -v ./internal/boot

e2e-images: $(TRAEFIK_BIN)
	./scripts/e2e/start-docker.sh
