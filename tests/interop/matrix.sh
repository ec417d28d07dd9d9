# SPDX-License-Identifier: ISC
# shellcheck shell=sh
# tests/interop/matrix.sh -- the interoperability matrix, run against one
# real POP3 server.  Sourced by tests/interop/t-SERVER.sh after it set
# IX_SERVER; the server's adapter is tests/interop/srv-SERVER.sh.
#
# Environment: POPFETCH (the client), INTEROP_DIR (where setup.sh unpacked
# the servers; default ./interop), POPFETCH_KEEP_TMP (keep the temp dir).
#
# An adapter defines:
#   srv_init           once: users, passwords, config; sets SRV_VERSION
#   srv_start          starts the server on SRV_PORT (and SRV_PORT_TLS for
#                      pop3s), serving the mailbox as it is now
#   srv_stop           stops it (every process), returns 1 if it cannot
#   srv_add FILE       puts a copy of FILE (a message, LF line ends) into
#                      the mailbox, the way mail arrives there
#   srv_strip          a filter: a fetched message without what the server
#                      itself adds (default: cat), described in SRV_STRIPPED
#   srv_auth_before M, srv_auth_after M   optional, around the check of
#                      login method M
# and sets SRV_AUTHS (the --auth methods the server offers), SRV_STLS and
# SRV_POP3S (1 if it has them), and optionally SRV_LOGIN_DELAY=1 with
# srv_login_delay (restarts it so that a login within minutes of the last
# gets [LOGIN-DELAY]) and SRV_DUPUID=1 with srv_dupuid FILE1 FILE2 (makes a
# fresh mailbox of FILE1, FILE2 and FILE1 again, where the two copies of
# FILE1, and FILE2 too where the server allows it, share one UID), and
# srv_extra (more checks, e.g. another configuration, at the end).
#
# A check that fails because of a known popfetch bug (issue 9) says so in
# its message ("popfetch bug: ..."); it passes once the bug is fixed.

# shellcheck disable=SC2086,SC2015,SC2034 # $FIRST $LATER are word lists; ok() never fails; adapters use IX_DIR, SLOG
set -u
srcdir=${srcdir:-.}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
# shellcheck source=tests/certs.sh
. "$srcdir/tests/certs.sh"
# shellcheck source=tests/interop/lib.sh
. "$srcdir/tests/interop/lib.sh"

me=t-$IX_SERVER
IX_DIR=${INTEROP_DIR:-$PWD/interop}
CL=$TESTDIR/client
SRC=$CL/src
PW=$CL/pw
BADPW=$CL/badpw
PASSWORD=Secret-pw7
SRV_USER=$IX_USER
SRV_PORT=
SRV_PORT_TLS=
SRV_AUTHS=user
SRV_STLS=
SRV_POP3S=
SRV_LOGIN_DELAY=
SRV_DUPUID=
SRV_VERSION=unknown
SLOG=$TESTDIR/server.log
DONE=

srv_strip() { cat; }

ix_cleanup() {
	rc=$?
	trap - EXIT HUP INT PIPE TERM
	srv_stop || { FAILED=$((FAILED + 1)); rc=1; }
	if [ -n "${POPFETCH_KEEP_TMP:-}" ]; then
		echo "# kept: $TESTDIR"
	else
		rm -rf "$TESTDIR"
	fi
	if [ -z "$DONE" ] && [ "$FAILED" -eq 0 ]; then
		FAILED=1
		echo "FAIL: $me stopped early (status $rc)"
	fi
	echo "$me: $PASSED passed, $FAILED failed"
	[ "$FAILED" -eq 0 ]
	exit $?
}
trap ix_cleanup EXIT
trap 'exit 1' HUP INT PIPE TERM

# shellcheck source=/dev/null
. "$srcdir/tests/interop/srv-$IX_SERVER.sh"

[ -x "$POPFETCH" ] || ix_die "client $POPFETCH not found (build it first, or set POPFETCH)"
mkdir -m 0700 "$CL" "$SRC" || exit 1
(umask 077 && printf '%s\n' "$PASSWORD" >"$PW" && printf 'Wrong-pw7\n' >"$BADPW") || exit 1
make_certs "$TESTDIR/certs" >/dev/null || ix_die "make_certs failed"
CA=$TESTDIR/certs/ca.pem
chmod 0755 "$TESTDIR/certs"
chmod 0644 "$TESTDIR/certs/server.key"   # read by the unprivileged server

