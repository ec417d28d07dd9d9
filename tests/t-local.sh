#!/bin/sh
# SPDX-License-Identifier: ISC
# Local failures (DESIGN.md invariants 1 and 8): a full disk, a write
# error, a permission error. The message stays on the server and unseen,
# the error names the target, and a later run with space or rights
# succeeds. Root ignores file permissions, so the permission tests drop to
# the unprivileged user popfetch-test (created if missing, as for dovecot).
# The test server is a real one on a port: a --stdio one would run as the
# client's user, under its file size limit.
. "$srcdir/tests/lib.sh"

msg 001 small-one
awk 'BEGIN { printf "Subject: big\n\n"; for (i = 0; i < 3000; i++) printf "a line of a big message %d\n", i }' > "$DROP/002"
msg 003 small-two
cp -r "$TESTDIR/drop" "$TESTDIR/orig"
server_start --log "$SLOG" "$DROP" || bail "server_start"

# The server reads the maildrop afresh for each session.
restore() {
	rm -rf "$DROP" "$STATE" "$MD" "$TESTDIR/mbox"
	cp -r "$TESTDIR/orig" "$DROP"
}

# --- a full disk: a real small filesystem when we may mount one ---
if [ "$(id -u)" -eq 0 ]; then
	FS=$TESTDIR/fs
	mkdir -p "$FS"
	if mount -t tmpfs -o size=160k,mode=0755 tmpfs "$FS"; then
		on_exit 'umount "$FS" 2>/dev/null'
		for method in maildir mbox; do
			restore
			rm -rf "${FS:?}"/*
			head -c 100000 /dev/zero > "$FS/filler"
			if [ $method = maildir ]; then
				target=$FS/Maildir
				pf --maildir "$target" --delete
			else
				target=$FS/mbox
				pf --mbox "$target" --delete
			fi
			expect_rc 74 "disk full ($method): EX_IOERR"
			check "disk full ($method): the error names the target" grep -q "$target" "$TESTDIR/err"
			check "disk full ($method): the big message stays on the server" test -e "$DROP/002"
			check "disk full ($method): it is not recorded as seen" sh -c "! '$POPFETCH' -u test --state-dir '$STATE' -P '$PORT' --list-seen 127.0.0.1 | grep -q '^002'"
			if [ $method = maildir ]; then
				check "disk full (maildir): no partial file" test "$(count_files "$target/tmp")" -eq 0
			else
				check "disk full (mbox): no partial message" test "$(grep -c '^From ' "$target")" -eq "$(grep -c '^Subject: ' "$target")" \
					-a "$(grep -c '^Subject: big' "$target")" -eq "$(grep -c '^a line of a big message 2999$' "$target")"
			fi
			rm -f "$FS/filler"
			if [ $method = maildir ]; then pf --maildir "$target" --delete; else pf --mbox "$target" --delete; fi
			expect_rc 0 "disk full ($method): a later run with space succeeds"
			check "disk full ($method): the server is empty" test "$(count_files "$DROP")" -eq 0
			if [ $method = maildir ]; then
				check "disk full (maildir): every message exactly once" same_contents "$target/new" "$TESTDIR/orig"
			else
				check "disk full (mbox): every message exactly once" test "$(grep -c '^Subject: ' "$target")" -eq 3
			fi
		done
		umount "$FS"
	else
		fail "cannot mount a small tmpfs as root"
	fi
fi

# --- a write error: a file size limit (works for any user) ---
restore
RC=0
(ulimit -f 40; pfm --delete; exit "$RC") || RC=$?
expect_rc 74 "write error (file size limit): EX_IOERR"
check "write error: the error names the Maildir" grep -q "maildir $MD" "$TESTDIR/err"
check "write error: the big message stays on the server" test -e "$DROP/002"
pfm --delete
expect_rc 0 "write error: a later run succeeds"
check "write error: every message exactly once" same_contents "$MD/new" "$TESTDIR/orig"

# --- permission errors ---
if [ "$(id -u)" -eq 0 ]; then
	id popfetch-test > /dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin popfetch-test
	AS="setpriv --reuid=popfetch-test --regid=popfetch-test --clear-groups"
	OWNER=popfetch-test:popfetch-test
else
	AS=
	OWNER=$(id -u):$(id -g)
fi
# pfas: pf as $AS (the watchdog is the prefix pf puts before popfetch).
pfas() {
	_w=$PF_WATCHDOG
	PF_WATCHDOG="timeout 60 $AS"
	pf "$@"
	PF_WATCHDOG=$_w
}
restore
mkdir -p "$STATE" "$MD/tmp" "$MD/new" "$MD/cur"
chown -R "$OWNER" "$STATE" "$MD" "$TESTDIR/pw"
chmod 500 "$MD/tmp"
pfas --maildir "$MD" --delete
expect_rc 74 "a Maildir we may not write: EX_IOERR"
check "permission: the error names the path and the reason" grep -q "$MD/tmp.*Permission denied" "$TESTDIR/err"
check "permission: nothing deleted" test "$(count_files "$DROP")" -eq 3
check "permission: nothing recorded" test "$($AS "$POPFETCH" -u test --state-dir "$STATE" -P "$PORT" --list-seen 127.0.0.1 | wc -l)" -eq 0
chmod 700 "$MD/tmp"
pfas --maildir "$MD" --delete
expect_rc 0 "permission fixed: the next run succeeds"
check "permission fixed: every message exactly once" same_contents "$MD/new" "$TESTDIR/orig"

restore
mkdir -p "$STATE"
touch "$TESTDIR/mbox"
chown -R "$OWNER" "$STATE" "$TESTDIR/pw" "$TESTDIR/mbox"
chmod 400 "$TESTDIR/mbox"
pfas --mbox "$TESTDIR/mbox" --delete
expect_rc 74 "an mbox we may not write: EX_IOERR"
check "permission (mbox): the error names the file" grep -q "mbox $TESTDIR/mbox: cannot open $TESTDIR/mbox: Permission denied" "$TESTDIR/err"
check "permission (mbox): nothing deleted" test "$(count_files "$DROP")" -eq 3
chmod 600 "$TESTDIR/mbox"
pfas --mbox "$TESTDIR/mbox" --delete
expect_rc 0 "permission fixed (mbox): the next run succeeds"
check "permission fixed (mbox): all three messages" test "$(grep -c '^Subject: ' "$TESTDIR/mbox")" -eq 3

finish
