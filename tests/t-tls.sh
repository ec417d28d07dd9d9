#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/t-tls.sh -- TLS and authentication against a real (private) dovecot.
#
# Design invariant 5, "secure by default": STLS and implicit TLS, every login
# method, certificate and host-name verification (expired, wrong host,
# self-signed, unknown CA), pinning, client certificates, --server-info, and
# that no secret leaves popfetch before the connection is verified or shows
# up in a trace.  Certificates come from tests/certs.sh (openssl CLI); each
# certificate case gets its own dovecot, started and stopped in turn.
#
# Run from the build directory (automake sets srcdir).  Environment:
#   POPFETCH           the client to test (default ./src/popfetch)
#   DOVECOT            the dovecot binary (default: found in PATH or /usr/sbin)
#   POPFETCH_KEEP_TMP  if non-empty, keep the temp dir for inspection
# Needs the Debian packages dovecot-pop3d and openssl; strace for one check
# (without it that check falls back to repeated runs).  As root also the
# system user popfetch-test (see tests/dovecot.sh).  Exit 0 pass, 1 fail.
#
# The STLS session-ticket race: right after the STLS handshake dovecot sends
# two TLS 1.3 NewSessionTicket records; popfetch once took them for a
# reply to no command ("reply to no command" check: conn_pending() polled
# the raw socket) and waited for a line that never came, so the session
# died with "CAPA: timed out". t-tls-race.sh (make check-slow) forces that
# race by slowing the client's poll() with strace; it runs this script
# with TLS_PART=race, which runs only that check. Here every case runs
# against dovecot's defaults, and a case that loses the race anyway is
# run again (at most 3 times in all), each rerun reported as a note.

set -u

srcdir=${srcdir:-.}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
# shellcheck source=tests/dovecot.sh
. "$srcdir/tests/dovecot.sh"
# shellcheck source=tests/certs.sh
. "$srcdir/tests/certs.sh"

TLS_PART=${TLS_PART:-main}
CL=$TESTDIR/client        # the client's private files
CERTS=$TESTDIR/certs
SRC=$CL/src               # the messages put on the server
PW=$CL/password           # the right password
BADPW=$CL/wrong-password
RACE_HITS=0
RACE_RUNS=

on_exit 'dovecot_stop || fail "dovecot processes were left running: ${DOVECOT_ERROR:-}"'
on_exit '[ "$RACE_HITS" -eq 0 ] || printf "# note: %d run(s) lost the STLS session-ticket race and were run again:%s\\n" "$RACE_HITS" "$RACE_RUNS"'

# ---------------------------------------------------------------- setup

if [ ! -f "$POPFETCH" ] || [ ! -x "$POPFETCH" ]; then
	bail "client $POPFETCH not found or not executable (build it first, or set POPFETCH)"
fi
command -v openssl >/dev/null 2>&1 || bail "the openssl command is missing: install the Debian package openssl"
rm -f "$TESTDIR/err"
mkdir -m 0700 "$CL" "$SRC" || bail "cannot create $CL"
make_certs "$CERTS" || bail "make_certs failed (see above)"
ok "test certificates made in $CERTS"

(umask 077 && printf 'secret word\n' >"$PW" && printf 'wrong word\n' >"$BADPW") ||
	bail "cannot write the password files"

hdr() {  # hdr N SUBJECT
	printf 'Return-Path: <sender@example.org>\nFrom: Sender <sender@example.org>\n'
	printf 'To: test@example.org\nSubject: %s\n' "$2"
	printf 'Date: Mon, 01 Jan 2024 00:00:%02d +0000\n' "$1"
	printf 'Message-ID: <tls%d.popfetch-test@example.org>\n' "$1"
}
{
	hdr 1 'dots over TLS'
	printf '\n.leading dot\n..two dots\n.\nlone dot above\n'
} >"$SRC/m1-dots"
{
	hdr 2 'eight bits over TLS'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'Gr\303\274\303\237e \342\202\254 \344\366\374 \377\376\n'
} >"$SRC/m2-8bit"
{
	hdr 3 'about 200 KB over TLS (many TLS records)'
	printf '\n'
	LC_ALL=C awk 'BEGIN {
		for (i = 1; i <= 3000; i++) {
			if (i % 97 == 0) print "."
			else printf("line %05d: the quick brown fox jumps over the lazy dog 0123456789\n", i)
		}
	}'
} >"$SRC/m3-200k"
NMSG=3

# The base64 forms a password would take in PLAIN and LOGIN; with the
# password itself none of them may appear in any output.
b64() { openssl base64 -A; }
SECRETS="secret word
wrong word
$(printf '\000test\000secret word' | b64)
$(printf 'secret word' | b64)
$(printf '\000test\000wrong word' | b64)
$(printf 'wrong word' | b64)"

