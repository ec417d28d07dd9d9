# SPDX-License-Identifier: ISC
# Helpers to run testpop3d on a port from a test script; source this file
# (tests/lib.sh does). Most tests need no port: see serve in tests/lib.sh.
#
#   TESTDIR=$(mktemp -d) ...
#   trap 'server_stop; rm -rf "$TESTDIR"' EXIT
#   server_start --log "$TESTDIR/log" "$TESTDIR/maildrop" || exit 1
#   ... connect to 127.0.0.1:$PORT ...
#   server_stop
#
# POSIX sh; safe under "set -e" and "set -u". No polling: the server
# prints its port into a FIFO once it listens (its readiness), and
# server_stop waits for the process itself.

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
	# One FIFO for every start: no server writes to it once stopped.
	[ -p "$TESTDIR/server.fifo" ] || mkfifo "$TESTDIR/server.fifo" || return 1
	# --exit-with-parent: the server goes away by itself if this shell is
	# killed before its EXIT trap can run server_stop. Without --port-file
	# it prints its port on standard output once it listens.
	"${TESTPOP3D:-./tests/testpop3d}" --exit-with-parent ${PORT:+--port "$PORT"} \
		"$@" > "$TESTDIR/server.fifo" &
	SERVER_PID=$!
	export SERVER_PID
	# Ends with the port, or with nothing if the server exits first.
	_srv_port=
	read -r _srv_port < "$TESTDIR/server.fifo" || :
	if [ -z "$_srv_port" ]; then
		_srv_rc=0
		wait "$SERVER_PID" || _srv_rc=$?
		echo "server_start: testpop3d exited with status $_srv_rc before it was ready" >&2
		SERVER_PID=
		return 1
	fi
	PORT=$_srv_port
	export PORT
	return 0
}

# Stops the server started by server_start; a no-op when none is running, so
# it can be both called explicitly and installed as an EXIT trap. TERM has
# its default action in testpop3d, whatever it is doing.
server_stop() {
	[ -n "${SERVER_PID:-}" ] || return 0
	kill -TERM "$SERVER_PID" 2>/dev/null || :
	wait "$SERVER_PID" 2>/dev/null || :
	SERVER_PID=
	return 0
}
