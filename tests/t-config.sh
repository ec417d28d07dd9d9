#!/bin/sh
# SPDX-License-Identifier: ISC
# Daily use (issue 11): a config file with accounts, all of them in one
# command or some by name, --jobs, one failing account among others, the
# JSON summary, policies (--fetch-limit, --delete-after, the Received:
# field), switching from other fetchers (--mark-seen, --import-uids with
# files the real programs wrote), the progress line on a terminal and
# silence without one, and a friendlier command line.
. "$srcdir/tests/lib.sh"

CFG=$TESTDIR/config
export XDG_CONFIG_HOME=$TESTDIR/xdg

# run [args...]: popfetch with nothing added (the config file decides).
run() {
	RC=0
	timeout 60 "$POPFETCH" "$@" > "$TESTDIR/out" 2> "$TESTDIR/err" < /dev/null || RC=$?
}

# A second and third test server, each with a maildrop of its own.
extra_server() {
	mkdir -p "$TESTDIR/drop$1"
	"$TESTPOP3D" --exit-with-parent --port-file "$TESTDIR/port$1" \
		--pid-file "$TESTDIR/pid$1" "$TESTDIR/drop$1" &
	eval "SPID$1=\$!"
	while [ ! -s "$TESTDIR/port$1" ]; do sleep 0.05; done
	eval "PORT$1=\$(cat \"\$TESTDIR/port$1\")"
}
stop_extra() {
	for p in "$TESTDIR"/pid2 "$TESTDIR"/pid3; do
		[ -s "$p" ] && kill "$(cat "$p")" 2>/dev/null
	done
}
on_exit stop_extra

msg 001 one
msg 002 two
server_start --log "$SLOG" "$DROP" || exit 1
extra_server 2
printf 'Subject: second account\n\nbody\n' > "$TESTDIR/drop2/001"
extra_server 3
kill "$SPID3"		# nobody listens there any more
wait "$SPID3" 2>/dev/null

cat > "$CFG" <<EOF
# three accounts; the last one's server is gone
defaults
    no-tls
    no-received
    user test
    password-file $TESTDIR/pw
    state-dir $STATE
    timeout 5
account work
    host 127.0.0.1
    port $PORT
    maildir $MD
account home
    host 127.0.0.1
    port $PORT2
    mbox "$TESTDIR/home mbox"
account gone
    host 127.0.0.1
    port $PORT3
    maildir $TESTDIR/gone
EOF
chmod 600 "$CFG"

run -C "$CFG"
expect_rc 69 "three accounts, one unreachable: the most severe status (69)"
check "the working accounts delivered" \
	test "$(count_files "$MD/new")" -eq 2 -a "$(grep -c '^Subject: second account' "$TESTDIR/home mbox")" -eq 1
check "the failure is one line naming its account" \
	test "$(grep -v 'warning: --no-tls' "$TESTDIR/err" | grep -c '^popfetch: gone: ')" -eq 1 -a "$(grep -vc '^popfetch: gone: \|no-tls' "$TESTDIR/err")" -eq 0
check "each account's --no-tls warning names it" \
	test "$(grep -c '^popfetch: [a-z]*: warning: --no-tls' "$TESTDIR/err")" -eq 3
run -C "$CFG" work home
expect_rc 0 "named accounts only: the good ones"
mkdir -p "$XDG_CONFIG_HOME/popfetch"
cp "$CFG" "$XDG_CONFIG_HOME/popfetch/config"
msg 003 three
run work
expect_rc 0 "the default config file, an account by name"
check "the default config file: the new message fetched" test "$(count_files "$MD/new")" -eq 3

# --jobs: the accounts at once, each with its lock and store.
rm -rf "$MD" "$TESTDIR/home mbox" "$STATE"
run -C "$CFG" --jobs 3 --summary json
expect_rc 69 "--jobs 3: the same outcome"
check "--jobs 3: both working accounts delivered" \
	test "$(count_files "$MD/new")" -eq 3 -a "$(grep -c '^Subject: second account' "$TESTDIR/home mbox")" -eq 1
check "--summary json: valid JSON with the three accounts in order" python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
a = d["accounts"]
assert [x["name"] for x in a] == ["work", "home", "gone"], a
keys = {"name", "server", "user", "status", "exit", "new", "fetched", "bytes",
        "deleted", "skipped", "failed", "seconds", "error"}