# fingerprint FILE: "AA:BB:..." as openssl prints it.
fingerprint() {
	openssl x509 -noout -fingerprint -sha256 -in "$1" | sed 's/^[^=]*=//'
}

# ---------------------------------------------------------------- dovecot

MECHS='plain login cram-md5 scram-sha-1 scram-sha-256 apop'

# start_dc NAME CERT [EXTRA_CONF]: a dovecot with STLS on its POP3 port and a
# pop3s listener, using CERT.pem/CERT.key, all the mechanisms, and the test
# messages in its Maildir. Stops the previous one first.
start_dc() {
	# The old one shuts down while the new one starts (on other ports);
	# dovecot_stop waits for both.
	dovecot_retire
	DOVECOT_SSL_CERT=$CERTS/$2.pem
	DOVECOT_SSL_KEY=$CERTS/$2.key
	DOVECOT_POP3S=yes
	DOVECOT_AUTH_MECHANISMS=$MECHS
	# No 2 s pause after a failed login; dovecot would treat 127.0.0.1 as
	# secure anyway, so this only documents that plaintext auth is unwanted.
	DOVECOT_EXTRA_CONF="disable_plaintext_auth = yes
auth_failure_delay = 0
${3:-}"
	dovecot_start "$TESTDIR/dc-$1" ||
		bail "cannot start the test dovecot ($1): ${DOVECOT_ERROR:-see above}"
	for _m in "$SRC"/*; do
		dovecot_add_msg "$_m" || bail "cannot add $_m to the server Maildir"
	done
	ok "dovecot ($1, $2.pem) on 127.0.0.1: STLS on $DOVECOT_PORT, pop3s on $DOVECOT_POP3S_PORT"
}

# The dovecot log from the last log_mark on.
log_mark() {
	LOGMARK=$(wc -l <"$DOVECOT_LOG")
	LOGMARK=$((LOGMARK))
}
log_since() {
	tail -n "+$((LOGMARK + 1))" "$DOVECOT_LOG"
}
# wait_log N ERE: wait (at most 5 s) until N lines since the mark match ERE.
wait_log() {
	_i=0
	while [ "$_i" -lt 100 ]; do
		[ "$(log_since | grep -c -E "$2")" -ge "$1" ] && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

# ---------------------------------------------------------------- client

PF_TIMEOUT=5
PF_WRAP=

# pfrun NAME HOST [OPTION...]: one popfetch run for user test, with a fresh
# state dir and local Maildir.  Sets RC, OUT, ERR and LMD; $TESTDIR/err is
# what lib.sh's fail() shows.
pfrun() {
	_n=$1 _h=$2
	shift 2
	OUT=$CL/$_n.out ERR=$CL/$_n.err LMD=$CL/md-$_n
	# Fresh ones; there are only when this run is a rerun.
	if [ -e "$CL/state-$_n" ] || [ -e "$LMD" ]; then
		rm -rf "$CL/state-$_n" "$LMD"
	fi
	RC=0
	# shellcheck disable=SC2086 # PF_WRAP is a command prefix, or nothing
	timeout 60 $PF_WRAP "$POPFETCH" --no-received --timeout "$PF_TIMEOUT" -u test \
		--state-dir "$CL/state-$_n" --maildir "$LMD" "$@" "$_h" \
		</dev/null >"$OUT" 2>"$ERR" || RC=$?
	ERR_SHOW=$ERR
}

# lost_race: the last run died of the STLS session-ticket hang.
lost_race() {
	[ "$RC" -eq 75 ] && grep -q 'CAPA: timed out' "$ERR"
}

# pf NAME HOST [OPTION...]: pfrun, run again (at most 3 times in all) when it
# lost the STLS session-ticket race (see the header).
pf() {
	_try=1
	while :; do
		pfrun "$@"
		if ! lost_race || [ "$_try" -ge 3 ]; then
			break
		fi
		RACE_HITS=$((RACE_HITS + 1))
		RACE_RUNS="$RACE_RUNS $1"
		printf '# %s: lost the STLS session-ticket race (popfetch bug, see stls-ticket-race); running it again\n' "$1"
		_try=$((_try + 1))
	done
}

# delivered WHAT: the last run's local Maildir new/ holds exactly the test
# messages, byte for byte, and tmp/ and cur/ are empty.
delivered() {
	_n=$(count_files "$LMD/new")
	_bad=
	for _m in "$SRC"/*; do
		has_copy "$_m" "$LMD/new" || _bad="$_bad ${_m##*/}"
	done
	if [ "$_n" -eq "$NMSG" ] && [ -z "$_bad" ] &&
	   [ "$(count_files "$LMD/tmp")" -eq 0 ] && [ "$(count_files "$LMD/cur")" -eq 0 ]; then
		ok "$1: $NMSG messages delivered byte-identical"
	else
		fail "$1: $_n files in new/ (expected $NMSG); not delivered intact:${_bad:- none}"
	fi
}

