#!/bin/bash
# SPDX-License-Identifier: ISC
# Self-test of tests/testpop3d: the client tests are only as good as the
# server they run against, so its protocol and quirks are pinned down here,
# talking to it with nothing but bash's /dev/tcp (port mode) or a pipe
# (--stdio). Every line the server must send is one check.

set -u
: "${srcdir:=$(dirname "$0")/..}"
: "${TESTPOP3D:=tests/testpop3d}"
export TESTPOP3D
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh" || exit 1
on_exit 'exec 3<&- 2>/dev/null'

current=setup
# good WHAT, bad WHAT: one check of the current section passed, failed.
good() { ok "[$current] $*"; }
bad() { fail "[$current] $*"; }
# verify WHAT COMMAND...: passes when COMMAND succeeds; refute: when not.
verify() {
	local what=$1
	shift
	if "$@"; then good "$what"; else bad "$what"; fi
}
refute() {
	local what=$1
	shift
	if "$@"; then bad "$what"; else good "$what"; fi
}
# same_log: the server log is exactly $TESTDIR/expected.log.
same_log() {
	if cmp -s "$TESTDIR/expected.log" "$TESTDIR/log"; then
		good "the log${1:+ ($1)}"
	else
		bad "the log differs${1:+ ($1)}: $(diff "$TESTDIR/expected.log" "$TESTDIR/log")"
	fi
}

connect() { exec 3<>"/dev/tcp/127.0.0.1/$PORT"; }
disconnect() { exec 3<&-; }
send() { printf '%s\r\n' "$1" >&3; }

# expect LINE: the next line from the server must be exactly LINE + CRLF.
expect() {
	local got
	if ! IFS= read -r -t 5 got <&3; then
		bad "expected $(printf %q "$1"), got EOF or timeout"
		return 1
	fi
	if [ "$got" != "$1"$'\r' ]; then
		bad "expected $(printf %q "$1\r"), got $(printf %q "$got")"
		return 1
	fi
	local q
	printf -v q %q "$1"
	good "$q"
}

# cmd COMMAND REPLY: send one command, expect one reply line.
cmd() {
	send "$1"
	expect "$2"
}

login_user() {
	connect
	expect "+OK testpop3d ready"
	cmd "USER test" "+OK"
}

login() {
	login_user
	cmd "PASS secret" "+OK"
}

# slurp_is FORMAT: everything the server sends until it closes the
# connection must equal printf FORMAT, byte for byte.
slurp_is() {
	# shellcheck disable=SC2059 # the escapes in FORMAT are the point
	printf "$1" >"$TESTDIR/expected"
	if ! timeout 5 cat <&3 >"$TESTDIR/got"; then
		bad "connection not closed by the server"
	elif ! cmp -s "$TESTDIR/expected" "$TESTDIR/got"; then
		bad "wrong bytes: expected $(od -c "$TESTDIR/expected" | head -20) got $(od -c "$TESTDIR/got" | head -20)"
	else
		good "exactly these bytes until the server closed: $(printf %q "$1")"
	fi
	disconnect
}

# expect_silence: nothing more arrives within 0.3 s, and no EOF either.
expect_silence() {
	local got
	if IFS= read -r -t 0.3 got <&3; then
		bad "expected silence, got $(printf %q "$got")"
	elif [ $? -le 128 ]; then
		bad "expected silence, got EOF"
	else
		good "silence"
	fi
}

restart() {
	server_stop
	server_start "$@" "$MD" || bail "[$current] server_start $*"
}

make_maildrop() {
	rm -rf "$MD"
	mkdir -p "$MD/subdir"
	printf 'Subject: one\n\nhello\n.dot line\n..two dots\n.\nend' >"$MD/a"
	printf 'Subject: two\r\n\r\ncrlf\r\nmixed\n' >"$MD/b"
	printf 'X: \0\377\n\nbin\n' >"$MD/c"
	printf 'not a message\n' >"$MD/.hidden"
	printf 'a\tuid a/1\nb\tdup\nc\tdup\nc\tignored, first line wins\n' >"$MD/.uidl"
}

MD=$TESTDIR/maildrop
make_maildrop
# Octet counts of the messages with CRLF line endings.
SA=$(printf 'Subject: one\r\n\r\nhello\r\n.dot line\r\n..two dots\r\n.\r\nend\r\n' | wc -c)
SB=$(printf 'Subject: two\r\n\r\ncrlf\r\nmixed\r\n' | wc -c)
SC=$(printf 'X: \0\377\r\n\r\nbin\r\n' | wc -c)

# Listings too long for one piece: sent while being built, with the
# faults that cut them short still meeting them at the right byte.
EMPTY=$TESTDIR/empty
mkdir -p "$EMPTY"
restart_empty() {
	server_stop
	server_start "$@" "$EMPTY" || bail "[$current] server_start $*"
}
# listing N: the full multi-line UIDL reply for N synthetic messages.
listing() {
	printf '+OK\r\n'
	awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++) printf "%d syn-%d\r\n", i, i }'
	printf '.\r\n'
}
PRELUDE=$'+OK testpop3d ready\r\n+OK\r\n+OK\r\n'
# TESTPOP3D_PART=big (t-testpop3d-big.sh, make check-slow): only a listing
# of a million messages.
if [ "${TESTPOP3D_PART:-main}" = big ]; then
current="--synthetic 1000000: UIDL"
syn_size() { printf 'Subject: synthetic %s\r\n\r\nbody of synthetic message %s\r\n' "$1" "$1" | wc -c; }
restart_empty --synthetic 1000000
listing 1000000 >"$TESTDIR/expected"
connect
expect "+OK testpop3d ready"
cmd "USER test" "+OK"
cmd "PASS secret" "+OK"
start=$(date +%s)
send UIDL
# bash reads a socket a byte at a time: let sed read the listing.
timeout 20 sed '/^\.\r$/q' <&3 >"$TESTDIR/got"
elapsed=$(($(date +%s) - start))
verify "the listing of 1000000 UIDs" cmp "$TESTDIR/expected" "$TESTDIR/got"
# Generous, since tests may run on a loaded machine: ~1 s is usual.
verify "UIDL of 1000000 messages within 10 s ($elapsed s)" [ "$elapsed" -le 10 ]
cmd "DELE 1000000" "+OK"
total=$(awk -v n=999999 'BEGIN { for (i = 1; i <= n; i++)
	s += length(sprintf("Subject: synthetic %d\r\n\r\nbody of synthetic message %d\r\n", i, i))
	print s }')
cmd STAT "+OK 999999 $total"
if [ -r "/proc/$SERVER_PID/status" ]; then
	hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SERVER_PID/status")
	verify "server peak RSS under 100000 kB ($hwm kB)" [ "${hwm:-0}" -lt 100000 ]
fi
cmd QUIT "+OK"
disconnect

finish
fi

