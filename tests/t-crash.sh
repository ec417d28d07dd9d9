#!/bin/sh
# kill -9 at every step of a run (POPFETCH_CRASH_AT, a test-only hook),
# then run again until it completes (DESIGN.md invariants 1-3):
# Maildir - every message exactly once, byte-identical; mbox - every
# message, no partial one, at most one duplicate per crash; MDA - every
# message at least once; the store opens cleanly; deletions never
# committed by QUIT are issued again; duplicate UIDs keep each content
# once. One case (tests/cases/README) per crash point and delivery
# method, written here and run by tests/cases.sh, in parallel.
set -u
: "${srcdir:=.}"
GEN=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-crash.XXXXXX") || exit 1
trap 'rm -rf "$GEN"' EXIT
trap 'exit 1' HUP INT TERM PIPE

# The maildrop of every case: five messages with From_ and dot lines.
drop() {
	for i in 1 2 3 4 5; do
		echo "%msg 00$i m$i \"From line $i\" \".dot\""
	done
}

# ---- Maildir: exactly once.
for p in retr retr:3 written written:4 synced synced:2 journaled journaled:3 \
    published published:2 committed committed:3 dele dele:4 before-quit; do
	{
		drop
		cat <<CASE
%crash $p
%step maildir $p: killed there
%fetch --delete --batch 2
%rc 137
%step maildir $p: the next run completes
%fetch --delete --batch 2
%rc 0
%same new orig
%count tmp 0
%count drop 0
CASE
	} > "$GEN/maildir-$p.case"
done

# ---- A crash inside recovery itself, with a journal to recover.
{
	drop
	cat <<'CASE'
%crash journaled
%fetch --batch 2
%crash recovery
%step recovery: killed inside recovery
%fetch --batch 2
%rc 137
%step recovery: the run after a crash in recovery completes
%fetch --batch 2
%rc 0
%same new orig
CASE
} > "$GEN/recovery.case"

# ---- mbox: every message, no partial one, at most one duplicate.
for p in retr:3 written:2 synced journaled published committed dele before-quit; do
	{
		drop
		cat <<CASE
%crash $p
%step mbox $p: killed there
%run --mbox "\$MBOX" --delete --batch 2
%rc 137
%step mbox $p: the next run completes
%run --mbox "\$MBOX" --delete --batch 2
%rc 0
%sh
each_once_or_twice() {
	for i in 1 2 3 4 5; do
		n=\$(grep -c "^Subject: m\$i\\\$" "\$MBOX")
		[ "\$n" -ge 1 ] && [ "\$n" -le 2 ] || return 1
	done
}
%check "every message present, at most one duplicate" each_once_or_twice
%check "no partial message (From_ lines = Subject lines)" test "\$(grep -c '^From ' "\$MBOX")" -eq "\$(grep -c '^Subject: ' "\$MBOX")"
%check "quoting intact" test "\$(grep -c '^>From line' "\$MBOX")" -eq "\$(grep -c '^Subject: ' "\$MBOX")"
%count drop 0
CASE
	} > "$GEN/mbox-$p.case"
done

# ---- Killed after unlocking the mbox but before recording the batch:
# another program appends; recovery must finish our batch, not cut the
# file back (which would destroy the other program's mail).
{
	drop
	cat <<'CASE'
%crash published
%step mbox appended to after a crash: killed
%run --mbox "$MBOX" --batch 10
%rc 137
%sh
printf 'From other@example.org Sat Nov 21 00:00:00 2026\nSubject: procmail\n\nappended by another program\n\n' >> "$MBOX"
%step mbox appended to after a crash: the next run completes
%run --mbox "$MBOX" --batch 10
%rc 0
%check "the other program's mail survives" grep -q "appended by another program" "$MBOX"
%check "our messages exactly once" test "$(grep -c '^Subject: m' "$MBOX")" -eq 5
CASE
} > "$GEN/mbox-appended.case"

# ---- MDA: at least once. Killed anywhere, then run to the end: every
# message reached the MDA at least once, and the server is empty.
for p in retr:2 written:2 synced committed dele:2 before-quit; do
	{
		drop
		cat <<CASE
%crash $p
%step mda $p: killed there
%run --mda "cat > \$MDA/\\\$\\\$" --delete --batch 2
%step mda $p: the next run completes
%run --mda "cat > \$MDA/\\\$\\\$" --delete --batch 2
%rc 0
%subset orig mda
%count drop 0
CASE
	} > "$GEN/mda-$p.case"
done

# ---- Duplicate UIDs and crashes: identical copies under X, different
# ones under Y; killed at each step with --delete, then run to the end:
# each content exactly once, and every copy deleted only once delivered.
for p in retr:2 written:2 journaled published committed dele:3 before-quit; do
	cat > "$GEN/dup-$p.case" <<CASE
%msg 001 m1 "From line 1" ".dot"
%msg 003 m2 "From line 2" ".dot"
%msg 004 m3 "From line 3" ".dot"
%sh
cp "\$DROP/001" "\$DROP/002"
printf '001\\tX\\n002\\tX\\n003\\tY\\n004\\tY\\n' > "\$DROP/.uidl"
%crash $p
%step dup UIDs, killed at $p
%fetch --delete --batch 1
%fetch --delete --batch 1
%step dup UIDs, killed at $p: later runs complete
%fetch --delete --batch 1
%rc 0
%count new 3
%check "three distinct contents" test "\$(sums "\$MD/new" | awk '{print \$1}' | sort -u | wc -l)" -eq 3
%count drop 0
CASE
done

CASES_NAME=t-crash sh "$srcdir/tests/cases.sh" "$GEN"/*.case
