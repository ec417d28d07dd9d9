#!/bin/sh
# Tolerant reading (DESIGN.md invariant 6, MS-STANOPOP3): each server quirk
# alone and all together must still give a byte-identical delivery.
. "$srcdir/tests/lib.sh"

msg 001 one ".stuffed" "."
msg 002 two
printf 'Subject: 8bit\n\n\303\244\303\266 \377\376 and a NUL: \000 end\n' > "$DROP/003"

quirk() {
	name=$1
	shift
	rm -rf "$MD" "$STATE"
	server_start --log "$SLOG" "$@" "$DROP" || { fail "$name: server"; return; }
	pfm
	expect_rc 0 "$name: fetch"
	check "$name: byte-identical delivery" same_contents "$MD/new" "$DROP"
	pfm
	check "$name: nothing new on the second run" test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 3
	server_stop
}

quirk "V0001 lowercase +ok/-err" --lowercase
quirk "V0001 bare + replies" --bare-plus
quirk "C0004/C0017/C0021/C0038 tabs and runs of blanks" --tabs
quirk "C0017/C0021/C0038 extra text after fields" --extra-text
quirk "Exchange 2.1.4/2.1.5 sizes that are not octet counts" --fake-sizes
quirk "bare LF line ends" --bare-lf
quirk "no CAPA" --no-capa
quirk "no TOP" --no-top
quirk "all quirks at once" --lowercase --tabs --extra-text --fake-sizes --bare-lf --no-capa --no-top

# Exchange C0007-C0009: UIDs are increasing decimal numbers.
printf '001\t4711\n002\t4712\n003\t100000\n' > "$DROP/.uidl"
quirk "Exchange C0007-C0009 decimal UIDs" --tabs
rm -f "$DROP/.uidl"

rm -rf "$MD" "$STATE"
server_start --log "$SLOG" --no-uidl "$DROP" || exit 1
pfm
# Issue 10: without UIDL, messages are identified by their header blocks.
expect_rc 0 "no UIDL: fetched by header identity"
check "no UIDL: the user is told how messages are identified" grep -q "does not support UIDL.*header blocks" "$TESTDIR/err"
check "no UIDL: every message, byte-identical" same_contents "$MD/new" "$DROP"
check "no UIDL: identified with TOP n 0, not downloaded to find out" test "$(grep -c '^TOP [0-9]* 0$' "$SLOG")" -eq 3
pfm
check "no UIDL, keep: the next run fetches nothing it has" test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 3 -a "$(last_session | grep -c '^RETR')" -eq 0
pfm --delete
check "no UIDL, --delete: exactly once, and the server is empty" test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 3 -a "$(count_files "$DROP")" -eq 0

finish