current="basic session"
server_start --log "$TESTDIR/log" "$MD" || bail "server_start"
connect
expect "+OK testpop3d ready"
send CAPA
for l in +OK TOP UIDL USER RESP-CODES PIPELINING .; do expect "$l"; done
cmd STAT "-ERR command not valid in this state"
cmd "PASS secret" "-ERR USER first"
cmd "USER test" "+OK"
cmd "PASS secret" "+OK"
cmd "USER test" "-ERR command not valid in this state"
cmd STAT "+OK 3 $((SA + SB + SC))"
send LIST
for l in +OK "1 $SA" "2 $SB" "3 $SC" .; do expect "$l"; done
send UIDL
for l in +OK "1 uid a/1" "2 dup" "3 dup" .; do expect "$l"; done
cmd "list 2" "+OK 2 $SB"
cmd "UIDL 1" "+OK 1 uid a/1"
cmd "LIST 4" "-ERR no such message"
cmd "LIST 0" "-ERR no such message"
cmd "LIST  1" "-ERR syntax error"
cmd "STAT " "-ERR syntax error"
cmd "RETR" "-ERR syntax error"
cmd "XYZZY" "-ERR unknown command"
send "TOP 1 0"
for l in +OK "Subject: one" "" .; do expect "$l"; done
send "TOP 1 2"
for l in +OK "Subject: one" "" hello "..dot line" .; do expect "$l"; done
cmd "DELE 2" "+OK"
cmd "RETR 2" "-ERR message is deleted"
cmd "DELE 2" "-ERR message is deleted"
cmd STAT "+OK 2 $((SA + SC))"
cmd RSET "+OK"
cmd STAT "+OK 3 $((SA + SB + SC))"
cmd NOOP "+OK"
cmd "DELE 1" "+OK"
send "RETR 1"
expect "-ERR message is deleted"
cmd RSET "+OK"
# Pipelined, read back raw: dot-stuffing, CRLF and the added final CRLF.
send "RETR 1"
send "DELE 1"
send QUIT
slurp_is '+OK\r\nSubject: one\r\n\r\nhello\r\n..dot line\r\n...two dots\r\n..\r\nend\r\n.\r\n+OK\r\n+OK\r\n'
refute "QUIT deleted the file of message 1" [ -e "$MD/a" ]
verify "QUIT kept the file of message 2, not deleted" [ -e "$MD/b" ]

current="binary, CRLF and mixed line endings"
connect
printf 'USER test\r\nPASS secret\r\nRETR 1\r\nRETR 2\r\nQUIT\r\n' >&3
slurp_is '+OK testpop3d ready\r\n+OK\r\n+OK\r\n+OK\r\nSubject: two\r\n\r\ncrlf\r\nmixed\r\n.\r\n+OK\r\nX: \0\377\r\n\r\nbin\r\n.\r\n+OK\r\n'

current="bad logins"
connect
expect "+OK testpop3d ready"
cmd "USER test" "+OK"
cmd "PASS wrong" "-ERR [AUTH] invalid login"
cmd "PASS secret" "-ERR USER first"
cmd "USER nobody" "+OK"
cmd "PASS secret" "-ERR [AUTH] invalid login"
cmd "USER test" "+OK"
cmd "PASS secret " "-ERR [AUTH] invalid login"
cmd QUIT "+OK"
disconnect

current="a dropped connection deletes nothing"
login
cmd "DELE 1" "+OK"
cmd "DELE 2" "+OK"
disconnect
login
cmd STAT "+OK 2 $((SB + SC))"
cmd QUIT "+OK"
disconnect

current="command length limit"
long=$(printf '%01019d' 0)
connect
expect "+OK testpop3d ready"
cmd "USER test" "+OK"
cmd "PASS $long" "-ERR [AUTH] invalid login"
cmd "NOOP $(printf '%05000d' 0)" "-ERR line too long"
cmd "USER test" "+OK"
cmd "PASS secret" "+OK"
cmd QUIT "+OK"
disconnect

current="log"
printf -- '-- session %s\n' 1 >"$TESTDIR/expected.log"
printf '%s\n' CAPA STAT "PASS secret" "USER test" "PASS secret" "USER test" STAT LIST UIDL \
	"list 2" "UIDL 1" "LIST 4" "LIST 0" "LIST  1" "STAT " RETR XYZZY "TOP 1 0" "TOP 1 2" \
	"DELE 2" "RETR 2" "DELE 2" STAT RSET STAT NOOP "DELE 1" "RETR 1" RSET "RETR 1" \
	"DELE 1" QUIT "-- session 2" "USER test" "PASS secret" "RETR 1" "RETR 2" QUIT \
	"-- session 3" "USER test" "PASS wrong" "PASS secret" "USER nobody" "PASS secret" \
	"USER test" "PASS secret " QUIT "-- session 4" "USER test" "PASS secret" "DELE 1" \
	"DELE 2" "-- session 5" "USER test" "PASS secret" STAT QUIT "-- session 6" "USER test" \
	"PASS $long" "-- overlong line discarded" "USER test" "PASS secret" QUIT \
	>>"$TESTDIR/expected.log"
same_log

current="--user, --pass with spaces, --max-sessions"
rm -f "$TESTDIR/log"
restart --user "u 1" --pass "p  w d" --max-sessions 1 --log "$TESTDIR/log"
connect
expect "+OK testpop3d ready"
cmd "USER u 1" "+OK"
cmd "PASS p  w d" "+OK"
cmd QUIT "+OK"
disconnect
# The server exits by itself: wait for it (the suite's time limit bounds
# this should it not).
rc=0
wait "$SERVER_PID" || rc=$?
SERVER_PID=
verify "the server exited with status 0 after --max-sessions 1 (status $rc)" [ "$rc" = 0 ]
printf '%s\n' "-- session 1" "USER u 1" "PASS p  w d" QUIT >"$TESTDIR/expected.log"
same_log

current="--lowercase --extra-text"
restart --lowercase --extra-text
connect
expect "+ok testpop3d ready"
cmd "USER test" "+ok send PASS"
cmd "PASS secret" "+ok logged in"
cmd STAT "+ok 2 $((SB + SC)) messages"
cmd "LIST 1" "+ok 1 $SB extra"
cmd "UIDL 2" "+ok 2 dup extra"
send LIST
for l in "+ok 2 messages ($((SB + SC)) octets)" "1 $SB extra" "2 $SC extra" .; do expect "$l"; done
cmd "LIST 3" "-err no such message"
cmd QUIT "+ok bye (0 messages deleted)"
disconnect

current="--bare-plus --tabs"
restart --bare-plus --tabs
connect
expect $'+\t'
cmd "USER test" $'+\t'
cmd "PASS secret" $'+\t'
cmd STAT $'+\t2 \t  '"$((SB + SC))"
send UIDL
for l in $'+\t' $'1\t\tdup' $'2  \t dup' .; do expect "$l"; done
cmd "QUIT now" "-ERR syntax error"
cmd NOOP $'+\t'
cmd QUIT $'+\t'
disconnect

current="--bare-plus"
restart --bare-plus
connect
expect "+"
cmd "USER test" "+"
cmd "PASS secret" "+"
cmd "LIST 1" "+ 1 $SB"
cmd QUIT "+"
disconnect

current="--bare-lf --fake-sizes --no-uidl --no-top"
restart --bare-lf --fake-sizes --no-uidl --no-top
connect
printf 'CAPA\r\nUSER test\r\nPASS secret\r\nUIDL\r\nTOP 1 1\r\nLIST\r\nRETR 1\r\nQUIT\r\n' >&3
slurp_is "+OK testpop3d ready\n+OK\nUSER\nRESP-CODES\nPIPELINING\n.\n+OK\n+OK\n-ERR command not supported\n-ERR command not supported\n+OK\n1 $((SB * 3 / 2 + 1000))\n2 $((SC * 3 / 2 + 1000))\n.\n+OK\nSubject: two\n\ncrlf\nmixed\n.\n+OK\n"

