#!/bin/sh
# The whole fetch path against the test server: exact commands on the wire,
# byte-identical Maildir delivery, only new mail on the next run, --delete,
# silence under cron, redacted traces, private state.
. "$srcdir/tests/lib.sh"

msg 001 one
msg 002 two ".leading dot" "." ".." "tail"
msg 003 three
server_start --log "$SLOG" "$DROP" || exit 1

pfm
expect_rc 0 "first fetch"
check "three messages in new/, byte-identical to the maildrop" same_contents "$MD/new" "$DROP"
check "tmp/ and cur/ created and empty" test -d "$MD/cur" -a "$(count_files "$MD/tmp")" -eq 0
check "silent on success when stdout is not a terminal (but for the --no-tls warning)" \
	test ! -s "$TESTDIR/out" -a "$(cat "$TESTDIR/err")" = "popfetch: warning: --no-tls: the session, password included, is not encrypted"
# C0003 C0004 C0012 C0015 C0044 V0003 V0004 V0007: strict writing, USER
# before PASS, no arguments to STAT/QUIT/LIST/UIDL, RETR with its number.
expected='CAPA
USER test
PASS secret
CAPA
STAT
UIDL
LIST
RETR 1
RETR 2
RETR 3
QUIT'
# CAPA again after login: capabilities may change then (RFC 2449).
check "C0001/C0003/C0004/C0007/C0008/C0012/C0015/C0044/V0003/V0004/V0007: exact commands sent" \
	test "$(last_session)" = "$expected"

pfm
expect_rc 0 "second fetch"
check "nothing new on the second run" test "$(count_files "$MD/new")" -eq 3
check "no RETR on the second run" no_retr

msg 004 four
pf --check
expect_rc 0 "--check with new mail: exit 0"
check "--check counts the new message and fetches nothing" \
	test "$(cat "$TESTDIR/out")" = "test@127.0.0.1: 1 new message of 4 on the server" -a "$(count_files "$MD/new")" -eq 3
check "--check sends no RETR" no_retr
pfm
expect_rc 0 "third fetch"
check "only the new message fetched" test "$(count_files "$MD/new")" -eq 4
check "the new message is RETR 4 alone" test "$(last_session | grep -c '^RETR')" -eq 1 -a "$(last_session | grep '^RETR')" = "RETR 4"
check "four UIDs in the store" test "$(seen_count)" -eq 4
pf --check
expect_rc 1 "--check without new mail: exit 1"

pfm -v
check "-v prints a summary line" grep -q "0 new messages" "$TESTDIR/out"

pfm -vv
check "-vv traces the protocol" grep -q '^C: UIDL' "$TESTDIR/err"
check "-vv redacts PASS" grep -q '^C: PASS <redacted>' "$TESTDIR/err"
check "the password appears nowhere in the trace" sh -c "! grep -q secret '$TESTDIR/err'"

pfm --delete
expect_rc 0 "--delete run"
check "--delete removed all messages from the server" test "$(count_files "$DROP")" -eq 0
check "C0024/C0030: DELE n for each message, then a bare QUIT" test "$(last_session | grep -c '^DELE [1-4]$')" -eq 4 -a "$(last_session | tail -n 1)" = "QUIT"
check "no duplicates after --delete" test "$(count_files "$MD/new")" -eq 4

pfm
expect_rc 0 "run on an empty mailbox"
check "the store forgets UIDs no longer on the server" test "$(seen_count)" -eq 0

dir=$(find "$STATE" -mindepth 1 -maxdepth 1 -type d)
check "the account state directory is 0700" test "$(stat -c %a "$dir")" = 700
check "the state directory is 0700" test "$(stat -c %a "$STATE")" = 700
check "state files are 0600" test -z "$(find "$dir" -type f ! -perm 600)"
check "delivered files are 0600" test -z "$(find "$MD" -type f ! -perm 600)"

# Exchange V0011: the whole rest of the PASS line is the password.
server_stop
msg 005 five
printf 'pass with  spaces\n' > "$TESTDIR/pw"
server_start --log "$SLOG" --pass "pass with  spaces" "$DROP" || exit 1
pfm
expect_rc 0 "V0011: a password with spaces logs in"
check "C0046 and Exchange V0011: sent as the whole rest of the line" grep -qx 'PASS pass with  spaces' "$SLOG"

check "V0006: RSET is never sent" sh -c "! grep -q '^RSET' '$SLOG'"
check "V0008/Exchange V0012: APOP is never sent" sh -c "! grep -q '^APOP' '$SLOG'"

# --all fetches messages seen before, too.
n=$(count_files "$MD/new")
pfm --all
expect_rc 0 "--all"
check "--all fetched the one message again" test "$(count_files "$MD/new")" -eq $((n + 1))

finish
