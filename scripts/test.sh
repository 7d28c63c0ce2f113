#!/usr/bin/env bash
# The project's test command (the README's): installs the client tools the
# compatibility tests drive, then vets and runs every test, and gives each
# fuzz target a short bounded run.
#
#   ./scripts/test.sh            everything (what CI runs)
#   FUZZTIME=500000x ./scripts/test.sh   longer fuzzing
#
# Fuzz budgets are counts of executions, not durations: with a duration, Go's
# fuzz coordinator (before Go 1.27) can fail a target with a bare "context
# deadline exceeded" when the deadline races a busy worker (golang/go#75804).
# A count has no deadline to race.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/install-test-deps.sh

echo "== go vet"
go vet ./...

echo "== go test"
go test -count=1 -timeout 30m ./...

echo "== fuzz (bounded)"
fuzztime=${FUZZTIME:-50000x}
# Each line: package and fuzz target.
grep -rl --include='*_test.go' '^func Fuzz' . | while read -r file; do
	pkg="./$(dirname "${file#./}")"
	for target in $(grep -o '^func Fuzz[A-Za-z0-9_]*' "$file" | sed 's/^func //'); do
		echo "-- $pkg $target ($fuzztime)"
		go test -run='^$' -fuzz="^${target}\$" -fuzztime="$fuzztime" "$pkg"
	done
done
echo "all tests passed"