# nothing_delivered WHAT
nothing_delivered() {
	_n=$(count_files "$LMD/new")
	if [ "$_n" -eq 0 ]; then
		ok "$1: nothing delivered"
	else
		fail "$1: $_n messages delivered, expected none"
	fi
}

# login_cmds FILE: the trace lines that carry a login (USER, PASS, AUTH,
# APOP, or an AUTH continuation).
login_cmds() {
	grep -E '^C: (USER|PASS|AUTH|APOP)( |$)|^C: <redacted>' "$1"
}

# client_cmds FILE: the commands of the trace, one a line, without "C: ".
client_cmds() {
	sed -n 's/^C: //p' "$1"
}

# ok_run WHAT: the last run exited 0 (else show why).
ok_run() {
	if [ "$RC" -eq 0 ]; then
		ok "$1 (exit 0)"
	else
		fail "$1: exit $RC, expected 0"
	fi
}

# login_logged METHOD WHAT: dovecot logged a login of user test with METHOD
# over TLS since the mark.
login_logged() {
	if wait_log 1 "Login: user=<test>, method=$1, .*TLS"; then
		ok "$2: dovecot logged a TLS login with method=$1"
	else
		fail "$2: dovecot logged no TLS login with method=$1"
		log_since | sed 's/^/#   dovecot: /'
	fi
}

# refused NAME REGEX MODE HOST [OPTION...]: a connection popfetch must refuse
# over TLS.  MODE is stls or implicit (for the trace check).  Two runs, one
# plain and one with -vv, both with a password command that leaves a mark if
# it is ever run:
#   exit 69 and a one-line error matching REGEX (case-insensitive);
#   the password is never asked for; the trace shows no login command and,
#   with STLS, nothing after "STLS" (nothing at all with implicit TLS);
#   dovecot logged both connections and no login attempt; nothing delivered.
refused() {
	_rn=$1 _re=$2 _mode=$3 _rh=$4
	shift 4
	_asked=$CL/asked-$_rn
	rm -f "$_asked"
	log_mark
	pfrun "$_rn" "$_rh" --password-cmd "touch $_asked; cat $PW" "$@"
	if [ "$RC" -eq 69 ]; then
		ok "$_rn: refused (exit 69)"
	else
		fail "$_rn: exit $RC, expected 69 (EX_UNAVAILABLE)"
	fi
	_nl=$(wc -l <"$ERR")
	_nl=$((_nl))
	if [ "$_nl" -eq 1 ] && grep -q -i -E "$_re" "$ERR"; then
		ok "$_rn: one-line error matching /$_re/: $(cat "$ERR")"
	else
		fail "$_rn: expected one error line matching /$_re/, got $_nl line(s)"
	fi
	nothing_delivered "$_rn"
	pfrun "$_rn-vv" "$_rh" -vv --password-cmd "touch $_asked; cat $PW" "$@"
	if [ "$RC" -eq 69 ] && grep -q -i -E "$_re" "$ERR"; then
		ok "$_rn -vv: refused (exit 69) with the same error"
	else
		fail "$_rn -vv: exit $RC, expected 69 and an error matching /$_re/"
	fi
	if login_cmds "$ERR" >/dev/null; then
		fail "$_rn -vv: the trace shows a login command: $(login_cmds "$ERR" | tr '\n' '|')"
	else
		ok "$_rn -vv: the trace shows no USER, PASS, AUTH or APOP"
	fi
	_cmds=$(client_cmds "$ERR" | tr '\n' ' ' | sed 's/ $//')
	if [ "$_mode" = stls ]; then _want='CAPA STLS'; else _want=; fi
	if [ "$_cmds" = "$_want" ]; then
		ok "$_rn -vv: commands sent: ${_cmds:-none} (nothing after the failed handshake)"
	else
		fail "$_rn -vv: commands sent: '${_cmds}', expected '${_want}'"
	fi
	if [ -e "$_asked" ]; then
		fail "$_rn: the password command was run for a connection that was refused"
	else
		ok "$_rn: the password was never asked for"
	fi
	if ! wait_log 2 'pop3-login: .*Disconnected.*rip=127\.0\.0\.1'; then
		fail "$_rn: dovecot did not log the end of both connections"
		log_since | sed 's/^/#   dovecot: /'
	elif log_since | grep -q -E 'user=<test>|\(test,|Login:'; then
		fail "$_rn: dovecot saw a login attempt: $(log_since | grep -E 'user=<test>|\(test,|Login:' | head -n 1)"
	else
		ok "$_rn: dovecot logged no login attempt ($(log_since | grep -c 'no auth attempts') x \"no auth attempts\")"
	fi
}

CA=$CERTS/ca.pem