assert all(set(x) == keys for x in a), a
assert a[0]["status"] == "ok" and a[0]["fetched"] == 3 and a[0]["exit"] == 0
assert a[0]["error"] is None and a[0]["bytes"] > 0
assert a[2]["status"] == "failed" and a[2]["exit"] == 69
assert "port" in a[2]["error"] and a[1]["fetched"] == 1
' "$TESTDIR/out"
run -C "$CFG" --summary-file "$TESTDIR/summary.json" work
check "--summary-file: the JSON goes to the file, nothing to stdout" \
	sh -c "test ! -s '$TESTDIR/out' && python3 -m json.tool '$TESTDIR/summary.json' > /dev/null"

# Control bytes in strings are escaped.
cat > "$TESTDIR/cfg2" <<EOF
account odd
    host "127.0.0.1"
    port 1
    user test
    no-tls
    password-file $TESTDIR/pw
    state-dir $STATE
    maildir $MD
EOF
chmod 600 "$TESTDIR/cfg2"
run -C "$TESTDIR/cfg2" --summary json
check "JSON for a failed account: error is a string, exit 69" python3 -c '
import json, sys
a = json.load(open(sys.argv[1]))["accounts"][0]
assert a["status"] == "failed" and a["exit"] == 69 and isinstance(a["error"], str)
' "$TESTDIR/out"

# The command line overrides the file, the file its defaults.
run -C "$CFG" --mbox "$TESTDIR/override.mbox" --all work
check "the command line overrides the account's delivery" \
	test "$RC" -eq 0 -a "$(grep -c '^From ' "$TESTDIR/override.mbox")" -eq 3
# A name that is no account is a server host name.
run -C "$CFG" -P "$PORT" --maildir "$TESTDIR/adhoc" --all 127.0.0.1
check "a name that is no account: a server, with the file's defaults" \
	test "$RC" -eq 0 -a "$(count_files "$TESTDIR/adhoc/new")" -eq 3

# --- errors name file:line, before any connection ---
bad() {
	printf '%s\n' "$2" > "$TESTDIR/bad"
	chmod 600 "$TESTDIR/bad"
	: > "$SLOG"
	run -C "$TESTDIR/bad"
	check "bad config, $1: exit 78, \"$3\"" sh -c "test $RC -eq 78 && grep -q -- '$3' '$TESTDIR/err'"
	check "bad config, $1: no connection" test ! -s "$SLOG"
}
bad "unknown keyword" "$(printf 'account a\n host 127.0.0.1\n frobnicate yes')" "bad:3: unknown keyword"
bad "missing value" "$(printf 'account a\n host\n maildir /tmp/x')" "bad:2:"
bad "duplicate account" "$(printf 'account a\n host h\n maildir /x\naccount a\n host h\n maildir /x')" "bad:4:"
bad "no host" "$(printf 'account a\n maildir /tmp/x')" "bad:1: account a has no host"
bad "no delivery" "$(printf 'account a\n host 127.0.0.1')" "bad:1: account a has no delivery"
bad "a bad value" "$(printf 'account a\n host 127.0.0.1\n maildir /x\n timeout soon')" "bad:4: --timeout"
bad "two deliveries" "$(printf 'account a\n host 127.0.0.1\n maildir /x\n mbox /y')" "bad:4:.*only one of"
printf 'account a\n host 127.0.0.1\n password secret\n maildir %s\n' "$MD" > "$TESTDIR/open"
chmod 644 "$TESTDIR/open"
run -C "$TESTDIR/open"
check "a password in a file others can read: refused with the chmod to run" \
	sh -c "test $RC -eq 78 && grep -q 'chmod 600' '$TESTDIR/err'"
run -C "$TESTDIR/missing"
expect_rc 78 "-C naming a missing file"

# --- policies ---
rm -rf "$MD" "$STATE"
msg 004 four
pf --maildir "$MD" --fetch-limit 3
check "--fetch-limit 3: three of four, oldest first" \
	test "$RC" -eq 0 -a "$(count_files "$MD/new")" -eq 3 -a "$(last_session | grep -c '^RETR')" -eq 3 -a "$(last_session | grep '^RETR' | tail -n 1)" = "RETR 3"
