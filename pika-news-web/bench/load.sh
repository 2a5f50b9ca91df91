#!/usr/bin/env bash
# Load figures for pika-news (figures, not a pass/fail test), each against its goal:
#  run   GET /news/api/forge/pikaci/run/{run_id} with a token, for a real 10-job run, against
#        nginx serving the same run.json as a static file, in two shapes (SHAPES: `wrk -t1 -c32`
#        and `wrk -t2 -c64`; goal: at least 1.0x nginx's rate in each);
#  sse   1,000 Server-Sent-Events followers of one job that writes a timestamped line every
#        10 ms (under `pikaci run`, through its capture path): write-to-client latency p50/p99
#        (goal: p99 at most 100 ms) and the server's peak RSS meanwhile (goal: under 150 MiB);
#  raw   download of a 1 GiB log through the raw route against nginx's sendfile of the same
#        file (goal: at least 0.8x), and `Range: bytes=-65536` of it with 64 connections
#        (goal: at least 0.5x nginx); the 64 KiB tail over the JSON route, with peak RSS;
#  mem   peak RSS while 32 clients read whole logs filled with NUL bytes (each escaped as 6
#        bytes in JSON; goal: under 150 MiB), and while 32 clients ask for a 43 MB run.json
#        (refused unread above 4 MiB).
# Everything on loopback, on ports picked free at start. PHASES="run sse raw mem" (the default)
# chooses which; SHAPES ("1x32 2x64": wrk threads x connections) the run phase's shapes; ROUNDS
# (5) alternating rounds of ROUND_SECONDS (4) compare a figure with its nginx baseline; DURATION
# (10s) is the single tail measurement, SSE_SECONDS (20) the live phase, FOLLOWERS (1000) its
# clients; BIN_DIR a folder of binaries built before (else they are built here). nginx runs one
# worker process, as in every earlier figure.
# Needs wrk, nginx, curl and python3 (Debian packages; installed when missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION="${DURATION:-10s}"
PHASES="${PHASES:-run sse raw mem}"
FOLLOWERS="${FOLLOWERS:-1000}"
SSE_SECONDS="${SSE_SECONDS:-20}"

for tool in wrk nginx curl python3; do
  command -v "$tool" >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk nginx curl python3 >/dev/null; }
done
# BIN_DIR: measure binaries built before (pika-news, pikaci, examples/sse_followers) instead.
if [ -z "${BIN_DIR:-}" ]; then
  cargo build --release -q -p pika-news-web -p pikaci-cli --bins --example sse_followers
fi
BIN="${BIN_DIR:-$(pwd)/target/release}"

work="$(mktemp -d)"
chmod 755 "$work" # nginx workers run as nobody
cleanup() {
  for pid in ${RUNS:-} ${SERVER:-} ${NGINX:-}; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
NEWS_PORT="$(free_port)"
NGINX_PORT="$(free_port)"
while [ "$NGINX_PORT" = "$NEWS_PORT" ]; do NGINX_PORT="$(free_port)"; done
NEWS="http://127.0.0.1:$NEWS_PORT"
NGINX_URL="http://127.0.0.1:$NGINX_PORT"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
figures() { awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} END {print rps, p99}'; }
peak_reset() { echo 5 > "/proc/$SERVER/clear_refs" 2>/dev/null || true; }
peak_mib() { awk '/VmHWM/ {printf "%d", $2 / 1024}' "/proc/$SERVER/status"; }

# The repository's state root (the default derivation of the config below) and a real run
# of 10 jobs in it, as CI makes them.
state="$work/git/pikaci-state/bench"
mkdir -p "$work/repo" "$work/git/bench.git" "$work/live"
for i in $(seq 0 9); do
  printf '[[job]]\nid = "job-%d"\ndescription = "step %d of the realistic run"\ncommand = "echo compiling crate %d"\n' "$i" "$i" "$i"
done > "$work/repo/pikaci.toml"
(cd "$work/repo" && "$BIN/pikaci" --state-root "$state" run --output json > "$work/run.out")
run_id="$(sed -n 's/.*"run_id": "\(.*\)".*/\1/p' "$work/run.out" | head -1)"
[ -n "$run_id" ] || { echo "no run id in pikaci's output" >&2; exit 1; }

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
bind_port = $NEWS_PORT
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
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  types { application/json json; text/plain log; }
  default_type application/json;
  server { listen 127.0.0.1:$NGINX_PORT; root $work/www; }
}
NGINX
nginx -c "$work/nginx/nginx.conf" -g 'daemon off;' &
NGINX=$!

for _ in $(seq 100); do curl -fs "$NEWS/health" >/dev/null 2>&1 && break; sleep 0.1; done
for _ in $(seq 100); do curl -fs "$NGINX_URL/run/$run_id" >/dev/null 2>&1 && break; sleep 0.1; done
auth=(-H "Authorization: Bearer $token")
curl -fsS "${auth[@]}" "$NEWS/news/api/forge/pikaci/run/$run_id" >/dev/null
curl -fsS "$NGINX_URL/run/$run_id" >/dev/null
echo "pika-news on :$NEWS_PORT, nginx on :$NGINX_PORT; run $run_id ($(wc -c < "$work/www/run/$run_id") bytes of run.json, 10 jobs)"

