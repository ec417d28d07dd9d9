# Helpers to run testpop3d from a test script; source this file.
#
#   TESTDIR=$(mktemp -d) ...
#   trap 'server_stop; rm -rf "$TESTDIR"' EXIT
#   server_start --log "$TESTDIR/log" "$TESTDIR/maildrop" || exit 1
#   ... connect to 127.0.0.1:$PORT ...
#   server_stop
#
# POSIX sh; safe under "set -e" and "set -u".

SERVER_PID=
PORT=

# server_start [testpop3d options...] MAILDROP
# After the first start, later starts reuse the same port, so that popfetch
# sees the same account (its state is per user@host:port).
server_start() {
	if [ -n "${SERVER_PID:-}" ]; then
		echo "server_start: a server is already running (pid $SERVER_PID)" >&2
		return 1
	fi
	if [ -z "${TESTDIR:-}" ] || [ ! -d "$TESTDIR" ]; then
		echo "server_start: TESTDIR must name an existing directory" >&2
		return 1
	fi
	rm -f "$TESTDIR/server.port" "$TESTDIR/server.pid"
	# --exit-with-parent: the server goes away by itself if this shell is
	# killed before its EXIT trap can run server_stop.
	"${TESTPOP3D:-./tests/testpop3d}" --exit-with-parent ${PORT:+--port "$PORT"} \
		--port-file "$TESTDIR/server.port" \
		--pid-file "$TESTDIR/server.pid" "$@" &
	SERVER_PID=$!
	export SERVER_PID
	_srv_tries=0
	while [ ! -s "$TESTDIR/server.port" ]; do
		if ! kill -0 "$SERVER_PID" 2>/dev/null; then
			_srv_rc=0
			wait "$SERVER_PID" || _srv_rc=$?
			echo "server_start: testpop3d exited with status $_srv_rc before it was ready" >&2
			SERVER_PID=
			return 1
		fi
		_srv_tries=$((_srv_tries + 1))
		if [ "$_srv_tries" -gt 50 ]; then
			echo "server_start: testpop3d did not write its port file within 5 s" >&2
			server_stop
			return 1
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	PORT=$(cat "$TESTDIR/server.port")
	export PORT
	return 0
}

# Stops the server started by server_start; a no-op when none is running, so
# it can be both called explicitly and installed as an EXIT trap.
server_stop() {
	[ -n "${SERVER_PID:-}" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || :
	_srv_tries=0
	# kill -0 also succeeds for a zombie that this shell has not reaped
	# yet, which costs at most the 2 s grace period, never correctness.
	while kill -0 "$SERVER_PID" 2>/dev/null; do
		_srv_tries=$((_srv_tries + 1))
		if [ "$_srv_tries" -gt 20 ]; then
			kill -KILL "$SERVER_PID" 2>/dev/null || :
			break
		fi
		sleep 0.1 2>/dev/null || sleep 1
	done
	wait "$SERVER_PID" 2>/dev/null || :
	SERVER_PID=
	return 0
}