pf --maildir "$MD" --fetch-limit 3
check "--fetch-limit: the rest on the next run" test "$(count_files "$MD/new")" -eq 4
pf --maildir "$MD" --delete-after 2
check "--delete-after 2: nothing deleted today" test "$RC" -eq 0 -a "$(count_files "$DROP")" -eq 4
msg 005 five
RC=0
# Under AddressSanitizer, its allocator reads the monotonic clock before
# libfaketime has initialised, and libfaketime's lazy dlsym then mallocs
# inside the allocator's lock: a deadlock, unless ASan skips that clock
# read (no periodic release to the OS; harmless without ASan).
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}allocator_release_to_os_interval_ms=-1 \
faketime '+3 days' "$POPFETCH" --no-tls --no-received -P "$PORT" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --timeout 5 --maildir "$MD" --delete-after 2 127.0.0.1 \
	> "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
check "--delete-after 2, three days later: the old ones deleted, the new one kept and fetched" \
	test "$RC" -eq 0 -a "$(count_files "$DROP")" -eq 1 -a -e "$DROP/005" -a "$(count_files "$MD/new")" -eq 5

# The Received: field, on by default (an empty config file: not the one
# in XDG_CONFIG_HOME, whose defaults turn it off).
rm -rf "$MD" "$STATE"
: > "$TESTDIR/empty"
RC=0
timeout 60 "$POPFETCH" -C "$TESTDIR/empty" --no-tls -q -P "$PORT" -u test --password-file "$TESTDIR/pw" \
	--state-dir "$STATE" --maildir "$MD" 127.0.0.1 || RC=$?
