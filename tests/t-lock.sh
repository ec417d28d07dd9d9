#!/bin/sh
# The kernel lock (DESIGN.md invariant 3): taken before connecting; a second
# run of the same account exits at once with status 73; --wait-lock waits;
# a SIGKILLed run never leaves it held.
. "$srcdir/tests/lib.sh"

msg 001 one
msg 002 two
server_start --log "$SLOG" --hang-after RETR:1:10 --session-filter 1 "$DROP" || exit 1

# The first run hangs inside RETR holding the lock.
"$POPFETCH" --no-tls -P "$PORT" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --timeout 30 --maildir "$MD" 127.0.0.1 \
	> /dev/null 2>&1 &
first=$!
i=0
while ! grep -q '^RETR' "$SLOG" 2>/dev/null && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
start=$(date +%s)
pfm -vv
end=$(date +%s)
expect_rc 73 "a second run of the same account: EX_CANTCREAT"
check "it says another run holds the lock" grep -q "another popfetch run holds the lock" "$TESTDIR/err"
# The server is busy with the first run: a second run that connected would
# sit in its backlog until the 5 s timeout.
check "it exits at once, without connecting (the lock comes first)" \
	test $((end - start)) -le 2 -a -z "$(grep '^[CS]: ' "$TESTDIR/err")"

pfm --wait-lock 1
expect_rc 73 "--wait-lock 1 gives up after a second"

kill -9 "$first"
wait "$first" 2>/dev/null

# --wait-lock: a second run waits for the first to finish, then runs.
server_stop
server_start --log "$SLOG" --hang-after RETR:1:10 --session-filter 2 "$DROP" || exit 1
"$POPFETCH" --no-tls -P "$PORT" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --timeout 2 --maildir "$MD" 127.0.0.1 \
	> /dev/null 2>&1 &
first=$!
i=0
while [ "$(grep -c '^RETR' "$SLOG")" -lt 2 ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
server_stop
server_start --log "$SLOG" "$DROP" || exit 1
pfm --wait-lock 20
wait "$first" 2>/dev/null
expect_rc 0 "--wait-lock: the second run waited for the first and ran"
check "--wait-lock: it fetched the mail" test "$(count_files "$MD/new")" -eq 2
rm -rf "$MD" "$STATE"
server_stop
server_start --log "$SLOG" "$DROP" || exit 1
pfm
expect_rc 0 "after kill -9 the lock is free"
check "and the run fetches everything" test "$(count_files "$MD/new")" -eq 2

finish
