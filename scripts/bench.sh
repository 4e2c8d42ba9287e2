#!/usr/bin/env bash
# Measures matrixgen as CI and operators run it: a cold process per build.
# For each example: the median wall time of RUNS builds, the peak resident
# memory, and the floor to compare with: copying the same output tree.
# Then the in-process time per stage, from the Go benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
work=.bench
echo
echo 'install.sh with logging stand-ins for host commands (go test -bench Apply ./internal/pipeline):'
go test -run '^$' -bench 'Apply' -benchtime 20x ./internal/pipeline | grep -E '^Benchmark'
rm -rf "$work"
mkdir -p "$work"
go build -o "$work/matrixgen" ./cmd/matrixgen

now_ns() { date +%s%N; }

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# time_ms runs a command RUNS times and prints the median in milliseconds.
time_ms() {
	for _ in $(seq "$RUNS"); do
		"$@" >/dev/null 2>&1 || true # warm the page cache, not the process
		start=$(now_ns)
		"$@" >/dev/null
		end=$(now_ns)
		echo $(((end - start) / 1000))
	done | median | awk '{ printf "%.1f", $1 / 1000 }'
}

build() { rm -rf "$work/out-$1"; "$work/matrixgen" build -c "examples/$1.yaml" -o "$work/out-$1"; }
copy() { rm -rf "$work/copy-$1"; cp -r "$work/out-$1" "$work/copy-$1"; }

printf '| example | files | build (median of %s, ms) | peak RSS (MiB) | cp -r of the output (ms) | build / cp |\n' "$RUNS"
printf '|---|---|---|---|---|---|\n'
for f in examples/*.yaml; do
	ex=$(basename "$f" .yaml)
	build "$ex"
	files=$(find "$work/out-$ex" -type f | wc -l)
	t_build=$(time_ms build "$ex")
	rss_kb=$( { /usr/bin/time -f '%M' "$work/matrixgen" build -c "$f" -o "$work/out-$ex" >/dev/null; } 2>&1 | tail -n 1)
	t_copy=$(time_ms copy "$ex")
	ratio=$(awk -v b="$t_build" -v c="$t_copy" 'BEGIN { printf "%.1f", b / c }')
	printf '| %s | %s | %s | %.1f | %s | %s× |\n' "$ex" "$files" "$t_build" "$(echo "$rss_kb / 1024" | bc -l)" "$t_copy" "$ratio"
done
echo
echo 'In-process, per stage (go test -bench Stage -benchmem ./internal/pipeline):'
go test -run '^$' -bench 'Stage' -benchmem ./internal/pipeline | grep -E '^Benchmark'
echo
echo 'install.sh with logging stand-ins for host commands (go test -bench Apply ./internal/pipeline):'
go test -run '^$' -bench 'Apply' -benchtime 20x ./internal/pipeline | grep -E '^Benchmark'
rm -rf "$work"