f=$(grep -l 'Subject: five' "$MD"/new/*)
check "a Received: field first, naming server, popfetch and the UID" \
	sh -c "head -n 3 '$f' | tr -d '\n' | grep -Eq '^Received: from 127\.0\.0\.1	by [^ ]+ \(popfetch [0-9.]+\) with POP3	id 005; [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} \+0000$'"
check "after it, the message as sent" sh -c "tail -n +4 '$f' | cmp -s - '$DROP/005'"
printf 'account r\n host 127.0.0.1\n port %s\n no-tls\n user test\n password-file %s\n state-dir %s\n maildir %s\n received off\n' \
	"$PORT" "$TESTDIR/pw" "$TESTDIR/st-r" "$TESTDIR/md-r" > "$TESTDIR/cfg-r"
chmod 600 "$TESTDIR/cfg-r"
run -C "$TESTDIR/cfg-r"
check "received off: byte-identical" same_contents "$TESTDIR/md-r/new" "$DROP"

# --- switching from other fetchers ---
rm -rf "$MD" "$STATE"
pf --mark-seen
check "--mark-seen: nothing downloaded, every message recorded" \
	test "$RC" -eq 0 -a "$(last_session | grep -c '^RETR')" -eq 0 -a "$(seen_count)" -eq 1 -a ! -d "$MD"
check "--mark-seen: says how many" grep -q "1 message marked as seen" "$TESTDIR/out"
msg 006 six
pf --maildir "$MD"
check "after --mark-seen, only new mail is fetched" test "$(count_files "$MD/new")" -eq 1

# The UIDs the real mpop, fetchmail and getmail6 wrote for test@127.0.0.1.
import_case() {
	fmt=$1 file=$2
	server_stop
	rm -rf "$DROP" "$MD" "$STATE"
	mkdir -p "$DROP"
	for i in 1 2 3 4; do msg "00$i" "imported $i"; done
	printf '001\t000000016b0fcdcd\n002\t000000026b0fcdcd\n003\t000000036b0fcdcd\n004\tnew-since\n' > "$DROP/.uidl"
	server_start --log "$SLOG" "$DROP" || exit 1
	pf --import-uids "$fmt:$file"
	check "--import-uids $fmt: three UIDs recorded" test "$RC" -eq 0 -a "$(seen_count)" -eq 3
	pf --maildir "$MD"
	check "--import-uids $fmt: only what arrived since is fetched" \
		test "$RC" -eq 0 -a "$(last_session | grep -c '^RETR')" -eq 1 -a "$(last_session | grep '^RETR')" = "RETR 4"
}
import_case mpop "$srcdir/tests/data/import/mpop-uidls"
import_case fetchmail "$srcdir/tests/data/import/fetchids"
# getmail keeps the account in the file's name: the same file, named for
# this server's port.
mkdir -p "$TESTDIR/gm"
cp "$srcdir/tests/data/import/getmail/oldmail-127.0.0.1-26410-test" "$TESTDIR/gm/oldmail-127.0.0.1-$PORT-test"
import_case getmail "$TESTDIR/gm/oldmail-127.0.0.1-$PORT-test"
pf --import-uids "mpop:$srcdir/tests/data/import/mpop-uidls" -u nobody
check "--import-uids for an account the file lacks: refused, naming those it has" \
	sh -c "test $RC -eq 78 && grep -q 'alice@example.org' '$TESTDIR/err'"

# --- the progress line, on a terminal only ---
rm -rf "$MD" "$STATE"
RC=0
TERM=dumb script -qec "\"$POPFETCH\" --no-tls --no-received -P $PORT -u test --password-file '$TESTDIR/pw' --state-dir '$STATE' --maildir '$MD' 127.0.0.1" "$TESTDIR/tty" > /dev/null 2>&1 || RC=$?
check "on a terminal: a progress line, redrawn and cleared" \
	sh -c "test $RC -eq 0 && grep -q '4/4 messages' '$TESTDIR/tty' && grep -q \"\$(printf '\\r')\" '$TESTDIR/tty'"
check "on a terminal: then the summary line" grep -q "test@127.0.0.1: 4 new messages" "$TESTDIR/tty"
# Standard error into a log file, as from a terminal "popfetch 2>>log":
# no summary on the terminal either.
rm -rf "$MD" "$STATE"
RC=0
TERM=dumb script -qec "\"$POPFETCH\" --no-tls --no-received -P $PORT -u test --password-file '$TESTDIR/pw' --state-dir '$STATE' --maildir '$MD' 127.0.0.1 2> '$TESTDIR/err2'" "$TESTDIR/tty2" > /dev/null 2>&1 || RC=$?
check "standard error not a terminal: no progress, no summary" \
	sh -c "test $RC -eq 0 && ! grep -q 'messages' '$TESTDIR/tty2' '$TESTDIR/err2' && test \$(ls '$MD/new' | wc -l) -eq 4"
rm -rf "$MD" "$STATE"
pf --maildir "$MD"
check "without a terminal: no progress, no summary" sh -c "! grep -q 'messages,' '$TESTDIR/err' && test ! -s '$TESTDIR/out'"
pf --maildir "$TESTDIR/md-v" -v --all
check "-v: a line per message with its size, From and Subject" \
	grep -q 'message 1, [0-9]* octets, from a@example.org, "imported 1": maildir' "$TESTDIR/err"

# The shipped example config parses (every account, every keyword).
ex=$srcdir/contrib/popfetch.conf.example
first=$(sed -n 's/^account  *\([^ ]*\).*/\1/p' "$ex" | head -n 1)
run -C "$ex" --state-dir "$TESTDIR/ex-state" --list-seen "$first"
check "contrib/popfetch.conf.example parses with the real reader" test "$RC" -eq 0

# --- a friendlier command line ---
run --bogus
check "a usage error: one line and how to get help" \
	sh -c "test $RC -eq 64 && test \$(wc -l < '$TESTDIR/err') -le 2 && grep -qx \"Try 'popfetch --help'.\" '$TESTDIR/err'"
for fp in "sha256:$(printf '%064d' 0)" "$(printf '%064d' 0)" \
    "SHA256 Fingerprint=$(printf '00:%.0s' $(seq 31))00" "SHA256: $(printf 'AB:%.0s' $(seq 31))AB"; do
	run --tls-fingerprint "$fp" --list-seen -u test --state-dir "$STATE" 127.0.0.1
	check "--tls-fingerprint accepts \"$(printf '%.24s' "$fp")...\"" test "$RC" -eq 0
done
run --tls-fingerprint "sha256:1234" --list-seen -u test --state-dir "$STATE" 127.0.0.1
expect_rc 64 "--tls-fingerprint: a short one is a usage error"
server_stop
server_start --log "$SLOG" --no-greeting "$DROP" || exit 1
pf --maildir "$MD" --timeout 0.3
check "no greeting while STLS is expected: a hint about --tls=implicit" grep -q -- "--tls=implicit" "$TESTDIR/err"

finish