# ---------------------------------------------------------------- messages
# LF line ends; no "From " at the start of a body line (mbox servers would
# quote it, each in its own way).  Every message has its own Message-ID and
# Date (some servers make the UID from the headers).

hdr() {  # hdr N SUBJECT
	printf 'From: Sender <sender@example.org>\nTo: %s@example.org\n' "$IX_USER"
	printf 'Subject: %s\nDate: Mon, 01 Jan 2024 10:00:%02d +0000\n' "$2" "$1"
	printf 'Message-ID: <ix%d.%s@example.org>\n' "$1" "$IX_SERVER"
}
{
	hdr 1 'leading dots and lone dots'
	printf '\n.one dot\n..two dots\n.\nafter a lone dot\n. dot space\n.end\n'
} >"$SRC/m1"
allhigh=
i=128
while [ "$i" -le 255 ]; do
	allhigh="$allhigh\\$(printf '%03o' "$i")"
	i=$((i + 1))
done
{
	hdr 2 'eight bits'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'Gr\303\274\303\237e \342\202\254 \346\227\245\346\234\254\n'
	# shellcheck disable=SC2059 # octal escapes for printf
	printf "high bytes: $allhigh\\n"
	printf 'tab:\t:end\n'
} >"$SRC/m2"
{
	hdr 3 'a 5000-byte line'
	printf '\n'
	awk 'BEGIN { s = ""; while (length(s) < 5000) s = s "0123456789abcdefghijklmnopqrstuvwxyz"; print substr(s, 1, 5000) }'
	printf 'after\n'
} >"$SRC/m3"
{
	hdr 4 'about 300 KB'
	printf '\n'
	LC_ALL=C awk 'BEGIN { for (i = 1; i <= 4500; i++) {
		if (i % 101 == 0) print "."
		else if (i % 97 == 0) printf(".line %05d starts with a dot\n", i)
		else printf("line %05d: the quick brown fox jumps over the lazy dog 0123456789\n", i) } }'
} >"$SRC/m4"
{
	hdr 5 'empty body'
	printf '\n'
} >"$SRC/m5"
{
	hdr 6 'new mail, first'
	printf '\nThe first of two that arrive later.\n'
} >"$SRC/m6"
{
	hdr 7 'new mail, second'
	printf '\nThe second of two that arrive later.\n..\n'
} >"$SRC/m7"
{
	hdr 8 'duplicate UID, copy A'
	printf '\nContent A.\n'
} >"$SRC/d1"
{
	hdr 8 'duplicate UID, other content'
	printf '\nContent B, different.\n'
} >"$SRC/d2"
FIRST="m1 m2 m3 m4 m5"
LATER="m6 m7"

# ---------------------------------------------------------------- helpers

# pf NAME STATE [OPTION...]: popfetch for the test user with state dir
# $CL/st-STATE; RC, $CL/NAME.out and $CL/NAME.err (also $TESTDIR/err).
pf() {
	_n=$1 _s=$2
	shift 2
	RC=0
	timeout 120 "$POPFETCH" --no-received --timeout 20 -u "$SRV_USER" --state-dir "$CL/st-$_s" \
		"$@" 127.0.0.1 </dev/null >"$CL/$_n.out" 2>"$CL/$_n.err" || RC=$?
	cp "$CL/$_n.err" "$TESTDIR/err"
	LAST=$_n
}

# pfp NAME STATE [OPTION...]: pf over plaintext with the right password and
# the first login method the server offers (the default method has checks
# of its own).
pfp() {
	_n=$1 _s=$2
	shift 2
	pf "$_n" "$_s" --no-tls -P "$SRV_PORT" --password-file "$PW" --auth "$SRV_MAIN_AUTH" "$@"
}

expect() {  # expect RC WHAT
	if [ "$RC" -eq "$1" ]; then
		ok "$2 (exit $RC)"
		return 0
	fi
	fail "$2: exit $RC, expected $1"
	return 1
}

# The commands popfetch sent in the last -vv run.
sent() {
	sed -n 's/^C: //p' "$CL/$LAST.err"
}