current="--no-capa --greeting --trickle"
restart --no-capa --greeting "hello there" --trickle 2
connect
expect "+OK hello there"
cmd CAPA "-ERR command not supported"
cmd QUIT "+OK"
disconnect

current="--auth-fail-temp / --in-use"
restart --auth-fail-temp
login_user
cmd "PASS secret" "-ERR [SYS/TEMP] try later"
disconnect
restart --in-use
login_user
cmd "PASS secret" "-ERR [IN-USE] mailbox locked"
disconnect

current="--drop-after"
restart --drop-after RETR:2:10
login
send "RETR 2"
send "RETR 1"
slurp_is "+OK\r\nX: \0\377\r\n\r\nbin\r\n.\r\n+OK\r\nSubje"

current="--no-terminator and --session-filter"
restart --no-terminator LIST:1 --session-filter 2
login
send LIST
for l in +OK "1 $SB" "2 $SC" .; do expect "$l"; done
cmd QUIT "+OK"
disconnect
login
cmd "LIST 1" "+OK 1 $SB"
send LIST
slurp_is "+OK\r\n1 $SB\r\n2 $SC\r\n"

current="--autologout"
restart --autologout UIDL:1:9
login
send UIDL
slurp_is '+OK\r\n1 du\r\n-ERR autologout; idle for too long\r\n'

current="--hang-after"
restart --hang-after GREETING:1:3
connect
if IFS= read -r -n 3 -t 5 got <&3 && [ "$got" = "+OK" ]; then
	good "3 bytes of greeting"
else
	bad "expected 3 bytes of greeting"
fi
send NOOP
expect_silence
pid=$SERVER_PID
server_stop
refute "server_stop ends a hanging server" kill -0 "$pid" 2>/dev/null
disconnect

current="--hang-after: the hang ends when the client hangs up"
restart --hang-after STAT:1:0 --session-filter 1
login
send STAT
expect_silence
disconnect
login
cmd STAT "+OK 2 $((SB + SC))"
cmd QUIT "+OK"
disconnect

current="--no-greeting"
restart --no-greeting --max-sessions 2
connect
expect_silence
disconnect
connect
expect_silence
disconnect

current="--synthetic"
# Octet counts of synthetic messages with CRLF line endings.
syn_size() { printf 'Subject: synthetic %s\r\n\r\nbody of synthetic message %s\r\n' "$1" "$1" | wc -c; }
S1=$(syn_size 1) S2=$(syn_size 2) S3=$(syn_size 3)
restart --synthetic 3
login
cmd STAT "+OK 5 $((SB + SC + S1 + S2 + S3))"
send LIST
for l in +OK "1 $SB" "2 $SC" "3 $S1" "4 $S2" "5 $S3" .; do expect "$l"; done
send UIDL
for l in +OK "1 dup" "2 dup" "3 syn-1" "4 syn-2" "5 syn-3" .; do expect "$l"; done
cmd "UIDL 5" "+OK 5 syn-3"
cmd "LIST 6" "-ERR no such message"
cmd "RETR 6" "-ERR no such message"
send "TOP 4 0"
for l in +OK "Subject: synthetic 2" "" .; do expect "$l"; done
cmd "DELE 4" "+OK"
cmd "RETR 4" "-ERR message is deleted"
cmd STAT "+OK 4 $((SB + SC + S1 + S3))"
send UIDL
for l in +OK "1 dup" "2 dup" "3 syn-1" "5 syn-3" .; do expect "$l"; done
cmd RSET "+OK"
cmd STAT "+OK 5 $((SB + SC + S1 + S2 + S3))"
cmd "DELE 5" "+OK"
cmd "DELE 3" "+OK"
# Raw: the size LIST gave is what RETR sends.
send "RETR 4"
send QUIT
slurp_is "+OK\r\nSubject: synthetic 2\r\n\r\nbody of synthetic message 2\r\n.\r\n+OK\r\n"
verify "the size of synthetic message 2" \
	[ "$S2" = "$(printf 'Subject: synthetic 2\r\n\r\nbody of synthetic message 2\r\n' | wc -c)" ]
login
cmd STAT "+OK 5 $((SB + SC + S1 + S2 + S3))"
cmd QUIT "+OK"
disconnect
verify "QUIT after synthetic deletions removed no file" test -e "$MD/b" -a -e "$MD/c"

current="--synthetic 10000000"
restart --synthetic 10000000
login
cmd "LIST 10000002" "+OK 10000002 $(syn_size 10000000)"
cmd "UIDL 10000002" "+OK 10000002 syn-10000000"
cmd "LIST 10000003" "-ERR no such message"
send "RETR 10000002"
for l in +OK "Subject: synthetic 10000000" "" "body of synthetic message 10000000" .; do expect "$l"; done
cmd QUIT "+OK"
disconnect

# uidl_raw: everything after login until the server closes, in "$TESTDIR/got".
uidl_raw() {
	connect
	printf 'USER test\r\nPASS secret\r\nUIDL\r\n' >&3
	rc=0
	timeout 20 cat <&3 >"$TESTDIR/raw" || rc=$?
	verify "the server closed the connection" [ "$rc" -eq 0 ]
	disconnect
	printf %s "$PRELUDE" >"$TESTDIR/prelude"
	verify "greeting and login replies" \
		cmp -s -n "$(wc -c <"$TESTDIR/prelude")" "$TESTDIR/prelude" "$TESTDIR/raw"
	tail -c +"$(($(wc -c <"$TESTDIR/prelude") + 1))" "$TESTDIR/raw" >"$TESTDIR/got"
}

current="--stray"
restart --stray STAT:2 --stray UIDL:1 --stray GREETING:1 --session-filter 2
login
cmd STAT "+OK 2 $((SB + SC))"
cmd STAT "+OK 2 $((SB + SC))"
send UIDL
for l in +OK "1 dup" "2 dup" .; do expect "$l"; done
cmd NOOP "+OK"
cmd QUIT "+OK"
disconnect
connect
printf 'USER test\r\nPASS secret\r\nSTAT\r\nSTAT\r\nUIDL\r\nQUIT\r\n' >&3
slurp_is "+OK testpop3d ready\r\n+OK stray reply\r\n+OK\r\n+OK\r\n+OK 2 $((SB + SC))\r\n+OK 2 $((SB + SC))\r\n+OK stray reply\r\n+OK\r\n1 dup\r\n2 dup\r\n.\r\n+OK stray reply\r\n+OK\r\n"

current="--stray after a listing sent in pieces"
restart_empty --synthetic 100000 --stray UIDL:1
{ listing 100000; printf '+OK stray reply\r\n'; } >"$TESTDIR/expected"
connect
printf 'USER test\r\nPASS secret\r\nUIDL\r\nQUIT\r\n' >&3
{ printf %s "$PRELUDE"; cat "$TESTDIR/expected"; printf '+OK\r\n'; } >"$TESTDIR/expected.all"
rc=0
timeout 20 cat <&3 >"$TESTDIR/raw" || rc=$?
verify "the server closed the connection" [ "$rc" -eq 0 ]
disconnect
verify "exactly the listing and the stray reply" cmp "$TESTDIR/expected.all" "$TESTDIR/raw"

