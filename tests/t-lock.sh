#!/bin/sh
# SPDX-License-Identifier: ISC
# The kernel lock (DESIGN.md invariant 3): taken before connecting; a second
# run of the same account exits at once with status 73; --wait-lock waits;
# a SIGKILLed run never leaves it held. Each run has its own --stdio server,
# so a run that connected shows as a session in the server's log.
. "$srcdir/tests/lib.sh"

msg 001 one
msg 002 two
first=
on_exit '[ -z "$first" ] || kill -9 "$first" 2>/dev/null'

# wait_for WHAT COMMAND...: polls COMMAND in 0.05 s steps, at most 10 s.
wait_for() {
	_what=$1
	shift
	_i=0
	until "$@"; do
		_i=$((_i + 1))
		[ $_i -le 200 ] || bail "waited 10 s for $_what"
		sleep 0.05
	done
}
sessions() {
	grep -c '^-- session' "$SLOG" 2>/dev/null || :
}
retr_logged() {
	grep -q '^RETR' "$SLOG" 2>/dev/null
}
# holders N: N processes have the account's lock file open.
holders() {
	[ "$(ls -l /proc/[0-9]*/fd 2>/dev/null | grep -c "$STATE/.*/lock\$")" -ge "$1" ]
}

# The first run hangs inside RETR, holding the lock, until it is killed.
serve --hang-after RETR:1:10 --session-filter 1
"$POPFETCH" --no-received --no-tls --tunnel "$(tunnel_cmd)" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --timeout 30 --maildir "$MD" 127.0.0.1 \
	> /dev/null 2>&1 &
first=$!
wait_for "the first run's RETR" retr_logged
start=$(date +%s)
pfm -vv
end=$(date +%s)
expect_rc 73 "a second run of the same account: EX_CANTCREAT"
check "it says another run holds the lock" grep -q "another popfetch run holds the lock" "$TESTDIR/err"
check "it exits at once, without connecting (the lock comes first)" \
	test $((end - start)) -le 2 -a -z "$(grep '^[CS]: ' "$TESTDIR/err")" -a "$(sessions)" -eq 1

pfm --wait-lock 1
expect_rc 73 "--wait-lock 1 gives up after a second"
check "--wait-lock 1: it did not connect either" test "$(sessions)" -eq 1

kill -9 "$first"
wait "$first" 2>/dev/null
pfm
expect_rc 0 "after kill -9 the lock is free"
check "and the run fetches everything" test "$(count_files "$MD/new")" -eq 2

# --wait-lock: a second run waits for the first to end, then runs.
rm -rf "$MD" "$STATE" "$TESTDIR/sessions"
: > "$SLOG"
"$POPFETCH" --no-received --no-tls --tunnel "$(tunnel_cmd)" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --timeout 30 --maildir "$MD" 127.0.0.1 \
	> /dev/null 2>&1 &
first=$!
wait_for "the first run's RETR" retr_logged
(pfm --wait-lock 20; exit "$RC") &
second=$!
# The second run has opened the lock file and waits for the lock.
wait_for "the second run to open the lock file" holders 2
check "--wait-lock: while the first run holds the lock, the second does not connect" \
	test "$(sessions)" -eq 1
kill -9 "$first"
wait "$first" 2>/dev/null
RC=0
wait "$second" || RC=$?
expect_rc 0 "--wait-lock: the second run waited for the first and ran"
check "--wait-lock: it fetched the mail" test "$(count_files "$MD/new")" -eq 2
check "--wait-lock: it connected once the first had ended" test "$(sessions)" -eq 2

finish
