# matrixgen — common tasks. `make test` is what CI runs.
GO ?= go

.PHONY: build test golden bench example fuzz vet docs

build:
	$(GO) build -o matrixgen ./cmd/matrixgen

# Builds the quickstart example into out/.
example:
	$(GO) run ./cmd/matrixgen build -c examples/quickstart.yaml -o out/

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l .)" || { gofmt -l .; echo "gofmt would change the files above"; exit 1; }

test: vet
	$(GO) test -count=1 ./...
	$(MAKE) fuzz FUZZTIME=5s

# Rewrites golden trees and expected CLI/validation outputs; review the diff.
golden:
	$(GO) test ./internal/pipeline ./internal/validate ./cmd/matrixgen -update

# A short run of every fuzz target; longer runs: make fuzz FUZZTIME=5m
FUZZTIME ?= 10s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
		for target in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
			echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
		done; \
	done

# Measures build time and memory; writes the table to docs/benchmarks.md.
bench:
	./scripts/bench.sh

# Regenerates docs/options.md from the schema.
docs:
	$(GO) run ./cmd/matrixgen explain --format markdown > docs/options.md