# match WHAT DIR NAME...: the files in DIR, each put through srv_strip, are
# exactly the messages $SRC/NAME..., each once.
match() {
	_what=$1 _dir=$2
	shift 2
	_want=$(for _m in "$@"; do cksum <"$SRC/$_m"; done | sort)
	_got=$(for _f in "$_dir"/*; do [ -f "$_f" ] && srv_strip <"$_f" | cksum; done | sort)
	if [ "$_want" = "$_got" ]; then
		ok "$_what: $# messages, byte-identical${SRV_STRIPPED:+ apart from $SRV_STRIPPED}"
		return 0
	fi
	_nf=$(count_files "$_dir")
	fail "$_what: $_nf files, expected $# messages ($*) byte-identical"
	for _f in "$_dir"/*; do
		[ -f "$_f" ] || continue
		_hit=
		for _m in "$@"; do
			[ "$(srv_strip <"$_f" | cksum)" = "$(cksum <"$SRC/$_m")" ] && _hit=$_m
		done
		[ -n "$_hit" ] || echo "#   $(wc -c <"$_f" | tr -d ' ') octets, matches no message: $(grep -m1 '^Subject:' "$_f")"
	done
	return 1
}

# mbox_split MBOX DIR: the messages of an mboxrd file, one a file, without
# the From_ line, the quoting and the blank line that ends each.
mbox_split() {
	rm -rf "$2"
	mkdir -p "$2"
	[ -f "$1" ] || return 0
	LC_ALL=C awk -v d="$2" '
		function out() { if (n) { if (buf != "") printf "%s", substr(buf, 1, length(buf) - 1) > (d "/" n); close(d "/" n) } }
		/^From / && (NR == 1 || prev == "") { out(); n++; buf = ""; prev = "x"; next }
		{ line = $0; if (line ~ /^>+From /) line = substr(line, 2); buf = buf line "\n"; prev = $0 }
		END { out() }' "$1"
}

# pop_dialog CMD...: a POP3 session with the server over socat, independent
# of popfetch, one command at a time (popa3d, for one, drops what arrives
# before it answers PASS); the replies (multi-line ones whole) on stdout.
cat >"$CL/dialog.sh" <<'EOF2'
cr=$(printf '\r')
IFS= read -r l || exit 0
set -f
IFS='
'
for c in $DIALOG; do
	printf '%s\r\n' "$c"
	IFS= read -r l || exit 0
	l=${l%$cr}
	printf '%s\n' "$l" >&2
	case $c:$l in
	UIDL:+*|LIST:+*|CAPA:+*|TOP*:+*|RETR*:+*)
		while IFS= read -r l; do
			l=${l%$cr}
			[ "$l" = . ] && break
			printf '%s\n' "$l" >&2
		done ;;
	esac
done
EOF2
pop_dialog() {
	DIALOG=$(printf '%s\n' "$@")
	export DIALOG
	# shellcheck disable=SC2069 # the replies (stderr) are the output
	timeout 20 socat -t 5 "TCP:127.0.0.1:$SRV_PORT" "EXEC:sh $CL/dialog.sh" 2>&1 >/dev/null
}

# stat_count: the number of messages the server lists (STAT after
# USER/PASS), or "?".
stat_count() {
	pop_dialog "USER $SRV_USER" "PASS $PASSWORD" STAT QUIT |
		awk '/^\+OK [0-9]+ [0-9]+/ { n = $2 } END { print (n == "" ? "?" : n) }'
}

# ---------------------------------------------------------------- the matrix

srv_init
SRV_MAIN_AUTH=${SRV_AUTHS%% *}
for m in $FIRST; do srv_add "$SRC/$m" || ix_die "cannot add $m to the mailbox"; done
srv_start || ix_die "cannot start $IX_SERVER"
ok "$IX_SERVER $SRV_VERSION on 127.0.0.1:$SRV_PORT${SRV_PORT_TLS:+ (pop3s $SRV_PORT_TLS)}; offers: $SRV_AUTHS${SRV_STLS:+ stls}${SRV_POP3S:+ pop3s}"
n=$(stat_count)
[ "$n" = 5 ] || ix_die "setup: the server lists $n messages, expected 5"

# --server-info
if [ -n "$SRV_STLS" ]; then
	pf info info --server-info -P "$SRV_PORT" --tls-trust-file "$CA" --password-file "$PW"
else
	pf info info --server-info --no-tls -P "$SRV_PORT" --password-file "$PW"
fi
if expect 0 "server-info"; then
	if grep -qi 'greeting' "$CL/info.out" && [ "$(wc -l <"$CL/info.out")" -ge 2 ]; then
		ok "server-info: $(tr '\n' '|' <"$CL/info.out" | cut -c1-200)"
	else
		fail "server-info: no greeting shown: $(tr '\n' '|' <"$CL/info.out")"
	fi
fi

# A wrong password: 77, with and without --auth, and -v invents no count.
pf badpw-default badpw -v --no-tls -P "$SRV_PORT" --password-file "$BADPW" --maildir "$CL/md-badpw"
expect 77 "wrong password, default login method" ||
	echo "#   popfetch bug if the right password works: a failed login must be 77 (EX_NOPERM), not $RC"
pf badpw-user badpw -v --no-tls -P "$SRV_PORT" --password-file "$BADPW" --auth user --maildir "$CL/md-badpw"
expect 77 "wrong password, --auth user"
if grep -q ' 0 on the server' "$CL/badpw-user.out" "$CL/badpw-default.out"; then
	fail "wrong password: the -v summary says \"0 on the server\" without having seen the mailbox (popfetch bug): $(cat "$CL/badpw-user.out")"
else
	ok "wrong password: the -v summary does not invent a message count"
fi

# The default login method, right password.
pf default default -vv --no-tls -P "$SRV_PORT" --password-file "$PW" --check
if expect 0 "default login method with the right password (--check: 5 new)"; then
	ok "default login used: $(sent | grep -E '^(USER|APOP|AUTH)' | tr '\n' ' ')"
else
	echo "#   popfetch bug (issue 9): the login commands were: $(sent | grep -E '^(USER|APOP|AUTH|PASS)' | tr '\n' ' ')"
	sed -n 's/^S: /#   S: /p' "$CL/default.err" | grep -v '^#   S: [0-9]' | tail -n 6
fi

# Every login method the server offers.
for a in $SRV_AUTHS; do
	command -v srv_auth_before >/dev/null 2>&1 && srv_auth_before "$a"
	pf "auth-$a" "auth-$a" --no-tls -P "$SRV_PORT" --password-file "$PW" --auth "$a" --check
	expect 0 "--auth $a: login and --check (5 new)"
	command -v srv_auth_after >/dev/null 2>&1 && srv_auth_after "$a"
done

# Fetch all into a Maildir.
MD=$CL/Maildir
pfp fetch1 main --maildir "$MD"
expect 0 "fetch all into a Maildir"
match "fetch all" "$MD/new" $FIRST
n=$(stat_count)
[ "$n" = 5 ] && ok "fetch all: the 5 messages stay on the server (keep)" ||
	fail "fetch all: the server lists $n messages, expected 5"

# Fetch again: nothing.
pfp fetch2 main -vv --maildir "$MD"
expect 0 "fetch again"
if [ "$(count_files "$MD/new")" -eq 5 ] && ! sent | grep -q '^RETR'; then
	ok "fetch again: nothing new, no RETR"
else
	fail "fetch again: $(count_files "$MD/new") files (expected 5), RETR sent: $(sent | grep -c '^RETR'), TOP sent: $(sent | grep -c '^TOP') (popfetch bug if the server rewrote the messages' status headers: mail fetched again, issue 9)"
fi

# --check: 1 without new mail.
pfp check1 main --check
expect 1 "--check without new mail"

# New mail arrives: --check says so, then only it is fetched.
for m in $LATER; do srv_add "$SRC/$m" || ix_die "cannot add $m"; done
pfp check2 main --check
expect 0 "--check with 2 new messages"
grep -q ' 2 new messages' "$CL/check2.out" && ok "--check counts 2 new: $(cat "$CL/check2.out")" ||
	fail "--check output: $(cat "$CL/check2.out"), expected 2 new"
pfp fetch3 main -vv --maildir "$MD"
expect 0 "fetch after new mail"
nretr=$(sent | grep -c '^RETR')
if [ "$nretr" -eq 2 ]; then
	ok "new mail: only the 2 new messages were retrieved"
else
	fail "new mail: $nretr RETR commands, expected 2 (popfetch bug if > 2: old mail fetched again, see issue 9)"
fi
match "new mail: the Maildir" "$MD/new" $FIRST $LATER
if grep -q '^TOP' "$CL/fetch3.err" || sent | grep -q '^TOP'; then
	echo "# note: popfetch sent $(sent | grep -c '^TOP') TOP command(s) in that session"
fi

# mbox delivery (a fresh state: all 7).
pfp mbox mbox --mbox "$CL/mbox"
expect 0 "fetch all into an mbox"
mbox_split "$CL/mbox" "$CL/mbox-split"
# shellcheck disable=SC2086
match "mbox delivery" "$CL/mbox-split" $FIRST $LATER

# TLS.
if [ -n "$SRV_STLS" ]; then
	pf stls stls -vv --tls=starttls -P "$SRV_PORT" --tls-trust-file "$CA" --password-file "$PW" --auth "$SRV_MAIN_AUTH" --maildir "$CL/md-stls"
	expect 0 "STLS"
	sent | grep -q '^STLS' && ok "STLS: the session used STLS" || fail "STLS: no STLS command in the trace"
	match "STLS" "$CL/md-stls/new" $FIRST $LATER
fi
if [ -n "$SRV_POP3S" ]; then
	pf pop3s pop3s --tls=implicit -P "$SRV_PORT_TLS" --tls-trust-file "$CA" --password-file "$PW" --auth "$SRV_MAIN_AUTH" --maildir "$CL/md-pop3s"
	expect 0 "implicit TLS (pop3s)"
	match "pop3s" "$CL/md-pop3s/new" $FIRST $LATER
fi

# --delete: the mailbox is empty afterwards, and each message is here.
pfp delete main -vv --maildir "$MD" --delete
expect 0 "--delete"
n=$(stat_count)
[ "$n" = 0 ] && ok "--delete: the server lists no message afterwards" ||
	fail "--delete: the server still lists $n messages"
ndele=$(sent | grep -c '^DELE')
[ "$ndele" -eq 7 ] && ok "--delete: 7 DELE commands" || fail "--delete: $ndele DELE commands, expected 7"
match "--delete: the Maildir" "$MD/new" $FIRST $LATER

# [LOGIN-DELAY]: a login too soon after the last one.
if [ -n "$SRV_LOGIN_DELAY" ]; then
	srv_login_delay || ix_die "cannot restart $IX_SERVER for LOGIN-DELAY"
	# One more login now; the next one is within the delay.
	stat_count >/dev/null
	pfp delay2 delay --check
	if [ "$RC" -eq 75 ] && grep -qi 'LOGIN-DELAY' "$CL/delay2.err"; then
		ok "[LOGIN-DELAY]: a login within the delay is 75, try later: $(grep -i -m1 'LOGIN-DELAY' "$CL/delay2.err")"
	else
		fail "[LOGIN-DELAY]: exit $RC, expected 75 with the server's reason"
	fi
fi

# Duplicate UIDs: d1, d2 and a second copy of d1 under one UID.
if [ -n "$SRV_DUPUID" ]; then
	srv_dupuid "$SRC/d1" "$SRC/d2" || ix_die "cannot set up duplicate UIDs"
	pfp dup1 dup -vv --maildir "$CL/md-dup"
	expect 0 "duplicate UIDs: fetch"
	echo "# UIDL: $(pop_dialog "USER $SRV_USER" "PASS $PASSWORD" UIDL QUIT | grep '^[0-9]' | tr '\n' ' ')"
	match "duplicate UIDs: each content once" "$CL/md-dup/new" d1 d2
	pfp dup2 dup --maildir "$CL/md-dup"
	expect 0 "duplicate UIDs: fetch again"
	[ "$(count_files "$CL/md-dup/new")" -eq 2 ] && ok "duplicate UIDs: nothing new the second time" ||
		fail "duplicate UIDs: $(count_files "$CL/md-dup/new") files after the second run, expected 2"
fi

# Whatever else the adapter checks (another configuration).
command -v srv_extra >/dev/null 2>&1 && srv_extra

DONE=1