current="faults in a listing sent in pieces"
listing 100000 >"$TESTDIR/full"
for fault in "--drop-after UIDL:1:200000" "--autologout UIDL:1:150001" \
	"--drop-after UIDL:1:65536" "--no-terminator UIDL:1"; do
	# shellcheck disable=SC2086 # split the option from its argument
	restart_empty --synthetic 100000 $fault
	case $fault in
	--no-terminator*) head -c -3 "$TESTDIR/full" >"$TESTDIR/expected" ;;
	*) head -c "${fault##*:}" "$TESTDIR/full" >"$TESTDIR/expected" ;;
	esac
	[ "${fault%% *}" = --autologout ] &&
		printf '\r\n-ERR autologout; idle for too long\r\n' >>"$TESTDIR/expected"
	uidl_raw
	verify "$fault: exactly the bytes before the fault ($(wc -c <"$TESTDIR/got") bytes)" \
		cmp "$TESTDIR/expected" "$TESTDIR/got"
done

current="--stat-count"
restart --stat-count 7
login
cmd STAT "+OK 7 $((SB + SC))"
send LIST
for l in +OK "1 $SB" "2 $SC" .; do expect "$l"; done
cmd "DELE 1" "+OK"
cmd STAT "+OK 7 $SC"
cmd RSET "+OK"
cmd QUIT "+OK"
disconnect
restart --stat-count 0
login
cmd STAT "+OK 0 $((SB + SC))"
cmd QUIT "+OK"
disconnect

current="--list-skip"
restart --list-skip 1
login
send LIST
for l in +OK "2 $SC" .; do expect "$l"; done
cmd "LIST 1" "+OK 1 $SB"
send UIDL
for l in +OK "1 dup" "2 dup" .; do expect "$l"; done
cmd QUIT "+OK"
disconnect

current="--uidl-extra"
restart --uidl-extra
login
send UIDL
for l in +OK "1 dup" "2 dup" "3 ghost" .; do expect "$l"; done
cmd "UIDL 3" "-ERR no such message"
cmd "RETR 3" "-ERR no such message"
cmd "TOP 3 0" "-ERR no such message"
cmd "DELE 3" "-ERR no such message"
send LIST
for l in +OK "1 $SB" "2 $SC" .; do expect "$l"; done
cmd "DELE 2" "+OK"
send UIDL
for l in +OK "1 dup" "3 ghost" .; do expect "$l"; done
cmd RSET "+OK"
cmd QUIT "+OK"
disconnect
restart --uidl-extra --synthetic 2 --extra-text --tabs
connect
expect $'+OK\ttestpop3d ready'
cmd "USER test" $'+OK\tsend PASS'
cmd "PASS secret" $'+OK\tlogged in'
send UIDL
for l in $'+OK\t4 messages ('"$((SB + SC + S1 + S2))"' octets)' $'1 \t  dup extra' \
	$'2\t\tdup extra' $'3  \t syn-1 extra' $'4\t syn-2 extra' $'5   ghost extra' .; do
	expect "$l"
done
cmd "RETR 5" "-ERR no such message"
cmd "DELE 3" $'+OK\tmessage 3 deleted'
cmd QUIT $'+OK\tbye (1 messages deleted)'
disconnect

# ---- SASL AUTH and APOP, over plaintext: only the protocol matters here.

# getline: the next line from the server, CR stripped, into $got.
getline() {
	if ! IFS= read -r -t 5 got <&3; then
		bad "expected a line, got EOF or timeout"
		got=
		return 1
	fi
	got=${got%$'\r'}
}
b64() { printf '%s' "$1" | base64 -w0; }
# b64f FORMAT: the base64 of printf FORMAT (for NULs and ^As).
# shellcheck disable=SC2059
b64f() { printf "$1" | base64 -w0; }
unb64() { printf '%s' "$1" | base64 -d; }
# challenge: the next line must be a continuation "+ B64"; its decoded
# text goes to $chal.
challenge() {
	getline || return 1
	case $got in
	"+ "*) chal=$(unb64 "${got#+ }") ;;
	*) bad "expected a continuation, got $(printf %q "$got")"; chal=; return 1 ;;
	esac
}

current="--sasl, --sasl-lie, --no-user: CAPA and refusals"
rm -f "$TESTDIR/log"
restart --sasl "PLAIN LOGIN" --sasl-lie "SCRAM-SHA-256 GSSAPI LOGIN" --no-user --log "$TESTDIR/log"
connect
expect "+OK testpop3d ready"
send CAPA
for l in +OK TOP UIDL RESP-CODES PIPELINING "SASL PLAIN LOGIN SCRAM-SHA-256 GSSAPI" .; do expect "$l"; done
cmd "USER test" "-ERR USER/PASS not allowed, use AUTH"
cmd "PASS secret" "-ERR USER/PASS not allowed, use AUTH"
cmd "AUTH SCRAM-SHA-256" "-ERR mechanism not available"
cmd "AUTH GSSAPI" "-ERR mechanism not available"
cmd "AUTH LOGIN" "-ERR mechanism not available"
cmd "AUTH CRAM-MD5" "-ERR unsupported mechanism"
cmd "AUTH" "-ERR syntax error"
cmd "AUTH PLAIN a b" "-ERR syntax error"
cmd "APOP test 0123" "-ERR command not supported"
cmd "STLS" "-ERR command not supported"
# PLAIN: two-step, cancelled, malformed, wrong, then right in one line.
cmd "AUTH PLAIN" "+ "
cmd "*" "-ERR authentication cancelled"
cmd "AUTH PLAIN" "+ "
cmd "not base64!" "-ERR malformed SASL response"
cmd "AUTH PLAIN AHRlc3Q=" "-ERR malformed SASL response"
cmd "AUTH PLAIN =" "-ERR malformed SASL response"
cmd "AUTH PLAIN" "+ "
cmd "$(b64f '\0test\0wrong')" "-ERR [AUTH] invalid credentials"
cmd "AUTH PLAIN $(b64f 'other\0test\0secret')" "-ERR [AUTH] invalid credentials"
cmd "auth plain $(b64f 'test\0test\0secret')" "+OK"
cmd "AUTH PLAIN $(b64f '\0test\0secret')" "-ERR command not valid in this state"
cmd STAT "+OK 2 $((SB + SC))"
cmd QUIT "+OK"
disconnect
printf '%s\n' "-- session 1" CAPA "USER test" "PASS secret" "AUTH SCRAM-SHA-256" "AUTH GSSAPI" \
	"AUTH LOGIN" "AUTH CRAM-MD5" AUTH "AUTH PLAIN a b" "APOP test 0123" STLS "AUTH PLAIN" "*" \
	"AUTH PLAIN" "not base64!" "AUTH PLAIN AHRlc3Q=" "AUTH PLAIN =" "AUTH PLAIN" "$(b64f '\0test\0wrong')" \
	"AUTH PLAIN $(b64f 'other\0test\0secret')" "auth plain $(b64f 'test\0test\0secret')" \
	"AUTH PLAIN $(b64f '\0test\0secret')" STAT QUIT >"$TESTDIR/expected.log"
