#!/usr/bin/env bash
# Runs every Go fuzz target in the repository for a while each: `go test
# -fuzz` takes one target of one package at a time, so the targets are found
# by their `func Fuzz...` and run one after the other. A new target is picked
# up without touching this file.
#
# Usage: infra/chaos/fuzz.sh [FUZZTIME]   (default 30s; e.g. 3s, 5m, 10000x)
#
# Targets that write to DynamoDB use DYNAMODB_ENDPOINT when it is set (`make
# fuzz` starts one DynamoDB Local for all of them); otherwise each fuzzing
# process starts its own. An input that fails is saved by Go under the
# package's testdata/fuzz/<Target>/; commit it, and from then on plain `go
# test` runs it as a regression test.
set -euo pipefail

fuzztime="${1:-30s}"
go="${GO:-go}"
cd "$(dirname "$0")/../.."

mapfile -t targets < <(grep -rl --include='*_test.go' --exclude-dir=.cache --exclude-dir=.aws-sam --exclude-dir=node_modules '^func Fuzz' . |
	sort | while read -r file; do
		dir="$(dirname "$file")"
		sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' "$file" | while read -r name; do
			echo "$dir $name"
		done
	done)

if [ "${#targets[@]}" -eq 0 ]; then
	echo "fuzz: no fuzz targets found" >&2
	exit 1
fi

for target in "${targets[@]}"; do
	read -r dir name <<<"$target"
	echo "fuzz: $name in $dir for $fuzztime"
	# Minimizing a new input re-runs it many times; targets that call
	# DynamoDB would spend their whole budget on it at the default 60s.
	"$go" test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s "$dir"
done
echo "fuzz: ${#targets[@]} targets passed"
