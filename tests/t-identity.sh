#!/bin/sh
# SPDX-License-Identifier: ISC
# Servers without usable UIDs (issue 10): no UIDL, no UIDL and no TOP,
# UIDs that are message numbers, UIDs renumbered by a migration, a change
# of identity scheme, and a reply that never ends. Nothing lost, nothing
# delivered twice. UIDL is optional in RFC 1939; C0038 (the UIDL listing)
# is read as tolerantly as ever where it exists. Clauses: C0037 (a server
# that refuses UIDL is fetched from, not refused), C0033/C0034 and Exchange
# V0007 (TOP n 0 in TRANSACTION, its reply read as a header block), C0039
# and C0040 (UIDs that are message numbers or renumbered are detected).
. "$srcdir/tests/lib.sh"

fresh() {
	server_stop
	rm -rf "$DROP" "$MD" "$STATE"
	mkdir -p "$DROP"
	: > "$SLOG"
}

uidl_file() {
	: > "$DROP/.uidl"
	while [ $# -gt 1 ]; do
		printf '%s\t%s\n' "$1" "$2" >> "$DROP/.uidl"
		shift 2
	done
}

# --- No UIDL: identity from the header block; duplicates as invariant 7 ---
fresh
msg 001 one
msg 002 two
cp "$DROP/001" "$DROP/003"		# an identical copy
{ sed -n '1,/^$/p' "$DROP/002"; printf 'another body with the same headers\n'; } > "$DROP/004"
cp -r "$DROP" "$TESTDIR/orig"
server_start --log "$SLOG" --no-uidl "$DROP" || exit 1
pfm
expect_rc 0 "no UIDL: a run"
check "no UIDL: identical copies delivered once, same headers but other bodies each" \
	test "$(count_files "$MD/new")" -eq 3 -a "$(grep -l 'Subject: one' "$MD"/new/* | wc -l)" -eq 1 -a \
	"$(grep -l 'Subject: two' "$MD"/new/* | wc -l)" -eq 2
"$POPFETCH" -u test --state-dir "$STATE" -P "$PORT" --list-seen 127.0.0.1 > "$TESTDIR/seen"
check "no UIDL: the store keys them by header identity, one key per header block" \
	test "$(grep -c '^hdr-[0-9a-f]\{64\}	' "$TESTDIR/seen")" -eq 2
check "no UIDL: the key with two bodies holds two contents" \
	test "$(awk -F '\t' '$4 == 2' "$TESTDIR/seen" | wc -l)" -eq 1
pfm
check "no UIDL, keep: nothing new the next time" test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 3 -a "$(last_session | grep -c '^RETR')" -eq 0
pfm --delete
check "no UIDL, --delete: every copy deleted, each content once" \
	test "$RC" -eq 0 -a "$(count_files "$DROP")" -eq 0 -a "$(count_files "$MD/new")" -eq 3

# --- No UIDL and no TOP: identified on arrival ---
fresh
msg 001 one
msg 002 two
cp -r "$DROP" "$TESTDIR/orig2"
server_start --log "$SLOG" --no-uidl --no-top "$DROP" || exit 1
pfm
expect_rc 0 "no UIDL, no TOP: a run"
check "no UIDL, no TOP: every message, byte-identical" same_contents "$MD/new" "$TESTDIR/orig2"
check "no UIDL, no TOP: said once, with the advice" test "$(grep -c 'neither usable UIDs nor TOP.*--delete' "$TESTDIR/err")" -eq 1
pfm
expect_rc 0 "no UIDL, no TOP: the next run"
check "no UIDL, no TOP: downloaded again, delivered nothing" \
	test "$(last_session | grep -c '^RETR')" -eq 2 -a "$(count_files "$MD/new")" -eq 2
msg 003 three
pfm --delete
check "no UIDL, no TOP, --delete: only the new one delivered, all deleted" \
	test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 3 -a "$(count_files "$DROP")" -eq 0

# --- UIDs that are message numbers ---
fresh
msg 001 one
msg 002 two
msg 003 three
uidl_file 001 1 002 2 003 3
server_start --log "$SLOG" "$DROP" || exit 1
pfm
expect_rc 0 "UIDs that are message numbers: a run"
check "UIDs that are message numbers: detected and said" grep -q "UIDs are message numbers" "$TESTDIR/err"
check "UIDs that are message numbers: all three fetched" test "$(count_files "$MD/new")" -eq 3
# Another client deletes message 1; new mail takes UID 3, already seen.
rm "$DROP/001"
msg 004 four
uidl_file 002 1 003 2 004 3
pfm
expect_rc 0 "after another client's delete"
check "new mail under a reused message-number UID is fetched (not skipped)" \
	test "$(count_files "$MD/new")" -eq 4 -a "$(grep -l 'Subject: four' "$MD"/new/* | wc -l)" -eq 1
check "and nothing else again" test "$(last_session | grep -c '^RETR')" -eq 1
check "the warning is given once, not on every run" sh -c "! grep -q 'message numbers' '$TESTDIR/err'"

# --- UIDs renumbered by a server migration ---
fresh
i=1
while [ $i -le 12 ]; do
	f=$(printf '%03d' $i)
	msg "$f" "m$i"
	i=$((i + 1))
done
uidl_file 001 a1 002 a2 003 a3 004 a4 005 a5 006 a6 007 a7 008 a8 009 a9 010 a10 011 a11 012 a12
server_start --log "$SLOG" "$DROP" || exit 1
pfm
check "before the migration: 12 messages" test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 12
msg 013 m13
uidl_file 001 b1 002 b2 003 b3 004 b4 005 b5 006 b6 007 b7 008 b8 009 b9 010 b10 011 b11 012 b12 013 b13
: > "$SLOG"
pfm -v
expect_rc 0 "after the migration"
check "renumbered UIDs: found by identity, only the new message downloaded" \
	test "$(grep -c '^RETR' "$SLOG")" -eq 1 -a "$(count_files "$MD/new")" -eq 13
check "renumbered UIDs: the user is told" grep -q "looking for renumbered messages" "$TESTDIR/err"
pfm
check "renumbered UIDs: re-keyed in the store, nothing new the next time" \
	test "$RC" -eq 0 -a "$(last_session | grep -c '^RETR\|^TOP')" -eq 0
pfm --delete
check "renumbered UIDs, --delete: the server is emptied, nothing twice" \
	test "$RC" -eq 0 -a "$(count_files "$DROP")" -eq 0 -a "$(count_files "$MD/new")" -eq 13

# --- A change of scheme: UIDL comes back ---
fresh
msg 001 one
msg 002 two
server_start --log "$SLOG" --no-uidl "$DROP" || exit 1
pfm
server_stop
uidl_file 001 u1 002 u2
msg 003 three
server_start --log "$SLOG" "$DROP" || exit 1
: > "$SLOG"
pfm
expect_rc 0 "UIDL usable again"
check "change of scheme: logged" grep -q "usable again" "$TESTDIR/err"
check "change of scheme: nothing downloaded again, the new one fetched" \
	test "$(grep -c '^RETR' "$SLOG")" -eq 1 -a "$(count_files "$MD/new")" -eq 3

# --- A reply that never ends: one endless line ---
fresh
msg 001 before
awk 'BEGIN { printf "Subject: endless\n\n"; for (i = 0; i < 300000; i++) printf "an endless line without an end "; printf "\n" }' > "$DROP/002"
server_start --log "$SLOG" --small-sizes "$DROP" || exit 1
pfm --max-size 0
expect_rc 75 "an endless line: given up, 75"
check "an endless line: the message before it delivered, nothing of it" \
	test "$(count_files "$MD/new")" -eq 1 -a "$(grep -l 'Subject: endless' "$MD"/new/* 2>/dev/null | wc -l)" -eq 0
check "an endless line: one line saying why" test "$(grep -c 'does not end' "$TESTDIR/err")" -eq 1
server_stop
server_start --log "$SLOG" "$DROP" || exit 1
pfm --max-size 0
check "an endless line: an honest server's next run fetches it" test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 2

finish