# ================================================================ 0: session tickets
# TLS_PART=race (t-tls-race.sh): the STLS session-ticket race (see the
# header), against dovecot's default TLS settings, and nothing else.
# dovecot sends its TLS 1.3 session tickets right after the STLS handshake.
# strace delays each poll() by 50 ms, so that they have arrived when popfetch
# checks for a "reply to no command" before sending CAPA.  Implicit TLS (the
# tickets are read with the greeting) is the control.
if [ "$TLS_PART" = race ]; then
start_dc tickets server
if command -v strace >/dev/null 2>&1 &&
   strace -o /dev/null -e trace=poll -e inject=poll:delay_enter=1 true >/dev/null 2>&1; then
	# LeakSanitizer cannot run under ptrace: leaks are checked by every
	# other run of the sanitized suite, not by these two.
	PF_WRAP="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -o /dev/null -e trace=poll -e inject=poll:delay_enter=50000"
	PF_TIMEOUT=3
	pfrun ticket-control 127.0.0.1 --tls=implicit -P "$DOVECOT_POP3S_PORT" \
		--password-file "$PW" --tls-trust-file "$CA"
	ok_run "ticket-control: implicit TLS with a slowed-down poll()"
	pfrun stls-ticket-race 127.0.0.1 -P "$DOVECOT_PORT" --password-file "$PW" --tls-trust-file "$CA"
	if [ "$RC" -eq 0 ]; then
		ok "stls-ticket-race: STLS works when the TLS 1.3 session tickets arrive before CAPA"
	else
		fail "stls-ticket-race: STLS fails when dovecot's TLS 1.3 session tickets arrive before the next command (exit $RC: $(grep -v '^test@' "$ERR" | head -n 1)); popfetch bug: conn_pending() polls the raw socket, check_unsolicited() then waits for a line that is not there"
	fi
	PF_WRAP=
	PF_TIMEOUT=5
else
	# Without strace: many ordinary runs; the race is lost in a few percent.
	PF_TIMEOUT=2
	_lost=0
	_i=0
	while [ "$_i" -lt 40 ]; do
		_i=$((_i + 1))
		pfrun stls-ticket-race 127.0.0.1 -P "$DOVECOT_PORT" --server-info --password-file "$PW"
		lost_race && _lost=$((_lost + 1))
	done
	if [ "$_lost" -eq 0 ]; then
		ok "stls-ticket-race: 40 STLS sessions, none hung after the handshake (strace missing: not forced)"
	else
		fail "stls-ticket-race: $_lost of 40 STLS sessions hung after the handshake ('CAPA: timed out'); popfetch bug: conn_pending() polls the raw socket and takes TLS 1.3 session tickets for a reply to no command"
	fi
	PF_TIMEOUT=5
fi
finish
fi

# ================================================================ the servers
# Six dovecots, each a section below: two with the main certificate, one
# per other certificate case. They are independent: each section runs in a
# subshell of its own, three at a time, and its output is shown in turn
# afterwards.

# "localhost" may resolve to more than 127.0.0.1: then the cases that
# connect by that name are skipped.
if [ "$(getent ahosts localhost 2>/dev/null | awk '{print $1}' | sort -u | tr '\n' ' ')" = '127.0.0.1 ' ]; then
	LOCALHOST_OK=yes
else
	LOCALHOST_OK=
	printf '# localhost does not resolve to 127.0.0.1 only: host-name cases by name skipped\n'
fi
FP_SERVER=$(fingerprint "$CERTS/server.pem")
FP_SELF=$(fingerprint "$CERTS/selfsigned.pem")

# ================================================================ 1a: main server, logins
# CA-signed certificate for localhost and 127.0.0.1: every way to log in.