# The machine is shared: a figure and its nginx baseline are measured in alternating rounds
# (ROUNDS of ROUND_SECONDS each, one wrk at a time) and compared by their medians.
ROUNDS="${ROUNDS:-5}"
ROUND_SECONDS="${ROUND_SECONDS:-4}"
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# The wrk shape of `alternate` (threads and connections); phase_run measures each of SHAPES.
WRK_SHAPE=(-t2 -c64)
SHAPES="${SHAPES:-1x32 2x64}"
# alternate NAME -- WRK-ARGS-FOR-PIKA-NEWS -- WRK-ARGS-FOR-NGINX: sets NEWS_RPS, NGINX_RPS,
# NEWS_P99 and NGINX_P99 (medians of the rounds), with wrk's WRK_SHAPE.
alternate() {
  local news_args=() nginx_args=() side=news
  shift 2 # the name and the first --
  for a in "$@"; do
    if [ "$a" = "--" ]; then side=nginx; continue; fi
    if [ "$side" = news ]; then news_args+=("$a"); else nginx_args+=("$a"); fi
  done
  : > "$work/rounds.news"; : > "$work/rounds.nginx"
  for _ in $(seq "$ROUNDS"); do
    wrk "${WRK_SHAPE[@]}" -d"${ROUND_SECONDS}s" --latency "${news_args[@]}" | figures >> "$work/rounds.news"
    wrk "${WRK_SHAPE[@]}" -d"${ROUND_SECONDS}s" --latency "${nginx_args[@]}" | figures >> "$work/rounds.nginx"
  done
  NEWS_RPS="$(cut -d' ' -f1 "$work/rounds.news" | median)"
  NGINX_RPS="$(cut -d' ' -f1 "$work/rounds.nginx" | median)"
  NEWS_P99="$(cut -d' ' -f2 "$work/rounds.news" | sed 's/ms$//' | median)ms"
  NGINX_P99="$(cut -d' ' -f2 "$work/rounds.nginx" | sed 's/ms$//' | median)ms"
}

phase_run() {
  local shape summary=""
  for shape in $SHAPES; do
    WRK_SHAPE=(-t"${shape%x*}" -c"${shape#*x}")
    alternate run -- "${auth[@]}" "$NEWS/news/api/forge/pikaci/run/$run_id" -- "$NGINX_URL/run/$run_id"
    echo "GET run record (10 jobs), token checked, wrk ${WRK_SHAPE[*]}, medians of $ROUNDS alternating ${ROUND_SECONDS}s rounds:"
    echo "  pika-news: $NEWS_RPS req/s, p99 $NEWS_P99 (rounds: $(cut -d' ' -f1 "$work/rounds.news" | tr '\n' ' '))"
    echo "  nginx:     $NGINX_RPS req/s, p99 $NGINX_P99 (static file, one worker; rounds: $(cut -d' ' -f1 "$work/rounds.nginx" | tr '\n' ' '))"
    echo "  pika-news / nginx: $(ratio "$NEWS_RPS" "$NGINX_RPS")x (goal: at least 1.00x)"
    summary+="  wrk ${WRK_SHAPE[*]}: pika-news $NEWS_RPS req/s, nginx $NGINX_RPS req/s, $(ratio "$NEWS_RPS" "$NGINX_RPS")x"$'\n'
  done
  WRK_SHAPE=(-t2 -c64)
  echo "run route, each shape (median req/s, ratio; goal: at least 1.00x in each):"
  printf '%s' "$summary"
}

