#!/usr/bin/env bash
# redis-test.sh starts or stops a throwaway redis-server on loopback for the ledger and lease
# tests, so that one server can serve a whole test run. Without it, the tests start their own
# servers (internal/redistest).
#
#   scripts/redis-test.sh start [port]   start on 127.0.0.1 (port default 6390) and print
#                                        CATOBOT_TEST_REDIS_URL=redis://127.0.0.1:<port>/0
#   scripts/redis-test.sh stop           stop the server this script started
#
# The server binds 127.0.0.1 only, keeps protected mode on and persists nothing. Its pid, log
# and working directory live in $CATOBOT_REDIS_DIR (default: ${TMPDIR:-/tmp}/catobot-redis-test).
# redis-server comes from the Debian package redis-server.
set -euo pipefail

dir="${CATOBOT_REDIS_DIR:-${TMPDIR:-/tmp}/catobot-redis-test}"
pidfile="$dir/redis.pid"

start() {
	local port="${1:-6390}"
	if ! command -v redis-server >/dev/null; then
		echo "redis-test.sh: redis-server not found; apt-get install -y redis-server" >&2
		exit 1
	fi
	if [[ -s "$pidfile" ]] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		echo "redis-test.sh: already running with pid $(cat "$pidfile")" >&2
		exit 1
	fi
	mkdir -p "$dir"
	redis-server --port "$port" --bind 127.0.0.1 --protected-mode yes \
		--save "" --appendonly no --dir "$dir" --logfile "$dir/redis.log" \
		--daemonize yes --pidfile "$pidfile"

	for _ in $(seq 100); do
		if redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
			echo "CATOBOT_TEST_REDIS_URL=redis://127.0.0.1:$port/0"
			return
		fi
		sleep 0.1
	done
	echo "redis-test.sh: redis-server did not answer on 127.0.0.1:$port; see $dir/redis.log" >&2
	stop
	exit 1
}

stop() {
	if [[ ! -s "$pidfile" ]]; then
		return
	fi
	local pid
	pid="$(cat "$pidfile")"
	kill "$pid" 2>/dev/null || true
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	rm -f "$pidfile"
}

case "${1:-}" in
start) start "${2:-}" ;;
stop) stop ;;
*)
	echo "usage: redis-test.sh start [port] | stop" >&2
	exit 2
	;;
esac
