#!/bin/sh
# Broken servers: a RETR that ends without its "." is a failure for that
# message, nothing of it is delivered, and it stays unseen; where Outlook
# hangs (C0002, C0005, C0006, C0014) popfetch times out; every failure has
# its documented exit status.
. "$srcdir/tests/lib.sh"

msg 001 one
msg 002 two "line"
msg 003 three
cp -r "$DROP" "$TESTDIR/orig"

# fault NAME EXPECTED_RC SERVER_OPTIONS...: one run with a fault, then a
# clean run; at the end every message is delivered exactly once.
fault() {
	name=$1
	want=$2
	shift 2
	rm -rf "$MD" "$STATE"
	server_start --log "$SLOG" "$@" "$DROP" || { fail "$name: server"; return; }
	pfm --timeout 2
	expect_rc "$want" "$name"
	check "$name: no partial message anywhere" test "$(count_files "$MD/tmp")" -eq 0
	partial=0
	for f in "$MD"/new/*; do
		[ -e "$f" ] || continue
		has_copy "$f" "$DROP" || partial=1
	done
	check "$name: everything delivered is complete" test "$partial" -eq 0
	n_before=$(count_files "$MD/new")
	server_stop
	server_start --log "$SLOG" "$DROP" || { fail "$name: server"; return; }
	pfm
	check "$name: a clean run completes the mailbox exactly once ($n_before before)" \
		test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 3
	check "$name: byte-identical after recovery" same_contents "$MD/new" "$DROP"
	server_stop
}

fault "drop in the middle of RETR 2" 75 --drop-after RETR:2:60
fault "drop right after the RETR status line" 75 --drop-after RETR:1:5
fault "C0006: RETR without its terminating dot" 75 --no-terminator RETR:2
fault "Exchange V0003: -ERR autologout in the middle of RETR" 75 --autologout RETR:1:40
fault "C0014: hang in the middle of RETR" 75 --hang-after RETR:3:30
fault "C0005: hang inside the UIDL listing" 75 --hang-after UIDL:1:12
fault "C0006: UIDL listing without its dot" 75 --no-terminator UIDL:1
fault "drop during LIST" 75 --drop-after LIST:1:8
fault "C0002: no greeting" 75 --no-greeting
fault "drop after PASS" 75 --drop-after PASS:1:0
fault "C0014: no reply to STAT" 75 --hang-after STAT:1:0

# A trickle of bytes is slow, not dead: the idle timeout does not fire.
rm -rf "$MD" "$STATE"
server_start --log "$SLOG" --trickle 2 "$DROP" || exit 1
pfm --timeout 1
expect_rc 0 "a slow trickle finishes (idle timeout, not total)"
check "trickle: all delivered" same_contents "$MD/new" "$DROP"
server_stop
rm -rf "$MD" "$STATE"
server_start --log "$SLOG" --trickle 2 "$DROP" || exit 1
pfm --timeout 1 --session-timeout 1
expect_rc 75 "--session-timeout caps a trickle"
check "--session-timeout: the error names the time limit" grep -q "time limit" "$TESTDIR/err"
server_stop

# Login failures, told apart by RFC 2449/3206 response codes.
server_start --log "$SLOG" --pass other "$DROP" || exit 1
pfm
expect_rc 77 "wrong password: EX_NOPERM"
check "wrong password: the error quotes the server" grep -q "invalid login" "$TESTDIR/err"
check "C0010/C0045: after -ERR to PASS the client sends QUIT" test "$(last_session | tail -n 1)" = "QUIT"
server_stop
server_start --log "$SLOG" --in-use "$DROP" || exit 1
pfm
expect_rc 75 "[IN-USE]: temporary failure"
server_stop
server_start --log "$SLOG" --auth-fail-temp "$DROP" || exit 1
pfm
expect_rc 75 "[SYS/TEMP]: temporary failure"
server_stop

# Nobody listening.
port=$PORT
PORT=1
pfm --timeout 2
expect_rc 69 "connection refused: EX_UNAVAILABLE"
check "connection refused: the error names host and port" grep -q "cannot connect to 127.0.0.1 port 1" "$TESTDIR/err"
PORT=$port

# A message over --max-size is left on the server; the others arrive.
rm -rf "$MD" "$STATE"
awk 'BEGIN { printf "Subject: big\n\n"; for (i = 0; i < 5000; i++) printf "padding line %d\n", i }' > "$DROP/002"
server_start --log "$SLOG" "$DROP" || exit 1
pfm --max-size 10000 --delete
expect_rc 65 "--max-size: EX_DATAERR for the big message"
check "--max-size: the big message is left on the server" test -e "$DROP/002" -a "$(count_files "$DROP")" -eq 1
check "--max-size: the others were delivered" test "$(count_files "$MD/new")" -eq 2
check "--max-size: the error says why" grep -q "max-size" "$TESTDIR/err"
server_stop

finish
