# SPDX-License-Identifier: ISC
# tests/lib.sh -- what every test script shares; source it first:
#     . "$srcdir/tests/lib.sh"
#
# It gives the script a private TESTDIR, removed on every exit path (kept
# when POPFETCH_KEEP_TMP is set), the counters ok/fail/check, and the
# script's last line "NAME: N passed, M failed" -- printed on every exit
# path too, a script that stops early counting as a failure (bail).
#
# The test server runs in one of two modes:
#   serve [testpop3d options...]    --stdio: pf runs a fresh testpop3d per
#       session over --tunnel, with these options (the default: none), so
#       no port, no start and no stop; sessions are numbered across runs
#       (--count-file), so --session-filter works as with one server.
#   server_start [options...] DIR   a real server on 127.0.0.1 (server.sh),
#       for what needs TCP; pf connects to its $PORT until server_stop.
# Either way the maildrop is $DROP and the server logs to $SLOG.
#
# POSIX sh; safe under "set -u".

set -u
: "${srcdir:=.}"
POPFETCH=${POPFETCH:-./src/popfetch}
TESTPOP3D=${TESTPOP3D:-./tests/testpop3d}
ME=${ME:-${0##*/}}
# LIB_TESTDIR: a directory to make and use instead, which whoever named it
# removes (tests/cases.sh: one for all the cases of a run).
if [ -n "${LIB_TESTDIR:-}" ]; then
	TESTDIR=$LIB_TESTDIR
else
	TESTDIR=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-test.XXXXXX") || exit 1
	# Reachable by the unprivileged users of dovecot and the permission
	# tests; TESTDIR_MODE= (empty) keeps mktemp's 0700.
	: "${TESTDIR_MODE=755}"
	[ -z "$TESTDIR_MODE" ] || chmod "$TESTDIR_MODE" "$TESTDIR"
fi
# shellcheck source=tests/server.sh
. "$srcdir/tests/server.sh"

PASSED=0
FAILED=0
DROP=$TESTDIR/drop
MD=$TESTDIR/Maildir
STATE=$TESTDIR/state
SLOG=$TESTDIR/server.log
# A run that hangs fails instead of stopping the suite; empty where a
# whole test has its own time limit (tests/cases.sh).
PF_WATCHDOG=${PF_WATCHDOG-timeout 60}
# The idle timeout (--timeout) of runs that must time out, against a
# server that hangs: short, so that the suite is quick, but longer than
# the server takes to start and greet. POPFETCH_HANG_TIMEOUT raises it
# where everything is slower (sanitizers, valgrind).
HANG=${POPFETCH_HANG_TIMEOUT:-0.2}
SERVE_ARGS=
SERVE_TLS=
PF_TLS=
_lib_hooks=
mkdir -p "$DROP" "$TESTDIR/mda" || exit 1
(umask 077 && printf 'secret\n' > "$TESTDIR/pw")

# on_exit COMMAND: run COMMAND (a shell command line) on exit, before the
# test directory is removed; for servers and mounts a script starts.
on_exit() {
	_lib_hooks="$_lib_hooks$1
"
}

# shellcheck disable=SC2317 # the EXIT trap
_lib_exit() {
	_lib_rc=$?
	trap - EXIT
	trap '' HUP INT TERM PIPE
	eval "$_lib_hooks"
	server_stop
	if [ -n "${POPFETCH_KEEP_TMP:-}" ]; then
		echo "# kept temp dir: $TESTDIR"
	elif [ -z "${LIB_TESTDIR:-}" ]; then
		rm -rf "$TESTDIR"
	fi
	if [ "$_lib_rc" -ne 0 ] && [ "$FAILED" -eq 0 ]; then
		FAILED=1
		echo "FAIL: $ME stopped early (status $_lib_rc)"
	fi
	echo "$ME: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}
trap _lib_exit EXIT
trap 'exit 1' HUP INT TERM PIPE

ok() {
	PASSED=$((PASSED + 1))
	echo "ok: $*"
}

# fail WHAT: shows the last run's standard error too: $TESTDIR/err, or
# the file ERR_SHOW names.
fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL: $*"
	if [ -s "${ERR_SHOW:-$TESTDIR/err}" ]; then
		sed 's/^/#   stderr: /' "${ERR_SHOW:-$TESTDIR/err}" | head -20
	fi
}

# bail WHAT: a failure later steps depend on; stops the script.
bail() {
	fail "$*"
	exit 1
}

# check "what" command...: passes when the command succeeds.
check() {
	_what=$1
	shift
	if "$@"; then ok "$_what"; else fail "$_what"; fi
}

# finish: the end of a script; the totals line comes from the EXIT trap.
finish() {
	[ "$FAILED" -eq 0 ]
	exit $?
}

# note_file WHAT FILE [N]: diagnostics, not results: FILE's last N (30)
# lines prefixed with "# ".
note_file() {
	if [ -s "$2" ]; then
		printf '# --- %s (%s) ---\n' "$1" "$2"
		tail -n "${3:-30}" "$2" | sed 's/^/# /'
	fi
}

# shq WORD: sets SHQ to WORD quoted for the shell (as it is when that is
# safe). A variable, not output: a test builds a command line per run, and
# every $(...) is a fork.
shq() {
	case $1 in
	'' | *[!A-Za-z0-9_./:=+,@%-]*)
		SHQ=$(printf '%s' "$1" | sed "s/'/'\\\\''/g")
		SHQ="'$SHQ'" ;;
	*)
		SHQ=$1 ;;
	esac
}