section_logins() {
start_dc logins server

# ---- STLS, default method
log_mark
pf stls-default 127.0.0.1 -vv -P "$DOVECOT_PORT" --password-file "$PW" --tls-trust-file "$CA"
ok_run "stls-default: STLS with --tls-trust-file"
delivered stls-default
client_cmds "$ERR" >"$CL/stls-default.cmds"
_seq=$(grep -n -E '^(CAPA|STLS|AUTH .*)$' "$CL/stls-default.cmds" | sed 's/^[0-9]*://' | head -n 4 | tr '\n' '|')
if [ "$_seq" = 'CAPA|STLS|CAPA|AUTH SCRAM-SHA-256 <redacted>|' ]; then
	ok "stls-default: trace: CAPA, STLS, CAPA again, then AUTH SCRAM-SHA-256 (the strongest)"
else
	fail "stls-default: trace order is '$_seq', expected CAPA|STLS|CAPA|AUTH SCRAM-SHA-256 <redacted>|"
fi
if [ "$(login_cmds "$ERR" | grep -c '^C: AUTH ')" -eq 1 ] && ! login_cmds "$ERR" | grep -q -E '^C: (USER|PASS|APOP)'; then
	ok "stls-default: one login, by AUTH only"
else
	fail "stls-default: expected exactly one AUTH and no USER/PASS/APOP: $(login_cmds "$ERR" | tr '\n' '|')"
fi
login_logged SCRAM-SHA-256 stls-default

# ---- implicit TLS (pop3s)
log_mark
pf implicit-default 127.0.0.1 -vv --tls=implicit -P "$DOVECOT_POP3S_PORT" \
	--password-file "$PW" --tls-trust-file "$CA"
ok_run "implicit-default: --tls=implicit on the pop3s port"
delivered implicit-default
if client_cmds "$ERR" | grep -q '^STLS'; then
	fail "implicit-default: STLS sent over implicit TLS"
else
	ok "implicit-default: no STLS over implicit TLS"
fi
login_logged SCRAM-SHA-256 implicit-default

# ---- every method, forced, over STLS
for m in user plain login cram-md5 scram-sha-1 scram-sha-256 apop; do
	M=$(echo "$m" | LC_ALL=C tr '[:lower:]' '[:upper:]')
	log_mark
	pf "auth-$m" 127.0.0.1 -vv --auth "$m" -P "$DOVECOT_PORT" \
		--password-file "$PW" --tls-trust-file "$CA"
	ok_run "auth-$m: --auth $m over STLS"
	delivered "auth-$m"
	case $m in
	user)
		want='USER test|PASS <redacted>|'
		logm=PLAIN ;;             # dovecot logs USER/PASS as PLAIN
	apop)
		# The digest permits an offline guess at the password, so
		# the trace hides it like a password.
		want='APOP test <redacted>|'
		logm=APOP ;;
	plain | scram-*)
		want="AUTH $M <redacted>|"
		logm=$M ;;
	*)
		want="AUTH $M|"
		logm=$M ;;
	esac
	got=$(login_cmds "$ERR" | grep -v '^C: <redacted>' | sed -e 's/^C: //' \
		| tr '\n' '|')
	if [ "$got" = "$want" ]; then
		ok "auth-$m: the trace shows exactly: $want"
	else
		fail "auth-$m: the trace shows '$got', expected '$want'"
	fi
	login_logged "$logm" "auth-$m"
done

# ---- PLAIN explicitly over implicit TLS (over STLS: auth-plain above)
log_mark
pf implicit-plain 127.0.0.1 -vv --auth plain --tls=implicit -P "$DOVECOT_POP3S_PORT" \
	--password-file "$PW" --tls-trust-file "$CA"
ok_run "implicit-plain: --auth plain over implicit TLS"
delivered implicit-plain
login_logged PLAIN implicit-plain

# ---- AUTH continuations are redacted (LOGIN sends two, CRAM-MD5 one)
if grep -q '^C: <redacted>$' "$CL/auth-login.err" && grep -q '^C: <redacted>$' "$CL/auth-cram-md5.err"; then
	ok "auth-login, auth-cram-md5: the AUTH responses show as <redacted>"
else
	fail "auth-login, auth-cram-md5: no '<redacted>' AUTH response in the trace"
fi

}

# ================================================================ 1b: main server, verification
# The same certificate, another dovecot: its certificate checked, pinned,
# shown; a wrong password.

