#!/bin/sh
# kill -9 at every step of a run (POPFETCH_CRASH_AT, a test-only hook),
# then run again until it completes (DESIGN.md invariants 1-3):
# Maildir - every message exactly once, byte-identical; mbox - every
# message, no partial one, at most one duplicate per crash; the store opens
# cleanly; deletions never committed by QUIT are issued again.
. "$srcdir/tests/lib.sh"

for i in 1 2 3 4 5; do
	msg "00$i" "m$i" "From line $i" ".dot"
done
cp -r "$DROP" "$TESTDIR/orig"
server_start --log "$SLOG" "$DROP" || exit 1

reset() {
	server_stop
	rm -rf "$DROP" "$MD" "$STATE" "$TESTDIR/mbox"
	cp -r "$TESTDIR/orig" "$DROP"
	server_start --log "$SLOG" "$DROP" || exit 1
}

# crash_maildir POINT: kill there, rerun to completion, check exactly once.
crash_maildir() {
	reset
	POPFETCH_CRASH_AT=$1 pfm --delete --batch 2
	unset POPFETCH_CRASH_AT
	if [ "$RC" -ne 137 ]; then fail "maildir $1: not killed (exit $RC)"; return; fi
	pfm --delete --batch 2
	expect_rc 0 "maildir $1: the next run completes"
	check "maildir $1: every message exactly once, byte-identical" same_contents "$MD/new" "$TESTDIR/orig"
	check "maildir $1: nothing left in tmp/" test "$(count_files "$MD/tmp")" -eq 0
	check "maildir $1: the server is empty (deletions re-issued)" test "$(count_files "$DROP")" -eq 0
}

for p in retr retr:3 written written:4 synced synced:2 journaled journaled:3 \
    published published:2 committed committed:3 dele dele:4 before-quit; do
	crash_maildir "$p"
done

# A crash inside recovery itself, with a journal to recover.
reset
POPFETCH_CRASH_AT=journaled pfm --batch 2
POPFETCH_CRASH_AT=recovery pfm --batch 2
unset POPFETCH_CRASH_AT
check "recovery: killed inside recovery" test "$RC" -eq 137
pfm --batch 2
expect_rc 0 "recovery: the run after a crash in recovery completes"
check "recovery: every message exactly once" same_contents "$MD/new" "$TESTDIR/orig"

# mbox: no partial message, every message, at most one duplicate per crash.
crash_mbox() {
	reset
	POPFETCH_CRASH_AT=$1 pf --mbox "$TESTDIR/mbox" --delete --batch 2
	unset POPFETCH_CRASH_AT
	if [ "$RC" -ne 137 ]; then fail "mbox $1: not killed (exit $RC)"; return; fi
	pf --mbox "$TESTDIR/mbox" --delete --batch 2
	expect_rc 0 "mbox $1: the next run completes"
	missing=0
	for i in 1 2 3 4 5; do
		n=$(grep -c "^Subject: m$i\$" "$TESTDIR/mbox")
		[ "$n" -ge 1 ] && [ "$n" -le 2 ] || missing=1
	done
	check "mbox $1: every message present, at most one duplicate" test "$missing" -eq 0
	check "mbox $1: no partial message (From_ lines = Subject lines)" \
		test "$(grep -c '^From ' "$TESTDIR/mbox")" -eq "$(grep -c '^Subject: ' "$TESTDIR/mbox")"
	check "mbox $1: quoting intact" test "$(grep -c '^>From line' "$TESTDIR/mbox")" -eq "$(grep -c '^Subject: ' "$TESTDIR/mbox")"
	check "mbox $1: the server is empty" test "$(count_files "$DROP")" -eq 0
}

for p in retr:3 written:2 synced journaled published committed dele before-quit; do
	crash_mbox "$p"
done

# Killed after unlocking the mbox but before recording the batch: another
# program appends; recovery must finish our batch, not cut the file back
# (which would destroy the other program's mail).
reset
POPFETCH_CRASH_AT=published pf --mbox "$TESTDIR/mbox" --batch 10
unset POPFETCH_CRASH_AT
printf 'From other@example.org Sat Nov 21 00:00:00 2026\nSubject: procmail\n\nappended by another program\n\n' >> "$TESTDIR/mbox"
pf --mbox "$TESTDIR/mbox" --batch 10
expect_rc 0 "mbox appended to after a crash: the next run completes"
check "mbox appended to after a crash: the other program's mail survives" grep -q "appended by another program" "$TESTDIR/mbox"
check "mbox appended to after a crash: our messages exactly once" test "$(grep -c '^Subject: m' "$TESTDIR/mbox")" -eq 5

# MDA: at least once. Killed anywhere, then run to the end: every message
# reached the MDA at least once, and the server is empty.
for p in retr:2 written:2 synced committed dele:2 before-quit; do
	reset
	rm -rf "$TESTDIR/mda" && mkdir -p "$TESTDIR/mda"
	POPFETCH_CRASH_AT=$p pf --mda "cat > $TESTDIR/mda/\$\$" --delete --batch 2
	unset POPFETCH_CRASH_AT
	pf --mda "cat > $TESTDIR/mda/\$\$" --delete --batch 2
	expect_rc 0 "mda $p: the next run completes"
	missing=0
	for f in "$TESTDIR"/orig/*; do
		has_copy "$f" "$TESTDIR/mda" || missing=$((missing + 1))
	done
	check "mda $p: every message delivered at least once ($missing missing)" test "$missing" -eq 0
	check "mda $p: the server is empty" test "$(count_files "$DROP")" -eq 0
done

# Duplicate UIDs and crashes: identical copies under X, different ones
# under Y; killed at each step with --delete, then run to the end: each
# content exactly once, and every copy deleted only once delivered.
mkdir -p "$TESTDIR/dup"
cp "$TESTDIR/orig/001" "$TESTDIR/dup/001"
cp "$TESTDIR/orig/001" "$TESTDIR/dup/002"
cp "$TESTDIR/orig/002" "$TESTDIR/dup/003"
cp "$TESTDIR/orig/003" "$TESTDIR/dup/004"
printf '001\tX\n002\tX\n003\tY\n004\tY\n' > "$TESTDIR/dup/.uidl"
for p in retr:2 written:2 journaled published committed dele:3 before-quit; do
	server_stop
	rm -rf "$DROP" "$MD" "$STATE"
	cp -r "$TESTDIR/dup" "$DROP"
	server_start --log "$SLOG" "$DROP" || exit 1
	POPFETCH_CRASH_AT=$p pfm --delete --batch 1
	unset POPFETCH_CRASH_AT
	pfm --delete --batch 1
	pfm --delete --batch 1
	expect_rc 0 "dup UIDs, killed at $p: later runs complete"
	check "dup UIDs, killed at $p: three distinct contents, each once" \
		test "$(count_files "$MD/new")" -eq 3 -a "$(sums "$MD/new" | awk '{print $1}' | sort -u | wc -l)" -eq 3
	check "dup UIDs, killed at $p: the server is empty" test "$(count_files "$DROP")" -eq 0
done

finish