# msg FILE SUBJECT [BODY...]: a small message with LF line ends.
msg() {
	_f=$1
	_s=$2
	shift 2
	{
		printf 'From: a@example.org\nTo: b@example.org\nSubject: %s\n' "$_s"
		printf 'Message-ID: <%s@example.org>\n\n' "$_s"
		if [ $# -eq 0 ]; then printf 'Body of %s.\n' "$_s"; fi
		for _l in "$@"; do printf '%s\n' "$_l"; done
	} > "$DROP/$_f"
}

# serve [testpop3d options...]: the options of the --stdio server that
# the next runs of pf talk to.
serve() {
	SERVE_ARGS=
	for _a in "$@"; do
		shq "$_a"
		SERVE_ARGS="$SERVE_ARGS $SHQ"
	done
	make_tunnel
}

# make_tunnel: TUNNEL, the --tunnel command for the --stdio server (exec:
# no shell waits for it); tunnel_cmd prints it.
make_tunnel() {
	shq "$TESTPOP3D"
	TUNNEL="exec $SHQ --stdio"
	shq "$SLOG"
	TUNNEL="$TUNNEL --log $SHQ"
	shq "$TESTDIR/sessions"
	TUNNEL="$TUNNEL --count-file $SHQ$SERVE_TLS$SERVE_ARGS"
	shq "$DROP"
	TUNNEL="$TUNNEL $SHQ"
}
tunnel_cmd() {
	make_tunnel
	printf '%s' "$TUNNEL"
}

# use_tls: from now on the --stdio server has the test certificate and pf
# requires TLS (no --no-tls), trusting the test CA. The certificates are
# $CERTS (tests/certs.sh), made now unless they are there.
use_tls() {
	if [ -z "${CERTS:-}" ] || [ ! -f "$CERTS/server.pem" ]; then
		CERTS=$TESTDIR/certs
		# shellcheck source=tests/certs.sh
		. "$srcdir/tests/certs.sh"
		make_certs "$CERTS" > "$TESTDIR/certs.log" 2>&1 ||
			{ note_file make_certs "$TESTDIR/certs.log"; bail "cannot make the test certificates"; }
	fi
	shq "$CERTS/server.pem"
	SERVE_TLS=" --tls-cert $SHQ"
	shq "$CERTS/server.key"
	SERVE_TLS="$SERVE_TLS --tls-key $SHQ"
	PF_TLS="--tls-trust-file $CERTS/ca.pem"
	make_tunnel
}

# pf [options...]: runs popfetch against the test server with the usual
# account options; sets RC, stdout in $TESTDIR/out, stderr in $TESTDIR/err.
# Plaintext unless PF_TLS holds the client's TLS options; the password
# from $TESTDIR/pw unless the options name another source.
pf() {
	RC=0
	case " $* " in
	*" --password-cmd"* | *" --password-fd"* | *" --password-file"*) ;;
	*) set -- --password-file "$TESTDIR/pw" "$@" ;;
	esac
	if [ -n "${SERVER_PID:-}" ]; then
		set -- -P "$PORT" "$@"
	else
		set -- --tunnel "$TUNNEL" "$@"
	fi
	if [ -z "$PF_TLS" ]; then
		set -- --no-tls "$@"
	fi
	# shellcheck disable=SC2086 # lists of options
	# --no-received: the tests compare what arrives byte for byte.
	$PF_WATCHDOG "$POPFETCH" $PF_TLS --no-received -u test \
		--state-dir "$STATE" --timeout 5 "$@" 127.0.0.1 \
		> "$TESTDIR/out" 2> "$TESTDIR/err" < /dev/null || RC=$?
}

# pfm [options...]: pf into the Maildir.
pfm() {
	pf --maildir "$MD" "$@"
}

expect_rc() {
	if [ "$RC" -eq "$1" ]; then ok "$2 (exit $RC)"; else fail "$2: exit $RC, expected $1"; fi
}

# count_files DIR: the number of files in DIR, but for hidden ones.
# Builtins only: a test calls it often, and a fork is not free on a
# loaded machine.
count_files() {
	_n=0
	for _f in "$1"/*; do
		[ -f "$_f" ] && _n=$((_n + 1))
	done
	echo "$_n"
}

# Checksums of the files of a directory, sorted: a multiset of contents.
# (cksum passes over subdirectories with an error; hidden files are not
# in the glob.)
sums() {
	cksum "$1"/* 2>/dev/null | while read -r _c _s _; do
		echo "$_c $_s"
	done | sort
}

# same_contents DIR1 DIR2: the same multiset of file contents.
same_contents() {
	[ "$(sums "$1")" = "$(sums "$2")" ]
}

# has_copy FILE DIR: DIR holds a file with exactly FILE's bytes.
has_copy() {
	for _x in "$2"/*; do
		cmp -s "$1" "$_x" && return 0
	done
	return 1
}

# no_retr: the last session fetched nothing.
no_retr() {
	! last_session | grep -q '^RETR'
}

# The commands the server received in its last session.
last_session() {
	awk '/^-- session/{buf=""; next} {buf = buf $0 "\n"} END{printf "%s", buf}' "$SLOG"
}

# The number of stored UIDs.
seen_count() {
	if [ -n "${SERVER_PID:-}" ]; then
		set -- -P "$PORT"
	else
		set --
	fi
	_n=$("$POPFETCH" -u test --state-dir "$STATE" "$@" \
		--list-seen 127.0.0.1 2>/dev/null | wc -l)
	echo $((_n))
}

make_tunnel
