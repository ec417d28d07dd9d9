# Shared helpers for the session tests; source after setting nothing.
# Each test gets a private TESTDIR, a test server on 127.0.0.1 (server.sh)
# stopped by pid on every exit path, and counters printed by finish().

set -u
: "${srcdir:=.}"
POPFETCH=${POPFETCH:-./src/popfetch}
TESTDIR=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-test.XXXXXX") || exit 1
chmod 755 "$TESTDIR"
. "$srcdir/tests/server.sh"
trap 'server_stop; rm -rf "$TESTDIR"' EXIT
trap 'exit 1' HUP INT TERM PIPE

PASSED=0
FAILED=0
DROP=$TESTDIR/drop
MD=$TESTDIR/Maildir
STATE=$TESTDIR/state
SLOG=$TESTDIR/server.log
mkdir -p "$DROP"
printf 'secret\n' > "$TESTDIR/pw"
chmod 600 "$TESTDIR/pw"

ok() {
	PASSED=$((PASSED + 1))
	echo "ok: $*"
}

fail() {
	FAILED=$((FAILED + 1))
	echo "FAIL: $*"
	if [ -s "$TESTDIR/err" ]; then
		sed 's/^/#   stderr: /' "$TESTDIR/err" | head -20
	fi
}

# check "what" command...: passes when the command succeeds.
check() {
	_what=$1
	shift
	if "$@"; then ok "$_what"; else fail "$_what"; fi
}

finish() {
	echo "$(basename "$0"): $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
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

# pf [options...]: runs popfetch against the test server with the usual
# account options; sets RC, stdout in $TESTDIR/out, stderr in $TESTDIR/err.
pf() {
	RC=0
	timeout 60 "$POPFETCH" --no-tls -P "$PORT" -u test \
		--password-file "$TESTDIR/pw" --state-dir "$STATE" --timeout 5 \
		"$@" 127.0.0.1 > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
}

# pfm [options...]: pf into the Maildir.
pfm() {
	pf --maildir "$MD" "$@"
}

expect_rc() {
	if [ "$RC" -eq "$1" ]; then ok "$2 (exit $RC)"; else fail "$2: exit $RC, expected $1"; fi
}

count_files() {
	find "$1" -maxdepth 1 -type f ! -name '.*' 2>/dev/null | wc -l | tr -d ' '
}

# Checksums of the files of a directory, sorted: a multiset of contents.
sums() {
	find "$1" -maxdepth 1 -type f ! -name '.*' -exec cksum {} + 2>/dev/null |
		awk '{print $1, $2}' | sort
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
	"$POPFETCH" -u test --state-dir "$STATE" -P "$PORT" \
		--list-seen 127.0.0.1 2>/dev/null | wc -l | tr -d ' '
}
