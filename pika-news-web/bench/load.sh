#!/usr/bin/env bash
# Load figures for pika-news (figures, not a pass/fail test):
#  1. requests per second and p99 of GET /news/api/forge/pikaci/run/{run_id}, against nginx
#     serving the same run.json as a static file (goal: at least half of nginx's rate);
#  2. the server's peak memory while 64 clients read the 64 KiB tail of a 1 GiB log
#     (goal: under 100 MiB);
#  3. its peak memory while 32 clients read whole logs filled with NUL bytes (each escaped as
#     6 bytes in JSON; goal: under 150 MiB);
#  4. its peak memory while 32 clients ask for a 43 MB run.json (refused unread above 4 MiB).
# Needs wrk and nginx (Debian packages; installed when missing). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10s}"

for tool in wrk nginx; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nginx >/dev/null; }
done
cargo build --release -q -p pika-news-web -p pikaci-cli
BIN="$(pwd)/target/release"

work="$(mktemp -d)"
cleanup() { kill "${SERVER:-}" "${NGINX:-}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT

# A real run in the repository's state root (the default derivation of the config below).
state="$work/git/pikaci-state/bench"
mkdir -p "$work/repo" "$work/git/bench.git"
printf '[[job]]\nid = "big"\ncommand = "echo started"\n' > "$work/repo/pikaci.toml"
(cd "$work/repo" && "$BIN/pikaci" --state-root "$state" run --output json > "$work/run.json.out")
run_id="$(sed -n 's/.*"run_id": "\(.*\)".*/\1/p' "$work/run.json.out" | head -1)"
log="$state/runs/$run_id/jobs/big/guest.log"
# 1 GiB: a sparse start and 1 MiB of real text at the end, where the tail is read.
truncate -s $((1024 * 1024 * 1024 - 1024 * 1024)) "$log"
head -c $((1024 * 1024)) < <(yes "   Compiling pikaci-core v0.1.0 ... a line of build output to fill the tail") >> "$log"

# A run whose job's logs are 16 MiB of NUL bytes each (sparse: no disk is written).
mkdir -p "$work/nulrepo"
printf '[[job]]\nid = "nul"\ncommand = "true"\n' > "$work/nulrepo/pikaci.toml"
(cd "$work/nulrepo" && "$BIN/pikaci" --state-root "$state" run --output json > "$work/nul.out")
nul_id="$(sed -n 's/.*"run_id": "\(.*\)".*/\1/p' "$work/nul.out" | head -1)"
for f in host guest; do truncate -s 16M "$state/runs/$nul_id/jobs/nul/$f.log"; done
# A run whose run.json is 43 MB (a message of 43 million bytes).
(cd "$work/nulrepo" && "$BIN/pikaci" --state-root "$state" run --output json > "$work/big.out")
big_id="$(sed -n 's/.*"run_id": "\(.*\)".*/\1/p' "$work/big.out" | head -1)"
python3 - "$state/runs/$big_id/run.json" <<'PY'
import json, sys
path = sys.argv[1]
record = json.load(open(path))
record["message"] = "x" * 43_000_000
json.dump(record, open(path, "w"))
PY

cat > "$work/pika-news.toml" <<TOML
bind_port = 18787
database = "news.sqlite"
[forge_repo]
repo = "bench"
canonical_git_dir = "git/bench.git"
poll_interval_secs = 3600
TOML
git init -q --bare "$work/git/bench.git"
token="$("$BIN/pika-news" token create --config "$work/pika-news.toml" --name bench --role read 2>/dev/null | tail -1)"
RUST_LOG=warn "$BIN/pika-news" serve --config "$work/pika-news.toml" 2>"$work/server.log" &
SERVER=$!

mkdir -p "$work/www/run" "$work/nginx"
cp "$state/runs/$run_id/run.json" "$work/www/run/$run_id"
cat > "$work/nginx/nginx.conf" <<NGINX
worker_processes 1;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
events { worker_connections 1024; }
http {
  access_log off;
  types { application/json json; }
  default_type application/json;
  server { listen 127.0.0.1:18788; root $work/www; }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
NGINX=$!

for _ in $(seq 100); do curl -fs "http://127.0.0.1:18787/health" >/dev/null 2>&1 && break; sleep 0.1; done
curl -fs -H "Authorization: Bearer $token" "http://127.0.0.1:18787/news/api/forge/pikaci/run/$run_id" >/dev/null

figures() { awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} END {print rps, p99}'; }
read -r news_rps news_p99 < <(wrk -t2 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $token" \
  "http://127.0.0.1:18787/news/api/forge/pikaci/run/$run_id" | figures)
read -r nginx_rps nginx_p99 < <(wrk -t2 -c64 -d"$DURATION" --latency "http://127.0.0.1:18788/run/$run_id" | figures)
echo "GET run record, 64 connections, $DURATION:"
echo "  pika-news: $news_rps req/s, p99 $news_p99"
echo "  nginx:     $nginx_rps req/s, p99 $nginx_p99 (static file)"
awk -v a="$news_rps" -v b="$nginx_rps" 'BEGIN {printf "  pika-news / nginx: %.2f (goal: at least 0.50)\n", a / b}'

wrk -t2 -c64 -d"$DURATION" --latency -H "Authorization: Bearer $token" \
  "http://127.0.0.1:18787/news/api/forge/pikaci/logs/$run_id?job=big&kind=guest&tail=65536" > "$work/tail.txt"
tail_rps="$(figures < "$work/tail.txt")"
peak_kib="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")"
echo "64 clients reading the 64 KiB tail of a 1 GiB log, $DURATION: $tail_rps (req/s, p99)"
echo "  pika-news peak RSS: $((peak_kib / 1024)) MiB (goal: under 100 MiB)"

# Each figure below is the peak since the line before it (writing 5 to clear_refs resets it).
reset_peak() { echo 5 > "/proc/$SERVER/clear_refs" 2>/dev/null || true; }
reset_peak
wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $token" \
  "http://127.0.0.1:18787/news/api/forge/pikaci/logs/$nul_id?job=nul&kind=both" > "$work/nul.txt"
nul_rps="$(figures < "$work/nul.txt")"
peak_kib="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")"
nul_size="$(curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:18787/news/api/forge/pikaci/logs/$nul_id?job=nul&kind=both" | wc -c)"
echo "32 clients reading whole logs of 16 MiB of NUL bytes (host and guest), $DURATION: $nul_rps (req/s, p99)"
echo "  one answer: $nul_size bytes (at most 8 MiB of encoded log text)"
echo "  pika-news peak RSS: $((peak_kib / 1024)) MiB (goal: under 150 MiB)"

reset_peak
wrk -t2 -c32 -d"$DURATION" --latency -H "Authorization: Bearer $token" \
  "http://127.0.0.1:18787/news/api/forge/pikaci/run/$big_id" > "$work/big.txt"
big_rps="$(figures < "$work/big.txt")"
peak_kib="$(awk '/VmHWM/ {print $2}' "/proc/$SERVER/status")"
big_status="$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $token" "http://127.0.0.1:18787/news/api/forge/pikaci/run/$big_id")"
echo "32 clients asking for a 43 MB run.json, $DURATION: $big_rps (req/s, p99); status $big_status"
echo "  pika-news peak RSS: $((peak_kib / 1024)) MiB"