same_log "AUTH responses are logged as received"

current="AUTH PLAIN with an empty initial response; LOGIN"
restart --sasl "LOGIN PLAIN"
connect
expect "+OK testpop3d ready"
send CAPA
for l in +OK TOP UIDL USER RESP-CODES PIPELINING "SASL LOGIN PLAIN" .; do expect "$l"; done
cmd "AUTH LOGIN" "+ $(b64 Username:)"
cmd "$(b64 test)" "+ $(b64 Password:)"
cmd "$(b64 wrong)" "-ERR [AUTH] invalid credentials"
cmd "AUTH LOGIN" "+ $(b64 Username:)"
cmd "$(b64 test)" "+ $(b64 Password:)"
cmd "*" "-ERR authentication cancelled"
# An initial response to LOGIN is the user name, as some servers take it.
cmd "AUTH LOGIN $(b64 test)" "+ $(b64 Password:)"
cmd "$(b64 secret)" "+OK"
cmd QUIT "+OK"
disconnect

current="CRAM-MD5"
restart --sasl CRAM-MD5
connect
expect "+OK testpop3d ready"
cmd "AUTH CRAM-MD5 $(b64 x)" "-ERR malformed SASL response"
send "AUTH CRAM-MD5"
challenge
if [[ $chal =~ ^[\<][0-9]+\.[0-9]+\.[0-9]{9}@testpop3d[\>]$ ]]; then
	good "the challenge is <PID.SECONDS.NANOSECONDS@testpop3d>"
else
	bad "challenge $(printf %q "$chal")"
fi
first=$chal
cmd "$(b64 "test $(printf %s "$chal" | openssl dgst -md5 -hmac wrong | sed 's/.*= //')")" \
	"-ERR [AUTH] invalid credentials"
send "AUTH CRAM-MD5"
challenge
verify "another challenge the second time" [ "$chal" != "$first" ]
cmd "$(b64 "test $(printf %s "$chal" | openssl dgst -md5 -hmac secret | sed 's/.*= //')")" "+OK"
cmd QUIT "+OK"
disconnect

# RFC 5802 section 5 and RFC 7677 section 3: the examples' salt and
# server nonce, so that the server must send the examples' messages.
current="SCRAM-SHA-1 (RFC 5802 example)"
restart --sasl "SCRAM-SHA-1 SCRAM-SHA-256" --user user --pass pencil \
	--scram-salt QSXCR+Q6sek8bf92 --scram-nonce 3rfcNHYJY1ZVvWVs7j
connect
expect "+OK testpop3d ready"
cmd "AUTH SCRAM-SHA-1 $(b64 'n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL')" \
	"+ $(b64 'r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096')"
cmd "$(b64 'c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=')" \
	"+ $(b64 'v=rmF9pqV8S7suAoZWja4dJRkFsKQ=')"
cmd "" "+OK"
cmd QUIT "+OK"
disconnect

current="SCRAM-SHA-256 (RFC 7677 example), two-step; wrong proof; bad messages"
# shellcheck disable=SC2016 # the $ belongs to the RFC's nonce
restart --sasl "SCRAM-SHA-1 SCRAM-SHA-256" --user user --pass pencil \
	--scram-salt W22ZaJ0SNY7soEsUEjb6gQ== --scram-nonce '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
# shellcheck disable=SC2016
SF256='r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096'
# shellcheck disable=SC2016
CF256='c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ='
connect
expect "+OK testpop3d ready"
cmd "AUTH SCRAM-SHA-256" "+ "
cmd "$(b64 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO')" "+ $(b64 "$SF256")"
cmd "$(b64 "${CF256/p=dH/p=dX}")" "-ERR [AUTH] invalid credentials"
cmd "AUTH SCRAM-SHA-256 $(b64 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO')" "+ $(b64 "$SF256")"
cmd "$(b64 "${CF256/c=biws/c=eSws}")" "-ERR malformed SASL response"
cmd "AUTH SCRAM-SHA-256 $(b64 'p=tls-unique,,n=user,r=rOprNGfwEbeRWgbNEkqO')" "-ERR malformed SASL response"
cmd "AUTH SCRAM-SHA-256 $(b64 'n,,n=other,r=rOprNGfwEbeRWgbNEkqO')" "+ $(b64 "${SF256}")"
cmd "$(b64 "$CF256")" "-ERR [AUTH] invalid credentials"
cmd "AUTH SCRAM-SHA-256 $(b64 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO')" "+ $(b64 "$SF256")"
cmd "$(b64 "$CF256")" "+ $(b64 'v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=')"
cmd "" "+OK"
cmd QUIT "+OK"
disconnect

current="SCRAM: random salt and nonce; --scram-bad-signature; --auth-fail-temp"
restart --sasl SCRAM-SHA-256 --scram-bad-signature
connect
expect "+OK testpop3d ready"
send "AUTH SCRAM-SHA-256 $(b64 'n,,n=test,r=abc')"
challenge
if [[ $chal =~ ^r=abc[A-Za-z0-9+/]{24},s=[A-Za-z0-9+/]{22}==,i=4096$ ]]; then
	good "server-first: a random nonce and salt, i=4096"
else
	bad "server-first $(printf %q "$chal")"
fi
cmd "*" "-ERR authentication cancelled"
disconnect
# shellcheck disable=SC2016
restart --sasl SCRAM-SHA-256 --user user --pass pencil --scram-bad-signature \
	--scram-salt W22ZaJ0SNY7soEsUEjb6gQ== --scram-nonce '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
connect
expect "+OK testpop3d ready"
cmd "AUTH SCRAM-SHA-256 $(b64 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO')" "+ $(b64 "$SF256")"
send "$(b64 "$CF256")"
challenge
case $chal in
v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=) bad "--scram-bad-signature sent the right signature" ;;
v=*) good "--scram-bad-signature sent a wrong v=" ;;
*) bad "no v= in $(printf %q "$chal")" ;;
esac
cmd "*" "-ERR authentication cancelled"
disconnect
# shellcheck disable=SC2016
restart --sasl SCRAM-SHA-256 --user user --pass pencil --auth-fail-temp \
	--scram-salt W22ZaJ0SNY7soEsUEjb6gQ== --scram-nonce '%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0'
connect
expect "+OK testpop3d ready"
cmd "AUTH SCRAM-SHA-256 $(b64 'n,,n=user,r=rOprNGfwEbeRWgbNEkqO')" "+ $(b64 "$SF256")"
cmd "$(b64 "$CF256")" "-ERR [SYS/TEMP] try later"
disconnect