phase_sse() {
  # A job that waits until every follower is connected, then writes a line with the time it
  # wrote it every 10 ms, under pikaci run (its capture path, its timestamp sidecar).
  local go="$work/live/go" lines=$(( SSE_SECONDS * 100 ))
  mkdir -p "$work/live/repo"
  cat > "$work/live/repo/pikaci.toml" <<TOML
[[job]]
id = "live"
timeout_secs = 600
command = "while [ ! -e $go ]; do sleep 0.05; done; for i in \$(seq $lines); do echo \"\$EPOCHREALTIME line \$i of the live log\"; sleep 0.01; done"
TOML
  (cd "$work/live/repo" && exec "$BIN/pikaci" --state-root "$state" run --output jsonl > "$work/live/events") &
  RUNS=$!
  local live_run=""
  for _ in $(seq 200); do
    live_run="$(sed -n 's/.*"event":"run_started".*"run_id":"\([^"]*\)".*/\1/p' "$work/live/events" | head -1)"
    [ -n "$live_run" ] && break
    sleep 0.05
  done
  [ -n "$live_run" ] || { echo "the live run did not start" >&2; return 1; }
  peak_reset
  "$BIN/examples/sse_followers" --addr "127.0.0.1:$NEWS_PORT" --token "$token" \
    --path "/news/api/forge/pikaci/logs/$live_run/stream?job=live&kind=guest" \
    --clients "$FOLLOWERS" --go-file "$go" --seconds "$SSE_SECONDS" > "$work/live/report"
  local peak; peak="$(peak_mib)"
  wait "$RUNS" || true
  RUNS=""
  echo "$FOLLOWERS SSE followers of one job writing a line every 10 ms, ${SSE_SECONDS}s:"
  sed 's/^/  /' "$work/live/report"
  echo "  pika-news peak RSS: $peak MiB (goal: under 150 MiB)"
}

phase_raw() {
  # 1 GiB: sparse, with 1 MiB of real text at the end where tails are read; nginx serves the
  # same file through a hard link, with sendfile.
  local log="$state/runs/$run_id/jobs/job-0/guest.log"
  : > "$log"
  truncate -s $(( 1024 * 1024 * 1024 - 1024 * 1024 )) "$log"
  head -c $(( 1024 * 1024 )) < <(yes "   Compiling pikaci-core v0.1.0 ... a line of build output to fill the tail") >> "$log"
  ln "$log" "$work/www/big.log"
  local raw_url="$NEWS/news/api/forge/pikaci/logs/$run_id/raw?job=job-0&kind=guest"
  curl -fs "${auth[@]}" -o /dev/null "$raw_url"
  curl -fs -o /dev/null "$NGINX_URL/big.log"
  local news_t=() nginx_t=()
  for _ in 1 2 3; do
    news_t+=("$(curl -fs "${auth[@]}" -o /dev/null -w '%{time_total}' "$raw_url")")
    nginx_t+=("$(curl -fs -o /dev/null -w '%{time_total}' "$NGINX_URL/big.log")")
  done
  local news nginx
  news="$(printf '%s\n' "${news_t[@]}" | sort -n | sed -n 2p)"
  nginx="$(printf '%s\n' "${nginx_t[@]}" | sort -n | sed -n 2p)"
  echo "download of a 1 GiB log, one client, median of 3:"
  echo "  pika-news raw route: ${news}s ($(awk -v t="$news" 'BEGIN { printf "%.0f", 1024 / t }') MiB/s)"
  echo "  nginx sendfile:      ${nginx}s ($(awk -v t="$nginx" 'BEGIN { printf "%.0f", 1024 / t }') MiB/s)"
  echo "  pika-news / nginx: $(ratio "$nginx" "$news")x of nginx's throughput (goal: at least 0.80x)"

  alternate range -- "${auth[@]}" -H "Range: bytes=-65536" "$raw_url" -- -H "Range: bytes=-65536" "$NGINX_URL/big.log"
  echo "Range: bytes=-65536 of the 1 GiB log, 64 connections, medians of $ROUNDS alternating ${ROUND_SECONDS}s rounds:"
  echo "  pika-news: $NEWS_RPS req/s, p99 $NEWS_P99"
  echo "  nginx:     $NGINX_RPS req/s, p99 $NGINX_P99"
  echo "  pika-news / nginx: $(ratio "$NEWS_RPS" "$NGINX_RPS")x (goal: at least 0.50x)"

  peak_reset
  read -r news news_p99 < <(wrk -t2 -c64 -d"$DURATION" --latency "${auth[@]}" \
    "$NEWS/news/api/forge/pikaci/logs/$run_id?job=job-0&kind=guest&tail=65536" | figures)
  echo "64 clients reading the 64 KiB tail of the 1 GiB log over the JSON route, $DURATION:"
  echo "  $news req/s, p99 $news_p99; pika-news peak RSS $(peak_mib) MiB (goal: under 100 MiB)"
  rm -f "$work/www/big.log" "$log"
}

phase_mem() {
  local nul_rps big_rps nul_size big_status
  peak_reset
  nul_rps="$(wrk -t2 -c32 -d"$DURATION" --latency "${auth[@]}" \
    "$NEWS/news/api/forge/pikaci/logs/$nul_id?job=nul&kind=both" | figures)"
  nul_size="$(curl -s "${auth[@]}" "$NEWS/news/api/forge/pikaci/logs/$nul_id?job=nul&kind=both" | wc -c)"
  echo "32 clients reading whole logs of 16 MiB of NUL bytes (host and guest), $DURATION: $nul_rps (req/s, p99)"
  echo "  one answer: $nul_size bytes (at most 8 MiB of encoded log text)"
  echo "  pika-news peak RSS: $(peak_mib) MiB (goal: under 150 MiB)"
  peak_reset
  big_rps="$(wrk -t2 -c32 -d"$DURATION" --latency "${auth[@]}" \
    "$NEWS/news/api/forge/pikaci/run/$big_id" | figures)"
  big_status="$(curl -s -o /dev/null -w '%{http_code}' "${auth[@]}" "$NEWS/news/api/forge/pikaci/run/$big_id")"
  echo "32 clients asking for a 43 MB run.json, $DURATION: $big_rps (req/s, p99); status $big_status"
  echo "  pika-news peak RSS: $(peak_mib) MiB"
}

for phase in $PHASES; do
  "phase_$phase"
done
