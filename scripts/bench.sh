#!/usr/bin/env bash
# Measures matrixgen as CI and operators run it, and prints the tables of
# docs/benchmarks.md (Markdown) on stdout:
#  - a cold process per build, for each example and for generated large
#    configs: the median wall and CPU time of RUNS builds into a fresh
#    directory, the peak resident memory, and the floor to compare with:
#    copying the same output tree with cp -r (median of RUNS too);
#  - the same against the number of Synapse workers (4, 16, 64, 256);
#  - the in-process time per stage, from the Go benchmarks;
#  - install.sh with logging stand-ins for host commands.
# Compare figures from one machine only; another process busy on the same
# cores shows up in every column.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-21}
BENCHTIME=${BENCHTIME:-1s}
work=.bench
rm -rf "$work"
mkdir -p "$work"
go build -o "$work/matrixgen" ./cmd/matrixgen

median() { sort -n | awk '{ v[NR] = $1 } END { printf "%.1f", v[int((NR + 1) / 2)] }'; }

# fastest: on a machine that other work shares, the fastest run is the
# one that waited least for a core.
fastest() { sort -n | awk 'NR == 1 { printf "%.1f", $1 }'; }

# timed FILE CMD...: appends CMD's wall and CPU (user + system) times in
# milliseconds to FILE.
timed() {
	local file=$1 TIMEFORMAT='%3R %3U %3S'
	shift
	{ time "$@" >/dev/null; } 2>>"$file.raw"
	tail -n 1 "$file.raw" | awk '{ printf "%.3f %.3f\n", $1 * 1000, ($2 + $3) * 1000 }' >>"$file"
}

# row NAME CONFIG: one line of a cold-process table. Builds and copies
# alternate, so that a busy moment of the machine weighs on both alike;
# each writes into a directory that does not exist, as in a fresh checkout.
row() {
	local name=$1 config=$2 out="$work/out-$1" copy="$work/copy-$1" t="$work/times-$1"
	rm -f "$t".*
	"$work/matrixgen" build -c "$config" -o "$out" >/dev/null # warm the page cache, not the process
	for _ in $(seq "$RUNS"); do
		rm -rf "$out" "$copy"
		timed "$t.build" "$work/matrixgen" build -c "$config" -o "$out"
		timed "$t.copy" cp -r "$out" "$copy"
	done
	files=$(find "$out" -type f | wc -l)
	rss_kb=$({ rm -rf "$out" && /usr/bin/time -f '%M' "$work/matrixgen" build -c "$config" -o "$out" >/dev/null; } 2>&1 | tail -n 1)
	t_build=$(cut -d' ' -f1 "$t.build" | median)
	f_build=$(cut -d' ' -f1 "$t.build" | fastest)
	cpu_build=$(cut -d' ' -f2 "$t.build" | median)
	t_copy=$(cut -d' ' -f1 "$t.copy" | median)
	f_copy=$(cut -d' ' -f1 "$t.copy" | fastest)
	ratio=$(awk -v b="$t_build" -v c="$t_copy" 'BEGIN { printf "%.1f", b / c }')
	printf '| %s | %s | %s (%s) | %s | %.1f | %s (%s) | %s× |\n' "$name" "$files" "$t_build" "$f_build" "$cpu_build" \
		"$(awk -v k="$rss_kb" 'BEGIN { print k / 1024 }')" "$t_copy" "$f_copy" "$ratio"
}

header() {
	printf '| %s | files | build, wall: median (fastest), ms | build, CPU, ms | peak RSS, MiB | cp -r of the output, wall: median (fastest), ms | build / cp, medians |\n' "$1"
	printf '|---|---|---|---|---|---|---|\n'
}

# benchtable: Go benchmark lines as a Markdown table, times in ms.
benchtable() {
	awk '/^Benchmark/ {
		name = $1; sub(/^Benchmark/, "", name); sub(/-[0-9]+$/, "", name)
		ms = ""; bytes = ""; allocs = ""
		for (i = 3; i < NF; i++) {
			if ($(i+1) == "ns/op") ms = sprintf("%.2f", $i / 1e6)
			if ($(i+1) == "B/op") bytes = sprintf("%.0f", $i / 1024)
			if ($(i+1) == "allocs/op") allocs = $i
		}
		printf "| %s | %s | %s | %s |\n", name, ms, bytes, allocs
	}'
}

echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(free -h | awk '/^Mem:/ { print $2 }') RAM;" \
	"$(go version | cut -d' ' -f3-); $(uname -sr); load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)."
echo "Command: make bench (RUNS=$RUNS BENCHTIME=$BENCHTIME); times are medians of $RUNS runs."
echo

echo '### Cold builds'
echo
header example
for f in examples/*.yaml; do
	row "$(basename "$f" .yaml)" "$f"
done
# The large config: 256 workers and 40 bridges behind Traefik. Behind
# nginx, bridges cannot go with the media and stream-writer workers (they
# need Traefik's internal entrypoint), so that one has workers only.
go run ./scripts/benchconfig -workers 256 -bridges 40 examples/full.yaml >"$work/large-traefik.yaml"
row "large: 256 workers, 40 bridges, traefik" "$work/large-traefik.yaml"
go run ./scripts/benchconfig -workers 256 -proxy nginx examples/full.yaml >"$work/large-nginx.yaml"
row "large: 256 workers, nginx" "$work/large-nginx.yaml"
echo
echo '### Cold builds against the number of Synapse workers (examples/full.yaml, Traefik)'
echo
header workers
for n in 4 16 64 256; do
	go run ./scripts/benchconfig -workers "$n" examples/full.yaml >"$work/workers-$n.yaml"
	row "$n" "$work/workers-$n.yaml"
done
echo
echo '### Cold builds against the number of bridges (examples/full.yaml, Traefik, no workers)'
echo
header bridges
for n in 5 10 20 40; do
	go run ./scripts/benchconfig -workers 0 -bridges "$n" examples/full.yaml >"$work/bridges-$n.yaml"
	row "$n" "$work/bridges-$n.yaml"
done
echo
echo "### In process, per stage (go test -bench 'Schema|LoadPhases' ./internal/validate; -bench 'Stage|Workers' ./internal/pipeline; -benchmem -benchtime $BENCHTIME)"
echo
echo '| benchmark | ms/op | KiB/op | allocs/op |'
echo '|---|---|---|---|'
go test -run '^$' -bench 'Schema|LoadPhases' -benchmem -benchtime "$BENCHTIME" ./internal/validate | benchtable
go test -run '^$' -bench 'Stage|Workers' -benchmem -benchtime "$BENCHTIME" ./internal/pipeline | benchtable
echo
echo '### install.sh with logging stand-ins for host commands (go test -bench Apply -benchtime 20x ./internal/pipeline)'
echo
go test -run '^$' -bench 'Apply' -benchtime 20x ./internal/pipeline | grep -E '^Benchmark'
rm -rf "$work"