current="XOAUTH2 and OAUTHBEARER"
restart --sasl "XOAUTH2 OAUTHBEARER" --token tok123 --in-use
OAUTH_ERR='{"status":"401","schemes":"bearer","scope":"mail"}'
connect
expect "+OK testpop3d ready"
cmd "AUTH XOAUTH2 $(b64f 'user=test\001auth=Bearer wrong\001\001')" "+ $(b64 "$OAUTH_ERR")"
cmd "" "-ERR [AUTH] invalid credentials"
cmd "AUTH XOAUTH2" "+ "
cmd "$(b64f 'user=test\001auth=Bearer secret\001\001')" "+ $(b64 "$OAUTH_ERR")"
cmd "" "-ERR [AUTH] invalid credentials"
cmd "AUTH XOAUTH2 $(b64f 'user=test\001auth=Bearer tok123\001')" "-ERR malformed SASL response"
cmd "AUTH XOAUTH2 $(b64f 'user=test\001auth=Bearer tok123\001\001')" "-ERR [IN-USE] mailbox locked"
cmd "AUTH XOAUTH2" "+ "
cmd "$(b64f 'user=test\001auth=Bearer tok123\001\001')" "-ERR [IN-USE] mailbox locked"
cmd "AUTH OAUTHBEARER $(b64f 'n,a=test,\001host=127.0.0.1\001port=110\001auth=Bearer nope\001\001')" \
	"+ $(b64 "$OAUTH_ERR")"
cmd "AQ==" "-ERR [AUTH] invalid credentials"
cmd "AUTH OAUTHBEARER $(b64f 'n,a=other,\001auth=Bearer tok123\001\001')" "+ $(b64 "$OAUTH_ERR")"
cmd "AQ==" "-ERR [AUTH] invalid credentials"
cmd "AUTH OAUTHBEARER $(b64f 'n,,auth=Bearer tok123\001\001')" "-ERR malformed SASL response"
cmd "AUTH OAUTHBEARER $(b64f 'n,,\001auth=Bearer tok123\001\001')" "-ERR [IN-USE] mailbox locked"
cmd "AUTH OAUTHBEARER" "+ "
cmd "$(b64f 'n,a=test,\001host=localhost\001auth=bearer tok123\001\001')" "-ERR [IN-USE] mailbox locked"
disconnect
restart --sasl "XOAUTH2 OAUTHBEARER" --token tok123
connect
expect "+OK testpop3d ready"
cmd "AUTH OAUTHBEARER $(b64f 'y,a=test,\001auth=Bearer tok123\001\001')" "+OK"
cmd STAT "+OK 2 $((SB + SC))"
cmd QUIT "+OK"
disconnect

current="--apop"
restart --apop
apop_digest() { printf '%s%s' "$1" "$2" | md5sum | cut -d' ' -f1; }
connect
getline
if [[ $got =~ ^\+OK\ testpop3d\ ready\ ([\<][0-9]+\.[0-9]+\.[0-9]{9}@testpop3d[\>])$ ]]; then
	good "a greeting with a timestamp"
else
	bad "greeting $(printf %q "$got")"
fi
stamp=${BASH_REMATCH[1]:-}
cmd "APOP test $(apop_digest "$stamp" wrong)" "-ERR [AUTH] invalid credentials"
cmd "APOP nobody $(apop_digest "$stamp" secret)" "-ERR [AUTH] invalid credentials"
cmd "APOP test $(apop_digest "$stamp" secret | tr a-f A-F)" "-ERR [AUTH] invalid credentials"
cmd "APOP test" "-ERR syntax error"
cmd "APOP test $(apop_digest "$stamp" secret)" "+OK"
cmd STAT "+OK 2 $((SB + SC))"
cmd QUIT "+OK"
disconnect
connect
getline
verify "another timestamp in the next session" [ "$got" != "+OK testpop3d ready $stamp" ]
cmd "APOP test $(apop_digest "$stamp" secret)" "-ERR [AUTH] invalid credentials"
disconnect

# ---- TLS, checked with openssl s_client against a throw-away certificate.
CERTS=$TESTDIR/certs
mkdir -p "$CERTS"
# A self-signed certificate is its own trust anchor, for either side.
mkcert() {
	OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec \
		-pkeyopt ec_paramgen_curve:prime256v1 -noenc -days 30 \
		-keyout "$CERTS/$1.key" -out "$CERTS/$1.pem" -subj "/CN=$2" "${@:3}" \
		>"$CERTS/$1.log" 2>&1 || bail "openssl req for $1: $(cat "$CERTS/$1.log")"
}
mkcert server localhost -addext subjectAltName=IP:127.0.0.1,DNS:localhost
mkcert client test
mkcert other test
CERT=$CERTS/server.pem
TLSOPTS=(--tls-cert "$CERT" --tls-key "$CERTS/server.key")

# tls_talk FORMAT [s_client options...]: sends printf FORMAT over TLS
# with openssl s_client, which verifies the server certificate; what
# the server sends ends up in $TESTDIR/got, s_client's chatter in
# $TESTDIR/sclient.err. -quiet implies -ign_eof: s_client waits for the
# server to close.
tls_talk() {
	local input=$1
	shift
	# shellcheck disable=SC2059 # the escapes in FORMAT are the point
	printf -- "$input" | timeout 10 openssl s_client -quiet \
		-connect "127.0.0.1:$PORT" -CAfile "$CERT" -verify_return_error \
		-verify_ip 127.0.0.1 "$@" >"$TESTDIR/got" 2>"$TESTDIR/sclient.err"
}
# got_is FORMAT: the server sent exactly printf FORMAT.
got_is() {
	# shellcheck disable=SC2059
	printf -- "$1" >"$TESTDIR/expected"
	if cmp -s "$TESTDIR/expected" "$TESTDIR/got"; then
		good "exactly these bytes over TLS: $(printf %q "$1")"
	else
		bad "wrong bytes: expected $(od -c "$TESTDIR/expected" | head -20) got $(od -c "$TESTDIR/got" | head -20) (s_client: $(head -5 "$TESTDIR/sclient.err"))"
	fi
}
SESSION_IN='CAPA\r\nUSER test\r\nPASS secret\r\nSTAT\r\nRETR 1\r\nQUIT\r\n'
SESSION_OUT="+OK\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n+OK 2 $((SB + SC))\r\n+OK\r\nSubject: two\r\n\r\ncrlf\r\nmixed\r\n.\r\n+OK\r\n"

current="--implicit-tls"
rm -f "$TESTDIR/log"
restart "${TLSOPTS[@]}" --implicit-tls --log "$TESTDIR/log"
tls_talk "$SESSION_IN"
got_is "+OK testpop3d ready\r\n$SESSION_OUT"
printf '%s\n' "-- session 1" CAPA "USER test" "PASS secret" STAT "RETR 1" QUIT >"$TESTDIR/expected.log"
same_log
# A plaintext client gets nothing and is logged.
connect
printf 'CAPA\r\n' >&3
timeout 5 cat <&3 >"$TESTDIR/got"
disconnect
verify "plaintext client: a handshake failure logged" grep -q '^-- TLS handshake failed: ' "$TESTDIR/log"
refute "plaintext client: no reply" grep -q '+OK' "$TESTDIR/got"