section_verify() {
start_dc verify server

# ---- no trust file: the system store does not know the test CA
refused no-trust-stls 'not trusted.*(local issuer|unable to get)' stls 127.0.0.1 \
	-P "$DOVECOT_PORT"
refused no-trust-implicit 'not trusted.*(local issuer|unable to get)' implicit 127.0.0.1 \
	--tls=implicit -P "$DOVECOT_POP3S_PORT"
# ---- trusting another CA does not help
refused other-ca 'not trusted.*(local issuer|unable to get)' stls 127.0.0.1 \
	-P "$DOVECOT_PORT" --tls-trust-file "$CERTS/client-ca.pem"

# ---- the host name is checked: "localhost" is in the certificate
if [ -n "$LOCALHOST_OK" ]; then
	log_mark
	pf stls-localhost localhost -P "$DOVECOT_PORT" --password-file "$PW" --tls-trust-file "$CA"
	ok_run "stls-localhost: server name localhost (DNS name in the certificate)"
	delivered stls-localhost
fi

# ---- pinning replaces CA verification
log_mark
pf pin-right 127.0.0.1 -P "$DOVECOT_PORT" --password-file "$PW" --tls-fingerprint "sha256:$FP_SERVER"
ok_run "pin-right: --tls-fingerprint sha256:$FP_SERVER, no trust file"
delivered pin-right
_fp_lower=$(printf '%s' "$FP_SERVER" | tr -d ':' | tr 'A-F' 'a-f')
pf pin-right-implicit 127.0.0.1 --tls=implicit -P "$DOVECOT_POP3S_PORT" --password-file "$PW" \
	--tls-fingerprint "sha256:$_fp_lower"
ok_run "pin-right-implicit: pin in lower case without colons, implicit TLS"
delivered pin-right-implicit
FP_WRONG=$(fingerprint "$CERTS/selfsigned.pem")
refused pin-wrong 'pinned fingerprint' stls 127.0.0.1 \
	-P "$DOVECOT_PORT" --tls-fingerprint "sha256:$FP_WRONG"
# A pin replaces the CA check; a wrong pin is not rescued by a right CA.
refused pin-wrong-with-ca 'pinned fingerprint' implicit 127.0.0.1 \
	--tls=implicit -P "$DOVECOT_POP3S_PORT" --tls-fingerprint "sha256:$FP_WRONG" --tls-trust-file "$CA"

# ---- --server-info: never logs in, never reads the password
NOPW=$CL/no-such-password-file
log_mark
pf server-info 127.0.0.1 -P "$DOVECOT_PORT" --server-info --password-file "$NOPW"
ok_run "server-info: --server-info with a password file that does not exist"
_got=$(sed -n 's/^fingerprint: sha256://p' "$OUT" | tr 'a-f' 'A-F')
if [ -n "$_got" ] && [ "$_got" = "$(printf '%s' "$FP_SERVER" | tr 'a-f' 'A-F')" ]; then
	ok "server-info: fingerprint matches openssl x509 -fingerprint -sha256 ($FP_SERVER)"
else
	fail "server-info: fingerprint '${_got}', openssl says '$FP_SERVER'"
	note_file "server-info output" "$OUT"
fi
# The two capability lists: before STLS (must offer STLS) and after.
_before=$(awk '/^capabilities:$/ {on = 1; next} /^capabilities after STLS:$/ {on = 0} /^TLS:/ {on = 0} on' "$OUT")
_after=$(awk '/^capabilities after STLS:$/ {on = 1; next} /^TLS:/ {on = 0} on' "$OUT")
if printf '%s\n' "$_before" | grep -q '^STLS$'; then
	ok "server-info: capabilities before STLS, with STLS"
else
	fail "server-info: no 'capabilities:' list with STLS"
	note_file "server-info output" "$OUT"
fi
if printf '%s\n' "$_after" | grep -q '^SASL .*SCRAM-SHA-256' && ! printf '%s\n' "$_after" | grep -q '^STLS$'; then
	ok "server-info: capabilities after STLS (SASL list, no STLS)"
else
	fail "server-info: no 'capabilities after STLS:' list with SASL and without STLS"
	note_file "server-info output" "$OUT"
fi
if grep -q '^subject: .*CN = localhost' "$OUT" && grep -q '^issuer: .*CN = popfetch test CA' "$OUT" &&
   grep -q '^valid from: ' "$OUT" && grep -q '^valid until: ' "$OUT"; then
	ok "server-info: subject, issuer and validity shown"
else
	fail "server-info: subject/issuer/validity lines missing"
fi
if [ -s "$ERR" ]; then
	fail "server-info: unexpected stderr (the password file must not be read): $(head -n 1 "$ERR")"
else
	ok "server-info: nothing on stderr (the missing password file was not needed)"
fi
pf server-info-vv 127.0.0.1 -vv -P "$DOVECOT_PORT" --server-info --password-file "$NOPW"
ok_run "server-info-vv: --server-info -vv"
if login_cmds "$ERR" >/dev/null; then
	fail "server-info-vv: the trace shows a login command"
else
	ok "server-info-vv: the trace shows no USER, PASS, AUTH or APOP"
fi
pf server-info-implicit 127.0.0.1 --tls=implicit -P "$DOVECOT_POP3S_PORT" --server-info --password-file "$NOPW"
ok_run "server-info-implicit: --server-info over implicit TLS"
if grep -q '^capabilities (over TLS):$' "$OUT" &&
   [ "$(sed -n 's/^fingerprint: sha256://p' "$OUT")" = "$(sed -n 's/^fingerprint: sha256://p' "$CL/server-info.out")" ]; then
	ok "server-info-implicit: capabilities over TLS and the same fingerprint"
else
	fail "server-info-implicit: no 'capabilities (over TLS):' or another fingerprint"
	note_file "server-info-implicit output" "$OUT"
fi
if wait_log 3 'pop3-login: .*Disconnected.*rip=127\.0\.0\.1' &&
   ! log_since | grep -q -E 'user=<test>|\(test,|Login:'; then
	ok "server-info: dovecot logged 3 connections and no login attempt"
else
	fail "server-info: dovecot saw a login attempt, or did not log the 3 connections"
	log_since | sed 's/^/#   dovecot: /'
fi

# ---- wrong password: 77, one attempt, no fallback.  Last on this server:
# dovecot delays logins from an address after failed ones (auth penalty).
log_mark
pf wrong-password 127.0.0.1 -vv -P "$DOVECOT_PORT" --password-file "$BADPW" --tls-trust-file "$CA"
if [ "$RC" -eq 77 ]; then
	ok "wrong-password: exit 77 (EX_NOPERM)"
else
	fail "wrong-password: exit $RC, expected 77 (EX_NOPERM)"
fi
if grep -q -E '\[AUTH\]' "$ERR"; then
	ok "wrong-password: the error shows the server's [AUTH] reply"
else
	fail "wrong-password: no [AUTH] in the error"
fi
_logins=$(login_cmds "$ERR" | grep -v '^C: <redacted>' | sed 's/^C: //' | tr '\n' '|')
if [ "$_logins" = 'AUTH SCRAM-SHA-256 <redacted>|' ]; then
	ok "wrong-password: one AUTH SCRAM-SHA-256, no fallback to another method after [AUTH]"
else
	fail "wrong-password: login commands '$_logins', expected one AUTH SCRAM-SHA-256 only"
fi
if wait_log 1 'auth failed, 1 attempts'; then
	ok "wrong-password: dovecot: 'auth failed, 1 attempts'"
else
	fail "wrong-password: dovecot did not log exactly one failed attempt"
	log_since | sed 's/^/#   dovecot: /'
fi
if [ "$(log_since | grep -c 'Password mismatch')" -eq 1 ]; then
	ok "wrong-password: dovecot's auth saw one password mismatch"
else
	fail "wrong-password: dovecot logged $(log_since | grep -c 'Password mismatch') password mismatches, expected 1"
fi
nothing_delivered wrong-password
}

