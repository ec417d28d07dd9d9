#!/bin/sh
# SPDX-License-Identifier: ISC
# Never lose mail, part two (issue 8): the ways people actually run
# popfetch. A publish that fails, several accounts in one Maildir, another
# program appending to the mbox after a crash, --stdout into a pipe that
# dies, empty values from unset variables, closed standard descriptors, a
# backup run beside a cron run, an inherited ignored SIGCHLD, descriptors
# leaking into children, MDA substitutions with hostile senders, control
# bytes from the server, core dumps, host name case. Each check failed on
# popfetch 0.1.
. "$srcdir/tests/lib.sh"

if [ "$(id -u)" -eq 0 ]; then
	id popfetch-test > /dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin popfetch-test
	AS="setpriv --reuid=popfetch-test --regid=popfetch-test --clear-groups"
	OWNER=popfetch-test:popfetch-test
else
	AS=
	OWNER=$(id -u):$(id -g)
fi

# pfas [options...]: pf as the unprivileged user (root ignores modes).
pfas() {
	RC=0
	# shellcheck disable=SC2086
	timeout 60 $AS "$POPFETCH" --no-received --no-tls -P "$PORT" -u test \
		--password-file "$TESTDIR/pw" --state-dir "$STATE" --timeout 5 \
		"$@" 127.0.0.1 > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
}

fresh() {
	server_stop
	rm -rf "$DROP" "$MD" "$STATE" "$TESTDIR/mbox" "$TESTDIR/orig"
	mkdir -p "$DROP"
	for i in 1 2 3 4; do
		msg "00$i" "m$i" "From line $i" ".dot"
	done
	cp -r "$DROP" "$TESTDIR/orig"
	server_start --log "$SLOG" "$@" "$DROP" || exit 1
}

# --- 1. A failed Maildir publish must not lose the batch ---
fresh
mkdir -p "$STATE" "$MD/tmp" "$MD/new" "$MD/cur"
chown -R "$OWNER" "$STATE" "$MD" "$TESTDIR/pw"
chmod 500 "$MD/new"
pfas --maildir "$MD" --delete --batch 2
expect_rc 74 "publish into an unwritable new/: EX_IOERR"
check "publish failed: nothing deleted on the server" test "$(count_files "$DROP")" -eq 4
check "publish failed: the journaled files are kept in tmp/ for recovery" test "$(count_files "$MD/tmp")" -eq 2
chmod 700 "$MD/new"
pfas --maildir "$MD" --delete --batch 2
expect_rc 0 "new/ writable again: the next run completes"
check "publish failed, then recovered: every message exactly once, nothing lost" same_contents "$MD/new" "$TESTDIR/orig"
check "publish failed, then recovered: the server is empty" test "$(count_files "$DROP")" -eq 0

