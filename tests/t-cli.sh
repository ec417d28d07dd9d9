#!/bin/sh
# SPDX-License-Identifier: ISC
# The command line: usage errors, configuration errors, password sources
# (never argv), version and help, a server nobody runs, and the exit
# statuses they give. The server, where one is needed, is the --stdio
# test server behind --tunnel (tests/lib.sh).
. "$srcdir/tests/lib.sh"

run() {
	RC=0
	timeout 20 "$POPFETCH" "$@" > "$TESTDIR/out" 2> "$TESTDIR/err" < /dev/null || RC=$?
}

run
expect_rc 64 "no server: EX_USAGE"
run --maildir "$MD" --mbox "$TESTDIR/mbox" --no-tls host
expect_rc 64 "two delivery methods: EX_USAGE"
check "the error names the conflict" grep -q "only one of" "$TESTDIR/err"
run -P 70000 --maildir "$MD" --no-tls host
expect_rc 64 "a port out of range: EX_USAGE"
check "the error names the option and value" grep -q -- '--port: expected a number from 1 to 65535, got "70000"' "$TESTDIR/err"
run --bogus host
expect_rc 64 "an unknown option: EX_USAGE"
run --password secret --maildir "$MD" --no-tls host
expect_rc 64 "there is no --password option (passwords never on argv)"
run --no-tls host
expect_rc 78 "no delivery method: EX_CONFIG"
check "the error lists the methods" grep -q -- "--maildir DIR, --mbox FILE, --mda CMD or --stdout" "$TESTDIR/err"
run --no-tls --tls=implicit --maildir "$MD" host
expect_rc 78 "--no-tls with --tls=implicit: EX_CONFIG"
run --tls=bogus --maildir "$MD" host
expect_rc 64 "--tls=bogus: EX_USAGE"
run --auth=nonsense --maildir "$MD" host
expect_rc 64 "--auth=nonsense: EX_USAGE"
run -V
VERSION=$(sed -n 's/^AC_INIT(\[popfetch\], \[\([^]]*\)\].*/\1/p' "$srcdir/configure.ac")
check "-V prints the version of configure.ac ($VERSION)" test "$RC" -eq 0 -a -n "$VERSION" -a "$(cat "$TESTDIR/out")" = "popfetch $VERSION"
run -h
check "-h prints usage on stdout" test "$RC" -eq 0 -a -n "$(grep -- '--maildir DIR' "$TESTDIR/out")"
# Each option popfetch(1) describes (the line after a .TP) is in --help.
awk 'prev == ".TP" { print } { prev = $0 }' "$srcdir/man/popfetch.1" |
	grep -o '\\-\\-[a-z][a-z\\-]*' | sed 's/\\-/-/g' | sort -u > "$TESTDIR/manopts"
missing=
while read -r o; do
	grep -q -- "$o\([^a-z-]\|$\)" "$TESTDIR/out" || missing="$missing $o"
done < "$TESTDIR/manopts"
check "every long option of popfetch(1) ($(wc -l < "$TESTDIR/manopts")) is in --help${missing:+; missing:$missing}" \
	test -z "$missing" -a "$(wc -l < "$TESTDIR/manopts")" -gt 40

# Nobody listening (t-faults).
run --no-tls -P 1 -u test --password-file "$TESTDIR/pw" --state-dir "$STATE" \
	--maildir "$MD" --timeout 2 127.0.0.1
expect_rc 69 "connection refused: EX_UNAVAILABLE"
check "connection refused: the error names host and port" grep -q "cannot connect to 127.0.0.1 port 1" "$TESTDIR/err"

msg 001 one

# No password source and no terminal: a configuration error, no connect.
HOME=$TESTDIR/nohome NETRC= run --no-tls --tunnel "$TUNNEL" -u test --state-dir "$STATE" --maildir "$MD" 127.0.0.1
expect_rc 78 "no password source: EX_CONFIG"
check "the error lists the password sources" grep -q "password-file" "$TESTDIR/err"
check "no login was attempted" sh -c "! grep -q '^USER\|^PASS\|^AUTH\|^APOP' '$SLOG' 2>/dev/null"

# TLS is required by default: a server without STLS gets no password.
: > "$SLOG"
RC=0
timeout 20 "$POPFETCH" --tunnel "$TUNNEL" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --maildir "$MD" 127.0.0.1 > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
expect_rc 69 "no STLS offered and TLS required: EX_UNAVAILABLE"
check "the refusal says why and how to allow plaintext" grep -q "does not offer STLS.*--no-tls" "$TESTDIR/err"
check "nothing but CAPA was sent (no password, no QUIT in the clear)" test "$(grep -v '^--' "$SLOG")" = "CAPA"

# ~/.netrc
mkdir -p "$TESTDIR/home"
printf 'machine 127.0.0.1 login test password secret\n' > "$TESTDIR/home/.netrc"
chmod 600 "$TESTDIR/home/.netrc"
HOME=$TESTDIR/home run --no-tls --tunnel "$TUNNEL" -u test --state-dir "$STATE" --maildir "$MD" 127.0.0.1
expect_rc 0 "the password from ~/.netrc"
check "~/.netrc: mail fetched" test "$(count_files "$MD/new")" -eq 1

# --password-fd
msg 002 two
rm -rf "$STATE"
RC=0
timeout 20 "$POPFETCH" --no-received --no-tls --tunnel "$TUNNEL" -u test --state-dir "$STATE" \
	--maildir "$TESTDIR/md2" --password-fd 3 127.0.0.1 3< "$TESTDIR/pw" \
	> "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
expect_rc 0 "the password from --password-fd"
check "--password-fd: mail fetched" test "$(count_files "$TESTDIR/md2/new")" -eq 2

# A password file readable by others is used, with a warning.
chmod 644 "$TESTDIR/pw"
pfm
check "a world-readable password file draws a warning" grep -q "readable by others" "$TESTDIR/err"
chmod 600 "$TESTDIR/pw"

# A password file that cannot be read: the reason, not "no password".
pfm --password-file "$TESTDIR"
expect_rc 78 "--password-file naming a directory"
check "--password-file naming a directory: the error says why" grep -q "password file $TESTDIR: cannot read the password: Is a directory" "$TESTDIR/err"

# A damaged or foreign state file: a clear error, never a silent reset.
dir=$(find "$STATE" -mindepth 1 -maxdepth 1 -type d)
head -c 8192 /dev/urandom > "$dir/uids.db"
rm -f "$dir"/log.*
pfm
expect_rc 74 "a damaged store: EX_IOERR"
check "the error says what to do" grep -q "move the directory aside" "$TESTDIR/err"
check "nothing was fetched again" test "$(count_files "$MD/new")" -eq 1

finish