# ================================================================ 2: expired

section_expired() {
start_dc expired expired
refused expired-stls 'expired' stls 127.0.0.1 -P "$DOVECOT_PORT" --tls-trust-file "$CA"
refused expired-implicit 'expired' implicit 127.0.0.1 --tls=implicit \
	-P "$DOVECOT_POP3S_PORT" --tls-trust-file "$CA"
}

# ================================================================ 3: wrong host

section_wronghost() {
start_dc wronghost wronghost
refused wronghost-ip 'IP address mismatch' stls 127.0.0.1 -P "$DOVECOT_PORT" --tls-trust-file "$CA"
if [ -n "$LOCALHOST_OK" ]; then
	refused wronghost-name 'host ?name mismatch' stls localhost -P "$DOVECOT_PORT" --tls-trust-file "$CA"
	refused wronghost-name-implicit 'host ?name mismatch' implicit localhost --tls=implicit \
		-P "$DOVECOT_POP3S_PORT" --tls-trust-file "$CA"
fi
}

# ================================================================ 4: self-signed

section_selfsigned() {
start_dc selfsigned selfsigned
refused selfsigned-no-trust 'self.signed' stls 127.0.0.1 -P "$DOVECOT_PORT"
refused selfsigned-ca 'self.signed' stls 127.0.0.1 -P "$DOVECOT_PORT" --tls-trust-file "$CA"
log_mark
pf selfsigned-pinned 127.0.0.1 -P "$DOVECOT_PORT" --password-file "$PW" --tls-fingerprint "sha256:$FP_SELF"
ok_run "selfsigned-pinned: a self-signed certificate pinned by fingerprint"
delivered selfsigned-pinned
login_logged SCRAM-SHA-256 selfsigned-pinned
refused selfsigned-pin-wrong 'pinned fingerprint' stls 127.0.0.1 -P "$DOVECOT_PORT" \
	--tls-fingerprint "sha256:$FP_SERVER"

# ---- wrong password with USER: also 77 (the same rule for -ERR [AUTH] after
# PASS). On this server, not after the wrong password on the main one: a
# second failed login from an address waits out dovecot's auth penalty.
pf wrong-password-user 127.0.0.1 -P "$DOVECOT_PORT" --auth user --password-file "$BADPW" \
	--tls-fingerprint "sha256:$FP_SELF"
if [ "$RC" -eq 77 ]; then
	ok "wrong-password-user: --auth user with a wrong password: exit 77"
else
	fail "wrong-password-user: exit $RC, expected 77"
fi
}

# ================================================================ 5: client certificate

