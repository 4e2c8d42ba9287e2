#!/usr/bin/env bash
# Runs every fuzz target of the module for FUZZTIME each, one after the
# other, and fails on the first finding.
#
# Go 1.26's fuzzing coordinator can report "context deadline exceeded" as a
# failure when -fuzztime ends while a worker is still busy with an input
# (golang/go#75804, fixed in Go 1.27): no input failed, none is written to
# testdata/fuzz, and a rerun passes. Such a run is tried once more; a run
# that wrote a failing input, printed a panic or failed otherwise fails at
# once.
set -euo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-10s}
FUZZMINIMIZETIME=${FUZZMINIMIZETIME:-5s}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

# shutdown_race: the run failed only at the deadline, with nothing found.
shutdown_race() {
	grep -q 'context deadline exceeded' "$log" &&
		! grep -qE 'Failing input written|panic:|_test\.go:[0-9]+:' "$log"
}

for pkg in $("$GO" list ./...); do
	for target in $("$GO" test -list '^Fuzz' "$pkg" | grep '^Fuzz' || true); do
		for attempt in 1 2; do
			echo "fuzz $pkg $target ($FUZZTIME)"
			if "$GO" test -run '^$' -fuzz "^$target\$" -fuzztime "$FUZZTIME" \
				-fuzzminimizetime "$FUZZMINIMIZETIME" "$pkg" >"$log" 2>&1; then
				cat "$log"
				break
			fi
			cat "$log"
			if [ "$attempt" = 1 ] && shutdown_race; then
				echo "fuzz $target: stopped by the fuzzing engine's deadline with nothing found; once more"
				continue
			fi
			exit 1
		done
	done
done
