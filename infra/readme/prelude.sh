# Runs before README.md's ```sh blocks (see infra/readme): every curl goes
# through the checks below, and any failing command stops the run.
set -euo pipefail
trap 'echo "README.md:$LINENO: exit $?: $BASH_COMMAND" >&2' ERR
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

# curl runs the real curl and fails when the OpenAPI proxy reports a
# violation (an sl-violations header or a problem+json answer) or the API
# answers an error, unless the command allows it: ALLOW_STATUS=409 curl ….
# A 503 (nothing was written) is sent again twice, a second apart and then
# two, as docs/API.md tells clients to; the walk-through shares two cores
# with the rest of the tests, where a write can lose to the stream's writes
# more often than its own retries allow.
# The runner's own /_local routes are outside the contract: they go to the
# stack directly.
curl() {
	local args=() a headers out status attempt
	for a in "$@"; do
		case "$a" in "$API"/_local/*) a="$STACK${a#"$API"}" ;; esac
		args+=("$a")
	done
	headers=$(mktemp)
	out=$(mktemp)
	for attempt in 1 2 3; do
		command curl -D "$headers" "${args[@]}" >"$out" || { echo "curl failed: $*" >&2; return 1; }
		status=$(awk 'toupper($1) ~ /^HTTP\// {s=$2} END {print s}' "$headers")
		[ "$status" = 503 ] && [ "$attempt" -lt 3 ] && [ "${ALLOW_STATUS:-}" != 503 ] || break
		echo "HTTP 503, sending again: curl $*" >&2
		sleep "$attempt"
	done
	cat "$out"
	if grep -qi -e '^sl-violations:' -e '^content-type: *application/problem+json' "$headers"; then
		{ echo "VIOLATION: curl $*"; echo "status $status"; grep -i '^sl-violations:' "$headers" || true; } >>"$VIOLATIONS"
		echo "OpenAPI violation: curl $*" >&2
		return 1
	fi
	if [ "${status:-0}" -ge 400 ] && [ "$status" != "${ALLOW_STATUS:-}" ]; then
		echo "HTTP $status: curl $*" >&2
		return 1
	fi
}