section_clientcert() {
start_dc clientcert server "ssl_verify_client_cert = yes
ssl_ca = <$CERTS/client-ca.pem
ssl_require_crl = no
auth_ssl_require_client_cert = yes"
log_mark
pf clientcert 127.0.0.1 -vv -P "$DOVECOT_PORT" --password-file "$PW" --tls-trust-file "$CA" \
	--tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client.key"
ok_run "clientcert: --tls-cert/--tls-key with the client CA's certificate"
delivered clientcert
login_logged SCRAM-SHA-256 clientcert
log_mark
pf clientcert-implicit 127.0.0.1 --tls=implicit -P "$DOVECOT_POP3S_PORT" --auth plain \
	--password-file "$PW" --tls-trust-file "$CA" \
	--tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client.key"
ok_run "clientcert-implicit: client certificate over implicit TLS, --auth plain"
delivered clientcert-implicit
login_logged PLAIN clientcert-implicit

# Refusals last (dovecot delays logins after failed ones).
log_mark
pf clientcert-none 127.0.0.1 -vv -P "$DOVECOT_PORT" --password-file "$PW" --tls-trust-file "$CA"
if [ "$RC" -eq 77 ] && grep -q -i 'certificate' "$ERR"; then
	ok "clientcert-none: without --tls-cert: refused (exit 77, '$(grep -i 'certificate' "$ERR" | grep -v '^S: ' | head -n 1)')"
else
	fail "clientcert-none: exit $RC, expected 77 and an error about the certificate"
fi
nothing_delivered clientcert-none
if wait_log 1 "client didn't send a cert" && ! log_since | grep -q 'Login:'; then
	ok "clientcert-none: dovecot: client didn't send a cert, no login"
else
	fail "clientcert-none: dovecot did not log the missing client certificate"
	log_since | sed 's/^/#   dovecot: /'
fi
log_mark
pf clientcert-other-ca 127.0.0.1 -P "$DOVECOT_PORT" --password-file "$PW" --tls-trust-file "$CA" \
	--tls-cert "$CERTS/server.pem" --tls-key "$CERTS/server.key"
if [ "$RC" -eq 77 ]; then
	ok "clientcert-other-ca: a client certificate from another CA: refused (exit 77)"
else
	fail "clientcert-other-ca: exit $RC, expected 77"
fi
nothing_delivered clientcert-other-ca
}

# ================================================================ three at a time

# run_section NAME: the section in a subshell that stops its dovecot on
# every exit path, with its own $TESTDIR/err (what fail() shows) and
# dovecot dirs; its output in $TESTDIR/section-NAME.out, its status in
# $TESTDIR/section-NAME.rc.
run_section() {
	(
		trap 'rc=$?; dovecot_stop || { echo "FAIL: $1: dovecot processes were left running: ${DOVECOT_ERROR:-}"; rc=1; }; exit $rc' EXIT
		TESTDIR=$TESTDIR/section-$1
		mkdir "$TESTDIR" || exit 1
		"section_$1"
	) > "$TESTDIR/section-$1.out" 2>&1
	echo $? > "$TESTDIR/section-$1.rc"
}
# Three lanes: the main server's logins, its verification, the four others.
run_section logins &
lane_logins=$!
run_section verify &
lane_verify=$!
for sec in expired wronghost selfsigned clientcert; do
	run_section "$sec"
done
wait "$lane_logins" "$lane_verify"
for sec in logins verify expired wronghost selfsigned clientcert; do
	out=$TESTDIR/section-$sec.out
	cat "$out"
	PASSED=$((PASSED + $(grep -c '^ok: ' "$out")))
	nfail=$(grep -c '^FAIL: ' "$out")
	rc=$(cat "$TESTDIR/section-$sec.rc" 2>/dev/null || echo 1)
	if [ "$rc" -ne 0 ] && [ "$nfail" -eq 0 ]; then
		fail "$sec: the section stopped early (status $rc)"
	fi
	FAILED=$((FAILED + nfail))
	RACE_HITS=$((RACE_HITS + $(grep -c 'lost the STLS session-ticket race' "$out")))
done

# ================================================================ secrets

# No output of any run (traces included) holds the password, in clear or
# in the base64 of PLAIN or LOGIN.
_leaks=
_nfiles=0
printf '%s\n' "$SECRETS" | grep -v '^$' >"$CL/secrets"
for f in "$CL"/*.out "$CL"/*.err; do
	[ -f "$f" ] && _nfiles=$((_nfiles + 1))
done
# One grep for all: which lines of which files hold any of the secrets.
grep -F -f "$CL/secrets" "$CL"/*.out "$CL"/*.err >"$CL/leaks" 2>/dev/null
[ -s "$CL/leaks" ] && _leaks=$(head -n 5 "$CL/leaks" | tr '\n' ';')
if [ -z "$_leaks" ] && [ "$_nfiles" -gt 0 ]; then
	ok "no-secret: none of the $_nfiles outputs and traces holds a password or its PLAIN/LOGIN base64"
else
	fail "no-secret: password found in output: $_leaks"
fi
_ntrace=$(grep -l '^C: ' "$CL"/*.err 2>/dev/null | wc -l | tr -d ' ')
if [ "$_ntrace" -ge 10 ]; then
	ok "no-secret: $_ntrace of them are -vv protocol traces"
else
	fail "no-secret: only $_ntrace protocol traces were checked"
fi

finish