current="--stls: CAPA in plaintext, STLS in the wrong state"
rm -f "$TESTDIR/log"
restart "${TLSOPTS[@]}" --stls --sasl PLAIN --log "$TESTDIR/log"
login
cmd STLS "-ERR command not valid in this state"
cmd QUIT "+OK"
disconnect
connect
expect "+OK testpop3d ready"
send CAPA
for l in +OK TOP UIDL USER RESP-CODES PIPELINING "SASL PLAIN" STLS .; do expect "$l"; done
# Plaintext sent after STLS, before the handshake, is thrown away. In
# one write (bash's printf may make several): both in one read.
env printf 'STLS\r\nNOOP\r\n' >&3
expect "+OK begin TLS"
disconnect
for _ in $(seq 100); do grep -q '^-- TLS handshake' "$TESTDIR/log" && break; sleep 0.05; done
verify "the discarded bytes logged" grep -qx -- '-- 6 bytes after STLS discarded' "$TESTDIR/log"
refute "NOOP after STLS was not taken as a command" grep -q '^NOOP' "$TESTDIR/log"

current="--stls with openssl s_client -starttls pop3"
rm -f "$TESTDIR/log"
restart "${TLSOPTS[@]}" --stls --log "$TESTDIR/log"
tls_talk 'CAPA\r\nSTLS\r\nUSER test\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' -starttls pop3
got_is "+OK\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n.\r\n-ERR TLS already active\r\n+OK\r\n+OK\r\n+OK 2 $((SB + SC))\r\n+OK\r\n"
printf '%s\n' "-- session 1" STLS CAPA STLS "USER test" "PASS secret" STAT QUIT >"$TESTDIR/expected.log"
same_log

current="--stls-fail"
restart --stls-fail
connect
expect "+OK testpop3d ready"
send CAPA
for l in +OK TOP UIDL USER RESP-CODES PIPELINING STLS .; do expect "$l"; done
cmd STLS "-ERR TLS not available"
cmd "USER test" "+OK"
cmd "PASS secret" "+OK"
cmd QUIT "+OK"
disconnect

current="--stls-fake"
restart --stls-fake
connect
expect "+OK testpop3d ready"
cmd STLS "+OK begin TLS"
cmd NOOP "-ERR command not valid in this state"
send CAPA
for l in +OK TOP UIDL USER RESP-CODES PIPELINING .; do expect "$l"; done
cmd STLS "-ERR TLS already active"
cmd "USER test" "+OK"
cmd "PASS secret" "+OK"
cmd QUIT "+OK"
disconnect

current="--stls-inject"
rm -f "$TESTDIR/log"
restart "${TLSOPTS[@]}" --stls-inject --log "$TESTDIR/log"
connect
expect "+OK testpop3d ready"
send CAPA
for l in +OK TOP UIDL USER RESP-CODES PIPELINING STLS .; do expect "$l"; done
send STLS
expect "+OK begin TLS"
expect "+OK injected"
expect_silence
disconnect
for _ in $(seq 100); do grep -q '^-- TLS handshake' "$TESTDIR/log" && break; sleep 0.05; done
verify "a handshake failure logged" grep -q '^-- TLS handshake failed' "$TESTDIR/log"
# s_client reads the injected line as part of the STLS reply and goes on:
# the server itself still does the handshake.
tls_talk 'NOOP\r\nQUIT\r\n' -starttls pop3
got_is '-ERR command not valid in this state\r\n+OK\r\n'

current="--require-client-cert"
rm -f "$TESTDIR/log"
restart "${TLSOPTS[@]}" --implicit-tls --require-client-cert "$CERTS/client.pem" --log "$TESTDIR/log"
tls_talk 'QUIT\r\n' -cert "$CERTS/client.pem" -key "$CERTS/client.key"
got_is '+OK testpop3d ready\r\n+OK\r\n'
tls_talk 'QUIT\r\n'
got_is ''
tls_talk 'QUIT\r\n' -cert "$CERTS/other.pem" -key "$CERTS/other.key"
got_is ''
# OpenSSL's wording may change; the gist of it is checked.
awk '/^-- session 2$/ { getline; print "2 " $0 } /^-- session 3$/ { getline; print "3 " $0 }
	/^QUIT$/ { print "QUIT" }' "$TESTDIR/log" >"$TESTDIR/gist"
if grep -q '^2 -- TLS handshake failed: .*did not return a certificate' "$TESTDIR/gist" &&
	grep -q '^3 -- TLS handshake failed: .*certificate verify failed' "$TESTDIR/gist" &&
	[ "$(grep -c QUIT "$TESTDIR/gist")" = 1 ]; then
	good "the log: one session with a certificate, two handshakes refused"
else
	bad "log: $(cat "$TESTDIR/log")"
fi
restart "${TLSOPTS[@]}" --stls --require-client-cert "$CERTS/client.pem"
tls_talk 'QUIT\r\n' -starttls pop3 -cert "$CERTS/client.pem" -key "$CERTS/client.key"
got_is '+OK\r\n'

current="faults over TLS"
restart "${TLSOPTS[@]}" --implicit-tls --drop-after RETR:1:10
tls_talk "$SESSION_IN"
got_is "+OK testpop3d ready\r\n+OK\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n+OK 2 $((SB + SC))\r\n+OK\r\nSubje"
restart "${TLSOPTS[@]}" --implicit-tls --trickle 1 --stray STAT:1
tls_talk "$SESSION_IN"
got_is "+OK testpop3d ready\r\n+OK\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n+OK 2 $((SB + SC))\r\n+OK stray reply\r\n+OK\r\nSubject: two\r\n\r\ncrlf\r\nmixed\r\n.\r\n+OK\r\n"
restart "${TLSOPTS[@]}" --stls --autologout STAT:1:3 --sasl PLAIN
tls_talk "AUTH PLAIN $(b64f '\0test\0secret')\r\nSTAT\r\n" -starttls pop3
got_is '+OK\r\n+OK\r\n-ERR autologout; idle for too long\r\n'
restart "${TLSOPTS[@]}" --implicit-tls --hang-after GREETING:1:5
rm -f "$TESTDIR/got"
tls_talk 'QUIT\r\n' &
talker=$!
# The 5 bytes arrive, then nothing: wait for them (at most 5 s).
for _ in $(seq 100); do
	[ "$(wc -c <"$TESTDIR/got" 2>/dev/null || echo 0)" -ge 5 ] && break
	sleep 0.05
done
pid=$SERVER_PID
server_stop
wait "$talker"
refute "server_stop ends a hanging server" kill -0 "$pid" 2>/dev/null
got_is '+OK t'
unset talker

current="TLS option errors"
for args in "--stls" "--implicit-tls" "--stls-inject" "--tls-cert $CERT" \
	"--tls-key $CERTS/server.key" "--require-client-cert $CERT" \
	"${TLSOPTS[*]} --stls --stls-fail" "${TLSOPTS[*]} --implicit-tls --stls-fake"; do
	rc=0
	# shellcheck disable=SC2086
	"$TESTPOP3D" $args "$MD" 2>/dev/null </dev/null >/dev/null || rc=$?
	verify "testpop3d $args: usage error (exit $rc)" [ $rc = 2 ]
done
for args in "--tls-cert $CERTS/nonexistent --tls-key $CERTS/server.key" \
	"--tls-cert $CERT --tls-key $CERTS/client.key" \
	"${TLSOPTS[*]} --implicit-tls --require-client-cert $CERTS/nonexistent"; do
	rc=0
	# shellcheck disable=SC2086
	"$TESTPOP3D" $args "$MD" 2>/dev/null </dev/null >/dev/null || rc=$?
	verify "testpop3d $args: error (exit $rc)" [ $rc = 1 ]