# A journaled file that vanished (a full disk, a user) is fetched again,
# never counted as delivered.
fresh
POPFETCH_CRASH_AT=journaled pfm --delete --batch 4
unset POPFETCH_CRASH_AT
rm -f "$MD"/tmp/*
pfm --delete --batch 4
expect_rc 0 "journaled files gone from tmp/: the next run completes"
check "journaled files gone: fetched again, not recorded as delivered" same_contents "$MD/new" "$TESTDIR/orig"
# One the reader already moved to cur/ with flags counts as delivered.
fresh
POPFETCH_CRASH_AT=published pfm --delete --batch 4
unset POPFETCH_CRASH_AT
for f in "$MD"/new/*; do mv "$f" "$MD/cur/$(basename "$f"):2,S"; done
pfm --delete --batch 4
check "a journaled file read into cur/ meanwhile: not fetched again" \
	test "$(count_files "$MD/cur")" -eq 4 -a "$(count_files "$MD/new")" -eq 0 -a "$(count_files "$DROP")" -eq 0

# --- 2. Several accounts, one Maildir ---
fresh
mkdir -p "$TESTDIR/drop2"
printf 'From: x@example.org\nSubject: other account\n\nbody\n' > "$TESTDIR/drop2/001"
PORT1=$PORT
POPFETCH_CRASH_AT=journaled pfm --delete
unset POPFETCH_CRASH_AT
check "account A killed after journaling: its files wait in tmp/" test "$(count_files "$MD/tmp")" -eq 4
aname=$(ls "$MD/tmp" | head -n 1)
"$TESTPOP3D" --exit-with-parent --port-file "$TESTDIR/port2" --pid-file "$TESTDIR/pid2" "$TESTDIR/drop2" &
pid2=$!
while [ ! -s "$TESTDIR/port2" ]; do sleep 0.05; done
PORT=$(cat "$TESTDIR/port2")
pfm --delete
expect_rc 0 "account B into the same Maildir"
check "account B leaves account A's journaled files alone" test "$(count_files "$MD/tmp")" -eq 4
kill "$pid2"; wait "$pid2" 2>/dev/null
PORT=$PORT1
pfm --delete
expect_rc 0 "account A's next run recovers"
check "two accounts, one Maildir: B's message once" \
	test "$(grep -l 'Subject: other account' "$MD"/new/* | wc -l)" -eq 1
rm -f "$(grep -l 'Subject: other account' "$MD"/new/*)"
check "two accounts, one Maildir: A's messages exactly once" same_contents "$MD/new" "$TESTDIR/orig"
check "two accounts: nothing left in tmp/" test "$(count_files "$MD/tmp")" -eq 0
# The Maildir convention: a file in tmp/ untouched for 36 hours is stale.
# Another account's popfetch file that old goes; a younger one stays, and
# another program's file stays however old.
mdhost=$(printf '%s\n' "$aname" | sed 's/^[^.]*\.[^.]*\.//')
: > "$MD/tmp/1000.M1P999999Q1PF00000000.$mdhost"
: > "$MD/tmp/1001.M1P999999Q1PF00000000.$mdhost"
: > "$MD/tmp/1002.M5P7Q9.$mdhost"
touch -d '37 hours ago' "$MD/tmp/1000.M1P999999Q1PF00000000.$mdhost" "$MD/tmp/1002.M5P7Q9.$mdhost"
touch -d '35 hours ago' "$MD/tmp/1001.M1P999999Q1PF00000000.$mdhost"
pfm
check "tmp/: another account's popfetch file of 37 hours removed, of 35 hours kept" \
	test "$RC" -eq 0 -a ! -e "$MD/tmp/1000.M1P999999Q1PF00000000.$mdhost" -a -e "$MD/tmp/1001.M1P999999Q1PF00000000.$mdhost"
check "tmp/: another program's file of 37 hours kept" test -e "$MD/tmp/1002.M5P7Q9.$mdhost"
rm -f "$MD"/tmp/*

# --- 3. mbox recovery never truncates another program's mail ---
other='From other@example.org Sat Nov 21 00:00:00 2026
Subject: appended by procmail

written by another program after our crash
'
fresh
printf 'From old@example.org Fri Nov 20 00:00:00 2026\nSubject: old mail\n\nold\n\n' > "$TESTDIR/mbox"
POPFETCH_CRASH_AT=journaled pf --mbox "$TESTDIR/mbox" --delete --batch 4
unset POPFETCH_CRASH_AT
printf '%s\n' "$other" >> "$TESTDIR/mbox"
pf --mbox "$TESTDIR/mbox" --delete --batch 4
expect_rc 0 "mbox: the run after a crash and another program's append"
check "mbox: the other program's message survives" grep -q "written by another program" "$TESTDIR/mbox"
check "mbox: the older mail survives" grep -q "Subject: old mail" "$TESTDIR/mbox"
check "mbox: ours exactly once" test "$(grep -c '^Subject: m' "$TESTDIR/mbox")" -eq 4
check "mbox: the server is empty" test "$(count_files "$DROP")" -eq 0
# Killed in the middle of a batch (0.1 had written part of it into the
# mbox already, and cut the file back to the batch start on recovery).
fresh
# Large enough that 0.1 had flushed it into the mbox before the kill.
awk 'BEGIN { printf "Subject: m1\n\n"; for (i = 0; i < 5000; i++) printf "line %d of a large message\n", i }' > "$DROP/001"
printf 'From old@example.org Fri Nov 20 00:00:00 2026\nSubject: old mail\n\nold\n\n' > "$TESTDIR/mbox"
POPFETCH_CRASH_AT=written:2 pf --mbox "$TESTDIR/mbox" --delete --batch 4
unset POPFETCH_CRASH_AT
printf '%s\n' "$other" >> "$TESTDIR/mbox"
pf --mbox "$TESTDIR/mbox" --delete --batch 4
expect_rc 0 "mbox: killed mid-batch, another program appends: the next run completes"
check "mbox killed mid-batch: the other program's message survives" grep -q "written by another program" "$TESTDIR/mbox"
check "mbox killed mid-batch: ours once each, no partial message" \
	test "$(grep -c '^Subject: m' "$TESTDIR/mbox")" -eq 4 -a "$(grep -c '^From ' "$TESTDIR/mbox")" -eq "$(grep -c '^Subject: ' "$TESTDIR/mbox")"
# Killed halfway through the append (simulated: half the journaled batch
# is in the mbox), then another program appends: only our bytes go.
fresh
printf 'From old@example.org Fri Nov 20 00:00:00 2026\nSubject: old mail\n\nold\n\n' > "$TESTDIR/mbox"
POPFETCH_CRASH_AT=journaled pf --mbox "$TESTDIR/mbox" --delete --batch 4
unset POPFETCH_CRASH_AT
spool=$(find "$STATE" -name mbox-batch)
check "mbox: the batch waits in its spool" test -n "$spool" -a -s "$spool"
[ -n "$spool" ] && head -c "$(($(wc -c < "$spool") / 2))" "$spool" >> "$TESTDIR/mbox"
printf '%s\n' "$other" >> "$TESTDIR/mbox"
pf --mbox "$TESTDIR/mbox" --delete --batch 4
expect_rc 0 "mbox: partial append, then another program: the next run completes"
check "mbox partial: the other program's message survives whole" grep -q "written by another program" "$TESTDIR/mbox"
check "mbox partial: ours exactly once" test "$(grep -c '^Subject: m' "$TESTDIR/mbox")" -eq 4
check "mbox partial: no partial message (From_ lines = Subject lines)" \
	test "$(grep -c '^From ' "$TESTDIR/mbox")" -eq "$(grep -c '^Subject: ' "$TESTDIR/mbox")"
check "mbox partial: quoting intact" test "$(grep -c '^>From line' "$TESTDIR/mbox")" -eq 4

# --- 4. --stdout is confirmed by the whole stream, or nothing counts ---
fresh
# Larger than a pipe's buffer, so the reader's exit is seen as EPIPE.
awk 'BEGIN { printf "Subject: m9\n\n"; for (i = 0; i < 10000; i++) printf "line %d of a big message\n", i }' > "$DROP/009"
{
	RC=0
	timeout 60 "$POPFETCH" --no-received --no-tls -P "$PORT" -u test --password-file "$TESTDIR/pw" \
		--state-dir "$STATE" --stdout 127.0.0.1 2> "$TESTDIR/err" || RC=$?
	echo "$RC" > "$TESTDIR/rc"
} | head -c 100 > /dev/null
RC=$(cat "$TESTDIR/rc")
expect_rc 74 "--stdout into a reader that stops early: EX_IOERR"
check "--stdout into a reader that stops early: nothing recorded" test "$(seen_count)" -eq 0
check "--stdout into a reader that stops early: said on stderr" grep -q "standard output" "$TESTDIR/err"
pf --stdout
expect_rc 0 "--stdout read to the end"
check "--stdout read to the end: every message in the stream" test "$(grep -c '^Subject: m' "$TESTDIR/out")" -eq 5
check "--stdout read to the end: all recorded" test "$(seen_count)" -eq 5
pf --stdout --delete
expect_rc 78 "--stdout --delete is refused"
check "--stdout --delete: the message points at --mda" grep -q -- "--mda" "$TESTDIR/err"

# --- 5. Empty values from unset variables: usage errors, no connection ---
: > "$SLOG"
for opt in --mda --maildir --mbox -u --password-file --state-dir; do
	pf "$opt" ""
	expect_rc 64 "an empty $opt value: EX_USAGE"
done
check "empty values: no connection was made" test ! -s "$SLOG"
# Unusable targets (a path that is a file, a directory for an mbox, an
# mbox in a directory that does not exist): the same, before connecting.
: > "$TESTDIR/afile"
for t in "--maildir $TESTDIR/afile" "--maildir $TESTDIR/afile/md" \
    "--mbox $TESTDIR" "--mbox $TESTDIR/nodir/mbox" "--mbox $TESTDIR/afile/mbox"; do
	# shellcheck disable=SC2086 # an option and its value
	pf $t
	expect_rc 64 "an unusable target ($t): EX_USAGE"
done
check "unusable targets: no connection was made, nothing made" \
	test ! -s "$SLOG" -a ! -e "$TESTDIR/nodir" -a -f "$TESTDIR/afile"

# --- 6. Closed standard descriptors do not corrupt the store ---
fresh
RC=0
timeout 60 "$POPFETCH" -v --no-received --no-tls -P "$PORT" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --maildir "$MD" 127.0.0.1 <&- >&- 2>&- || RC=$?
expect_rc 0 "run with fds 0, 1 and 2 closed (and -v: log lines to write)"
pfm
expect_rc 0 "the next run opens the store"
check "closed fds: every message exactly once" same_contents "$MD/new" "$TESTDIR/orig"
check "closed fds: the store holds the four UIDs" test "$(seen_count)" -eq 4

# --- 7. A backup (--copy) does not mark mail as fetched ---
fresh
pf --copy --mbox "$TESTDIR/backup.mbox"
expect_rc 0 "--copy into a backup mbox"
check "--copy: the backup holds every message" test "$(grep -c '^Subject: m' "$TESTDIR/backup.mbox")" -eq 4
check "--copy: nothing recorded for the account" test "$(seen_count)" -eq 0
pfm --delete
check "after a --copy, a --delete run still delivers everything" same_contents "$MD/new" "$TESTDIR/orig"
msg 005 m5
pf --copy --mbox "$TESTDIR/backup.mbox"
check "--copy again: only the new message is added" test "$(grep -c '^Subject: m' "$TESTDIR/backup.mbox")" -eq 5
pf --copy --delete --mbox "$TESTDIR/backup.mbox"
expect_rc 78 "--copy --delete is refused"

# --- 11. An inherited ignored SIGCHLD ---
fresh
mkdir -p "$TESTDIR/mda"
RC=0
timeout 60 perl -e '$SIG{CHLD} = "IGNORE"; exec @ARGV or die' "$POPFETCH" --no-received --no-tls -P "$PORT" -u test \
	--password-cmd "cat $TESTDIR/pw" --state-dir "$STATE" \
	--mda "cat > $TESTDIR/mda/\$\$" 127.0.0.1 > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
expect_rc 0 "SIGCHLD ignored by the parent: MDA and --password-cmd work"
check "SIGCHLD ignored: each message delivered once" test "$(count_files "$TESTDIR/mda")" -eq 4 -a "$(seen_count)" -eq 4

# --- 13. No descriptor leaks into children; --password-fd is closed ---
# Every descriptor of a child must be its message pipe, the standard
# output and error we gave popfetch, or /dev/null: never the password,
# the store, the lock, the connection or what popfetch inherited.
only_std() {
	sed -n 's/.* -> //p' "$1" | grep -v "^pipe:" | grep -v "^$TESTDIR/err\$" |
		grep -v "^$TESTDIR/out\$" | grep -v "^/dev/null\$" |
		grep -v "^$TESTDIR/fds\.[0-9]*\$" | grep -v "^$TESTDIR/pwfds\$" > "$1.bad"
	[ -s "$1" ] && [ ! -s "$1.bad" ]
}
fresh
exec 7< "$TESTDIR/pw"
RC=0
timeout 60 "$POPFETCH" --no-received --no-tls -P "$PORT" -u test --password-fd 3 --state-dir "$STATE" \
	--mda "cat > /dev/null; ls -l /proc/\$\$/fd/ > $TESTDIR/fds.\$\$; ls -l /proc/\$PPID/fd/ > $TESTDIR/parentfds.\$\$" 127.0.0.1 \
	3< "$TESTDIR/pw" > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
exec 7<&-
expect_rc 0 "MDA run with --password-fd 3 and an inherited fd 7"
cat "$TESTDIR"/fds.* > "$TESTDIR/fds"
check "the MDA gets no descriptor but its pipe and standard output ($(cat "$TESTDIR/fds.bad" 2>/dev/null))" only_std "$TESTDIR/fds"
# Close-on-exec alone would pass the check above: popfetch itself (the
# MDA shell's parent) must no longer hold the --password-fd descriptor
# (fd 3 may be reused by then), while the inherited fd 7 on the same file
# stays (not ours to close), which shows the listing sees it.
cat "$TESTDIR"/parentfds.* > "$TESTDIR/parentfds"
check "--password-fd 3 is closed in popfetch after reading (seen from the MDA)" \
	sh -c "test -s '$TESTDIR/parentfds' && ! grep -q ' 3 -> $TESTDIR/pw\$' '$TESTDIR/parentfds' && grep -q ' 7 -> $TESTDIR/pw\$' '$TESTDIR/parentfds'"
fresh
RC=0
timeout 60 "$POPFETCH" --no-received --no-tls -P "$PORT" -u test --state-dir "$STATE" \
	--password-cmd "ls -l /proc/\$\$/fd/ > $TESTDIR/pwfds; cat /proc/\$PPID/limits > $TESTDIR/limits; cat $TESTDIR/pw" \
	--maildir "$MD" 127.0.0.1 9< "$TESTDIR/pw" < /dev/null > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
expect_rc 0 "--password-cmd run with an inherited fd 9"
check "the password command gets no descriptor but its pipe and stderr" only_std "$TESTDIR/pwfds"
# --- 16. No core dump while a secret is in memory ---
check "no core dumps while the password is read (RLIMIT_CORE 0)" \
	grep -Eq '^Max core file size +0 +0 ' "$TESTDIR/limits"

# --- 14. MDA substitutions are safe whatever the sender says ---
fresh
rm -f "$DROP"/*
printf 'Return-Path: <$(touch %s/pwned)`touch %s/pwned2`"'"'"';x@example.org>\nSubject: s\n\nbody\n' \
	"$TESTDIR" "$TESTDIR" > "$DROP/001"
printf 'Subject: no sender\n\nbody\n' > "$DROP/002"
pf --mda "cat > /dev/null; printf '%s\n' %F >> $TESTDIR/plain; printf '%s\n' \"<%F>\" >> $TESTDIR/dq; echo %T >> $TESTDIR/to"
expect_rc 0 "MDA with %F unquoted and in double quotes"
check "a hostile sender runs nothing" test ! -e "$TESTDIR/pwned" -a ! -e "$TESTDIR/pwned2"
check "%F unquoted: the sender as one word" grep -qF '$(touch' "$TESTDIR/plain"
check "%F in double quotes: the sender inside them" grep -qF '<$(touch' "$TESTDIR/dq"
check "%F without a sender: MAILER-DAEMON" grep -qx 'MAILER-DAEMON' "$TESTDIR/plain"
check "%T: the local user" grep -qx "$(id -un)" "$TESTDIR/to"
: > "$SLOG"
pf --mda "procmail -f '%F'"
expect_rc 74 "%F inside single quotes is refused"
check "%F inside single quotes: refused before connecting" test ! -s "$SLOG"
check "the refusal says why" grep -q "inside single quotes" "$TESTDIR/err"

# --- 15. Control bytes from the server are escaped ---
server_stop
server_start --log "$SLOG" --greeting "$(printf 'evil\033[2J\033]0;title\007 server')" "$DROP" || exit 1
pf --server-info
check "--server-info escapes the greeting's control bytes" \
	sh -c "! grep -q \"\$(printf '\\033')\" '$TESTDIR/out' && grep -q 'evil.x1b' '$TESTDIR/out'"
# An error text from the server (a greeting that refuses service), as
# popfetch prints it on standard error.
RC=0
timeout 60 "$POPFETCH" --no-tls -u test --password-file "$TESTDIR/pw" --state-dir "$STATE" \
	--maildir "$MD" --timeout 5 --tunnel "printf '%s\r\n' \"-ERR go away$(printf '\033[2J\033]0;x\007') now\"; cat > /dev/null" \
	127.0.0.1 > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
check "a server's error text: its control bytes escaped on standard error" \
	sh -c "test $RC -ne 0 && grep -q 'go away' '$TESTDIR/err' && ! grep -q \"\$(printf '\\033')\" '$TESTDIR/err' && ! grep -q \"\$(printf '\\007')\" '$TESTDIR/err'"

# --- 17. The account does not depend on the host name's case ---
fresh
RC=0
pfh() {
	RC=0
	timeout 60 "$POPFETCH" --no-received --no-tls -P "$PORT" -u test --password-file "$TESTDIR/pw" \
		--state-dir "$STATE" --maildir "$MD" "$1" > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
}
pfh localhost
expect_rc 0 "fetch from localhost"
pfh LocalHost
expect_rc 0 "fetch from LocalHost"
check "LocalHost is the same account: nothing fetched twice" same_contents "$MD/new" "$TESTDIR/orig"
check "one state directory for both spellings" test "$(find "$STATE" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 1

finish
