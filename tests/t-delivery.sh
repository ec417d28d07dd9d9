#!/bin/sh
# mbox (mboxrd, locking), stdout, MDA verdicts, and content that must pass
# through untouched: dot lines, 8-bit, NUL, a single line of 10 MB.
. "$srcdir/tests/lib.sh"

msg 001 one "From here on" ">From quoted" "."
msg 002 two "no From here"
server_start --log "$SLOG" "$DROP" || exit 1

# --- mbox ---
MB=$TESTDIR/mbox
printf 'From old Thu Jan  1 00:00:00 1970\nSubject: old\n\nold mail\n' > "$MB"
pf --mbox "$MB"
expect_rc 0 "mbox: fetch"
# Expected: the old content, a blank line (it did not end with one), then
# each message as From_ line + mboxrd-quoted body + blank line.
{
	printf 'From old Thu Jan  1 00:00:00 1970\nSubject: old\n\nold mail\n\n'
	for f in 001 002; do
		printf 'From MAILER-DAEMON DATE\n'
		sed -e 's/^\(>*From \)/>\1/' "$DROP/$f"
		printf '\n'
	done
} > "$TESTDIR/expect"
sed 's/^From MAILER-DAEMON .*/From MAILER-DAEMON DATE/' "$MB" > "$TESTDIR/got"
check "mbox: mboxrd quoting and separators exactly" cmp -s "$TESTDIR/expect" "$TESTDIR/got"
check "mbox: no dotlock left behind" test ! -e "$MB.lock"
pf --mbox "$MB"
check "mbox: second run appends nothing" cmp -s "$TESTDIR/expect" "$(sed 's/^From MAILER-DAEMON .*/From MAILER-DAEMON DATE/' "$MB" > "$TESTDIR/got2"; echo "$TESTDIR/got2")"

# A held dotlock makes the run wait, then fail without touching the mbox.
rm -rf "$STATE"
touch "$MB.lock"
size=$(stat -c %s "$MB")
pf --mbox "$MB" --timeout 1
expect_rc 74 "mbox: a held dotlock is a local error"
check "mbox: the error names the lock" grep -q "dotlock" "$TESTDIR/err"
check "mbox: untouched while locked" test "$(stat -c %s "$MB")" -eq "$size"
rm -f "$MB.lock"

# --- stdout ---
rm -rf "$STATE"
pf --stdout
expect_rc 0 "stdout: fetch"
sed 's/^From MAILER-DAEMON .*/From MAILER-DAEMON DATE/' "$TESTDIR/out" > "$TESTDIR/got"
tail -n +6 "$TESTDIR/expect" > "$TESTDIR/expect2"
check "stdout: an mboxrd stream" cmp -s "$TESTDIR/expect2" "$TESTDIR/got"

# --- MDA ---
OUTD=$TESTDIR/mda
mkdir -p "$OUTD"
rm -rf "$STATE"
pf --mda "cat > $OUTD/\$\$.msg"
expect_rc 0 "MDA exit 0: delivered"
check "MDA: each message on stdin, byte-identical" same_contents "$OUTD" "$DROP"
check "MDA exit 0: recorded as seen" test "$(seen_count)" -eq 2

rm -rf "$STATE" "$OUTD"/*
pf --mda "cat > /dev/null; exit 75"
expect_rc 75 "MDA exit 75: temporary failure"
check "MDA exit 75: not seen" test "$(seen_count)" -eq 0
pf --delete --mda "cat > /dev/null; exit 1"
expect_rc 65 "MDA exit 1: message-level failure"
check "MDA exit 1: not deleted" test "$(count_files "$DROP")" -eq 2
pf --delete --mda 'kill -9 $$'
check "MDA killed by a signal: failure, not seen, not deleted" test "$RC" -ne 0 -a "$(seen_count)" -eq 0 -a "$(count_files "$DROP")" -eq 2
check "MDA killed: the error says so" grep -q "signal 9" "$TESTDIR/err"
pf --mda "cat > $OUTD/\$\$.msg"
expect_rc 0 "MDA: a later good run delivers"
check "MDA: delivered after earlier failures" same_contents "$OUTD" "$DROP"

# An MDA that stops reading early has not taken the message.
server_stop
rm -rf "$STATE" "$DROP"/*
awk 'BEGIN { printf "Subject: big\n\n"; for (i = 0; i < 20000; i++) printf "line %d of a big message\n", i }' > "$DROP/big"
server_start --log "$SLOG" "$DROP" || exit 1
pf --delete --mda "head -c 10 > /dev/null"
check "MDA stopping early: failure, not seen, not deleted" test "$RC" -ne 0 -a "$(seen_count)" -eq 0 -a "$(count_files "$DROP")" -eq 1
check "MDA stopping early: the error says so" grep -q "stopped reading" "$TESTDIR/err"

# Substitutions: %F from Return-Path, %u the user, shell-quoted.
server_stop
rm -rf "$STATE" "$DROP"/*
printf "Return-Path: <it's@example.org>\nSubject: s\n\nbody\n" > "$DROP/001"
server_start --log "$SLOG" "$DROP" || exit 1
pf --mda "cat > /dev/null; printf '%s|%s|%s|%%s' %F %u \"\$POPFETCH_SERVER\" > $OUTD/subst"
check "MDA: %F, %u, %% and POPFETCH_SERVER substituted safely" test "$(cat "$OUTD/subst")" = "it's@example.org|test|127.0.0.1|"

# A body of nothing but "From " lines grows by a sixth when quoted (a
# fuzzer found the quoting buffer sized for less).
server_stop
rm -rf "$STATE" "$DROP"/*
awk 'BEGIN { printf "Subject: froms\n\n"; for (i = 0; i < 1400; i++) printf "From \n" }' > "$DROP/froms"
server_start --log "$SLOG" "$DROP" || exit 1
rm -f "$TESTDIR/mbox"
pf --mbox "$TESTDIR/mbox"
expect_rc 0 "mbox: 1400 From_ lines in a body"
check "mbox: every one quoted" test "$(grep -c '^>From $' "$TESTDIR/mbox")" -eq 1400
rm -rf "$STATE"
pf --stdout
check "stdout: every one quoted" test "$RC" -eq 0 -a "$(grep -c '^>From $' "$TESTDIR/out")" -eq 1400

# --- content that must pass untouched ---
server_stop
rm -rf "$STATE" "$MD" "$DROP"/*
awk 'BEGIN { printf "Subject: long\n\n"; for (i = 0; i < 1048576; i++) printf "0123456789"; printf "\n" }' > "$DROP/long"
printf 'Subject: nul\n\na\000b\nc\rd\n\377\n' > "$DROP/nul"
printf 'Subject: dots\n\n.\n..\n...x\n. \n' > "$DROP/dots"
printf 'Subject: noeol\n\nno newline at the end' > "$DROP/noeol"
server_start --log "$SLOG" "$DROP" || exit 1
pfm
expect_rc 0 "10 MB line, NUL, CRLF in the body, dots"
for f in long nul dots; do
	check "$f: byte-identical" has_copy "$DROP/$f" "$MD/new"
done
printf '\n' >> "$DROP/noeol"
check "no newline at the end: delivered with one added" has_copy "$DROP/noeol" "$MD/new"

finish