done

# ---- --port-file and --pid-file (server.sh reads the port from stdout).
current="--port-file, --pid-file"
server_stop
rm -f "$TESTDIR/port" "$TESTDIR/pid"
"$TESTPOP3D" --exit-with-parent --port-file "$TESTDIR/port" --pid-file "$TESTDIR/pid" \
	"$MD" >"$TESTDIR/stdout" &
SERVER_PID=$!
# The port file is the readiness signal: poll for it (at most 5 s).
for _ in $(seq 100); do
	[ -s "$TESTDIR/port" ] && break
	sleep 0.05
done
verify "the pid file names the server" [ "$(cat "$TESTDIR/pid" 2>/dev/null)" = "$SERVER_PID" ]
PORT=$(cat "$TESTDIR/port")
verify "a port number in the port file" [ "$PORT" -gt 0 ]
connect
expect "+OK testpop3d ready"
cmd QUIT "+OK"
disconnect
refute "nothing on stdout with --port-file" test -s "$TESTDIR/stdout"
server_stop
rm -f "$TESTDIR/port" "$TESTDIR/pid"

# ---- --stdio: one session on standard input and output, for a client's
# pipe transport (popfetch --tunnel, used by most session tests).
# stdio_is INPUT EXPECTED [options...]: printf INPUT to a --stdio server
# with OPTIONS, logging to $TESTDIR/log; it must send exactly printf
# EXPECTED and exit 0 once its input ends.
stdio_is() {
	local input=$1 want=$2 rc=0
	shift 2
	# shellcheck disable=SC2059 # the escapes are the point
	printf -- "$input" | timeout 10 "$TESTPOP3D" --stdio --log "$TESTDIR/log" "$@" "$MD" \
		>"$TESTDIR/got" 2>"$TESTDIR/stdio.err" || rc=$?
	# shellcheck disable=SC2059
	printf -- "$want" >"$TESTDIR/expected"
	if [ "$rc" -eq 0 ] && cmp -s "$TESTDIR/expected" "$TESTDIR/got"; then
		good "exactly these bytes on stdout, then exit 0: $(printf %q "$want")"
	else
		bad "exit $rc; expected $(od -c "$TESTDIR/expected" | head -20) got $(od -c "$TESTDIR/got" | head -20) $(cat "$TESTDIR/stdio.err")"
	fi
}

current="--stdio: a session over pipes"
make_maildrop
rm -f "$TESTDIR/log" "$TESTDIR/count"
stdio_is 'CAPA\r\nUSER test\r\nPASS secret\r\nSTAT\r\nRETR 2\r\nQUIT\r\n' \
	"+OK testpop3d ready\r\n+OK\r\nTOP\r\nUIDL\r\nUSER\r\nRESP-CODES\r\nPIPELINING\r\n.\r\n+OK\r\n+OK\r\n+OK 3 $((SA + SB + SC))\r\n+OK\r\nSubject: two\r\n\r\ncrlf\r\nmixed\r\n.\r\n+OK\r\n"
printf '%s\n' "-- session 1" CAPA "USER test" "PASS secret" STAT "RETR 2" QUIT >"$TESTDIR/expected.log"
same_log

current="--stdio: deletions persist on QUIT only"
stdio_is 'USER test\r\nPASS secret\r\nDELE 1\r\n' '+OK testpop3d ready\r\n+OK\r\n+OK\r\n+OK\r\n'
verify "input ended without QUIT: nothing deleted" test -e "$MD/a"
stdio_is 'USER test\r\nPASS secret\r\nDELE 1\r\nQUIT\r\n' \
	'+OK testpop3d ready\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n'
refute "QUIT deleted the file of message 1" test -e "$MD/a"
stdio_is 'USER test\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' \
	"+OK testpop3d ready\r\n+OK\r\n+OK\r\n+OK 2 $((SB + SC))\r\n+OK\r\n"

current="--stdio --count-file and --session-filter: sessions counted across runs"
make_maildrop
rm -f "$TESTDIR/log"
stdio_is 'STAT\r\nQUIT\r\n' '+OK testpop3d ready\r\n-ERR command not valid in this state\r\n+OK\r\n' \
	--count-file "$TESTDIR/count" --drop-after STAT:1:3 --session-filter 2
stdio_is 'STAT\r\nQUIT\r\n' '+OK testpop3d ready\r\n-ER' \
	--count-file "$TESTDIR/count" --drop-after STAT:1:3 --session-filter 2
stdio_is 'STAT\r\nQUIT\r\n' '+OK testpop3d ready\r\n-ERR command not valid in this state\r\n+OK\r\n' \
	--count-file "$TESTDIR/count" --drop-after STAT:1:3 --session-filter 2
verify "the count file says 3" [ "$(cat "$TESTDIR/count")" = 3 ]
printf '%s\n' "-- session 1" STAT QUIT "-- session 2" STAT "-- session 3" STAT QUIT >"$TESTDIR/expected.log"
same_log
stdio_is 'QUIT\r\n' '+OK testpop3d ready\r\n+OK\r\n'
verify "without --count-file every session is number 1" [ "$(tail -n 2 "$TESTDIR/log" | head -n 1)" = "-- session 1" ]

current="--stdio: a hang ends when the input does"
stdio_is 'USER test\r\nPASS secret\r\nSTAT\r\nQUIT\r\n' '+OK testpop3d ready\r\n+OK\r\n+OK\r\n+O' \
	--hang-after STAT:1:2
stdio_is 'NOOP\r\n' '' --no-greeting

current="--stdio option errors"
for args in "--stdio --port 1234" "--stdio --port-file $TESTDIR/p" "--stdio --pid-file $TESTDIR/p" \
	"--stdio --max-sessions 1" "--count-file $TESTDIR/count"; do
	rc=0
	# shellcheck disable=SC2086
	"$TESTPOP3D" $args "$MD" 2>/dev/null </dev/null >/dev/null || rc=$?
	verify "testpop3d $args: usage error (exit $rc)" [ $rc = 2 ]
done

current="bad options"
for args in "--drop-after RETR:x:1" "--drop-after RETR:1" "--drop-after FOO:1:1" \
	"--no-terminator RETR:1:5" "--trickle -1" "--max-sessions 0" "--bogus" \
	"--session-filter 1x" "--greeting" "--stray STAT:1:5" "--stray STAT" \
	"--stray STAT:0" "--synthetic 0" "--synthetic 10000001" "--synthetic x" \
	"--stat-count -1" "--list-skip 0" "--uidl-extra=1" "--sasl FOO" "--sasl plain" \
	"--sasl-lie BAD!" "--sasl-lie ABCDEFGHIJKLMNOPQRSTU" "--scram-salt x" "--scram-salt =" \
	"--scram-nonce a,b" "--stls-fail --stls-fake"; do
	rc=0
	# shellcheck disable=SC2086
	"$TESTPOP3D" $args $MD 2>/dev/null </dev/null >/dev/null || rc=$?
	verify "testpop3d $args: usage error (exit $rc)" [ $rc = 2 ]
done
rc=0
"$TESTPOP3D" 2>/dev/null </dev/null >/dev/null || rc=$?
verify "testpop3d without a maildrop: usage error (exit $rc)" [ $rc = 2 ]

finish
