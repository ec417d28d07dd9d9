#!/bin/sh
# Duplicate UIDs (C0040, C0041; DESIGN.md invariant 7): identical copies are
# delivered once, different contents each, no copy is deleted unless its
# content was delivered, and the same listing again fetches nothing.
. "$srcdir/tests/lib.sh"

msg 001 same
cp "$DROP/001" "$DROP/002"
msg 003 other
msg 004 unique
printf '001\tX\n002\tX\n003\tY\n004\tZ\n' > "$DROP/.uidl"
# 003 shares UID Y with nothing yet; make 005 a different content under Y.
msg 005 different
printf '005\tY\n' >> "$DROP/.uidl"
server_start --log "$SLOG" "$DROP" || exit 1

pfm
expect_rc 0 "C0041: fetch with duplicate UIDs"
check "C0041: identical copies (UID X) delivered once" test "$(grep -l 'Subject: same' "$MD"/new/* | wc -l)" -eq 1
check "C0040: different contents under one UID (Y) each delivered" \
	test "$(grep -l -e 'Subject: other' -e 'Subject: different' "$MD"/new/* | wc -l)" -eq 2
check "four messages delivered in all" test "$(count_files "$MD/new")" -eq 4

pfm
expect_rc 0 "same listing again"
check "the same listing again fetches nothing" no_retr
check "still four messages" test "$(count_files "$MD/new")" -eq 4

# A third copy under X with new content appears later.
msg 006 third
printf '006\tX\n' >> "$DROP/.uidl"
pfm
expect_rc 0 "a third copy under UID X"
check "the new content under X is delivered, the old ones not again" \
	test "$(count_files "$MD/new")" -eq 5 -a "$(grep -l 'Subject: third' "$MD"/new/* | wc -l)" -eq 1
pfm
check "and then nothing new" test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 5

# --delete: every copy is fetched and compared before it is deleted.
pfm --delete
expect_rc 0 "--delete with duplicate UIDs"
check "--delete: all copies whose content was delivered are gone" test "$(count_files "$DROP")" -eq 0
check "--delete: no duplicate delivered" test "$(count_files "$MD/new")" -eq 5

# A copy whose content was never delivered is not deleted: fail its
# delivery (MDA exit 1) and check it stays while the others go.
server_stop
rm -rf "$DROP"/* "$DROP/.uidl" "$STATE"
msg 001 a
msg 002 b
printf '001\tD\n002\tD\n' > "$DROP/.uidl"
server_start --log "$SLOG" "$DROP" || exit 1
mkdir -p "$TESTDIR/mda"
pf --delete --mda "if grep -q 'Subject: b' ; then exit 1; fi; cat > /dev/null"
expect_rc 65 "a failing copy is a message-level failure"
check "the copy whose content failed stays on the server" test -e "$DROP/002"
check "the copy whose content was delivered is deleted" test ! -e "$DROP/001"
pf --delete --mda "cat > $TESTDIR/mda/\$\$"
expect_rc 0 "the next run delivers the remaining copy"
check "only the remaining copy was delivered" test "$(count_files "$TESTDIR/mda")" -eq 1 -a "$(count_files "$DROP")" -eq 0
check "the remaining copy is the one that had failed" grep -q 'Subject: b' "$TESTDIR"/mda/*

# The same, but the surviving copy is one already delivered: it must be
# recognised by content, not delivered twice, and then deleted.
server_stop
rm -rf "$DROP"/* "$STATE" "$TESTDIR"/mda/*
msg 001 a
msg 002 b
printf '001\tE\n002\tE\n' > "$DROP/.uidl"
server_start --log "$SLOG" "$DROP" || exit 1
pf --mda "if grep -q 'Subject: b' ; then exit 1; fi; cat > $TESTDIR/mda/\$\$"
rm -f "$DROP/002"
printf '001\tE\n' > "$DROP/.uidl"
pf --delete --mda "cat > $TESTDIR/mda/\$\$"
expect_rc 0 "a lone copy of a half-handled UID"
check "its content, already delivered, is not delivered again" test "$(count_files "$TESTDIR/mda")" -eq 1
check "and it is deleted once its content is known delivered" test "$(count_files "$DROP")" -eq 0

finish
