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
expect_rc 69 "no UIDL: refused with EX_UNAVAILABLE"
check "no UIDL: the error says why" grep -q "does not support UIDL" "$TESTDIR/err"
check "no UIDL: nothing delivered, nothing deleted" test "$(count_files "$MD/new")" -eq 0 -a "$(count_files "$DROP")" -eq 3

finish
