#!/usr/bin/env bash
# Instructions per request of a signed-in page (or, with BEARER=1, of an
# API path with a bearer token, or API_KEY=1 with an API key), counted by callgrind: deterministic where
# timings are not, for comparing two builds on a busy machine.
#
#     cargo build --release
#     benches/callgrind.sh target/release/gatehouse 200              # GET /account
#     BEARER=1 benches/callgrind.sh target/release/gatehouse 200 /api/v1/me
#     API_KEY=1 benches/callgrind.sh target/release/gatehouse 200 /api/v1/me
#     LIMITS=1 API_KEY=1 benches/callgrind.sh ...   # with rate limits on
#
# Starts BINARY under valgrind with SQLite in a temporary directory, signs
# in a plain user, warms up, then counts only the N requests. Needs
# valgrind (callgrind_control) and curl. The last profile is left in
# /tmp/gatehouse-callgrind.out for callgrind_annotate.
set -euo pipefail
BIN="$(realpath "$1")"; N="$2"; PAGE="${3:-/account}"
WORK="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
SERVER=""
trap '[ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT

export ROCKET_PROFILE=release ROCKET_PORT="$PORT" ROCKET_ADDRESS=127.0.0.1 ROCKET_PUBLIC_URL="$BASE"
export ROCKET_DATABASE_URL="sqlite://$WORK/gatehouse.db?mode=rwc"
export ROCKET_SECRET_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(32))')"
export ROCKET_EMAIL="{outbox_dir=\"$WORK/outbox\"}"
# LIMITS=1 keeps the rate limits on, as they are by default.
[ -n "${LIMITS:-}" ] || export ROCKET_RATE_LIMITS="{enabled=false}"
export RUST_LOG=off ROCKET_LOG_LEVEL=off GATEHOUSE_PASSWORD="correct horse battery staple"

(cd "$WORK" && "$BIN" createsuperuser --username bench --email bench@example.com >/dev/null)
# A plain user: staff would be sent to set up two-factor first.
python3 -c "import sqlite3, sys; d = sqlite3.connect(sys.argv[1]); d.execute('UPDATE users SET is_staff = 0, is_superuser = 0'); d.commit()" "$WORK/gatehouse.db"
(cd "$WORK" && exec valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$BIN" serve >"$WORK/server.log" 2>&1) &
SERVER=$!
for _ in $(seq 1 300); do curl -fsS "$BASE/health" >/dev/null 2>&1 && break; sleep 0.2; done

JAR="$WORK/cookies"
TOKEN="$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/login" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')"
curl -fsS -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf_token=$TOKEN" \
    --data-urlencode login=bench --data-urlencode "password=$GATEHOUSE_PASSWORD" "$BASE/login"
AUTH=()
if [ -n "${BEARER:-}" ]; then
    ACCESS="$(curl -fsS "$BASE/api/v1/token" --data-urlencode grant_type=password \
        --data-urlencode username=bench --data-urlencode "password=$GATEHOUSE_PASSWORD" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["access_token"])')"
    AUTH=(-H "Authorization: Bearer $ACCESS")
elif [ -n "${API_KEY:-}" ]; then
    FORM="$(curl -fsS -b "$JAR" "$BASE/account/api-keys" | grep -o 'name="csrf_token" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')"
    curl -fsS -o /dev/null -c "$JAR" -b "$JAR" --data-urlencode "csrf_token=$FORM" \
        --data-urlencode name=bench --data-urlencode scopes=read "$BASE/account/api-keys"
    KEY="$(curl -fsS -c "$JAR" -b "$JAR" "$BASE/account/api-keys" | grep -o 'id="new-api-key"[^>]*>[^<]*' | sed 's/.*>//')"
    AUTH=(-H "X-API-Key: $KEY")
    JAR="$WORK/no-cookies"
fi
# Warm up keeping the cookies the server sets, so the sign-in's flash
# message is shown once and gone, as in a browser.
for _ in 1 2 3 4 5; do curl -fsS -o /dev/null -c "$JAR" -b "$JAR" "${AUTH[@]}" "$BASE$PAGE"; done

callgrind_control --zero "$SERVER" >/dev/null
for _ in $(seq 1 "$N"); do
    curl -s -o /dev/null -w '%{http_code}\n' -b "$JAR" "${AUTH[@]}" "$BASE$PAGE"
done | sort | uniq -c | sed 's/^/statuses: /' >&2
callgrind_control --dump "$SERVER" >/dev/null
sleep 1
PROFILE="$(ls -t "$WORK"/callgrind.out.* | head -1)"
cp "$PROFILE" /tmp/gatehouse-callgrind.out
TOTAL="$(grep -h '^totals:\|^summary:' "$PROFILE" | awk '{print $2}' | tail -1)"
echo "instructions per request: $((TOTAL / N))"
