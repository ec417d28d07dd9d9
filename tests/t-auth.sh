#!/bin/sh
# TLS and authentication against the test server: TLS is required and a
# failure to get it (no STLS, STLS refused, faked or with injected
# plaintext) sends nothing more, no secret above all; STLS and implicit
# TLS, pinned and with a client certificate; every login method, the
# default choice, fallback only past a lying CAPA, OAuth errors, a server
# SCRAM signature that is wrong, response codes mapped to exit statuses,
# and secrets kept out of the -vv trace and away from failed connections.
. "${srcdir:=.}/tests/lib.sh"

if ! command -v openssl >/dev/null 2>&1; then
	echo "SKIP: the openssl command is needed for the test certificates"
	exit 77
fi

CERTS=$TESTDIR/certs
ALL_MECHS="PLAIN LOGIN CRAM-MD5 SCRAM-SHA-1 SCRAM-SHA-256 XOAUTH2 OAUTHBEARER"
# Long enough that "AUTH XOAUTH2 <base64>" exceeds RFC 5034's 255 octets,
# so the client must send it in the two-step form.
LONG_TOKEN=$(printf 'ya29.%0250d' 7)

# Certificates made now: tests/certs.sh's when it is there, else a
# self-signed server certificate that is its own CA, and the same for
# the client. Either way: ca.pem, server.pem/.key, client-ca.pem,
# client.pem/.key.
own_certs() {
	mkdir -p "$CERTS" || return 1
	for _c in server client; do
		_cn=localhost
		_ext="-addext subjectAltName=IP:127.0.0.1,DNS:localhost"
		[ "$_c" = client ] && _cn='test' && _ext=''
		# shellcheck disable=SC2086 # _ext is empty or two words
		OPENSSL_CONF=/dev/null openssl req -x509 -newkey ec \
			-pkeyopt ec_paramgen_curve:prime256v1 -noenc -days 30 \
			-keyout "$CERTS/$_c.key" -out "$CERTS/$_c.pem" \
			-subj "/CN=$_cn" $_ext >>"$CERTS/openssl.log" 2>&1 || return 1
	done
	cp "$CERTS/server.pem" "$CERTS/ca.pem" &&
		cp "$CERTS/client.pem" "$CERTS/client-ca.pem"
}
if [ -f "$srcdir/tests/certs.sh" ]; then
	# shellcheck source=tests/certs.sh
	. "$srcdir/tests/certs.sh"
fi
if command -v make_certs >/dev/null 2>&1; then
	make_certs "$CERTS" || { fail "make_certs"; finish; }
else
	own_certs || { fail "test certificates: $(cat "$CERTS/openssl.log")"; finish; }
fi

# srv [testpop3d options...]: (re)starts the server with the test
# certificate, logging to $SLOG; same port every time.
srv() {
	server_stop
	server_start --log "$SLOG" --tls-cert "$CERTS/server.pem" \
		--tls-key "$CERTS/server.key" "$@" "$DROP" ||
		{ fail "server_start $*"; finish; }
}

# pt [options...]: popfetch with TLS required (the default), trusting the
# test CA, the password from $TESTDIR/pw; everything fetched again every
# time (--all), so that a session that logged in goes on to RETR. Sets
# RC, stdout in $TESTDIR/out, stderr in $TESTDIR/err.
pt() {
	RC=0
	timeout 60 "$POPFETCH" -P "$PORT" -u test --tls-trust-file "$CERTS/ca.pem" \
		--password-file "$TESTDIR/pw" --state-dir "$STATE" --timeout 5 \
		--maildir "$MD" --all "$@" 127.0.0.1 >"$TESTDIR/out" 2>"$TESTDIR/err" || RC=$?
}

# ptcmd CMD [options...]: pt with --password-cmd CMD instead of the file.
ptcmd() {
	_cmd=$1
	shift
	RC=0
	timeout 60 "$POPFETCH" -P "$PORT" -u test --tls-trust-file "$CERTS/ca.pem" \
		--password-cmd "$_cmd" --state-dir "$STATE" --timeout 5 \
		--maildir "$MD" --all "$@" 127.0.0.1 >"$TESTDIR/out" 2>"$TESTDIR/err" || RC=$?
}

# Lines of the last session that start with $1 (grep -a: after a faked
# STLS the server logs whatever the client's TLS bytes hold).
count_cmd() {
	last_session | grep -ac "^$1" || :
}

# The login commands of the last session, each with its first argument:
# "USER test", "APOP test", "AUTH PLAIN".
auth_lines() {
	last_session | grep -aE '^(USER|APOP|AUTH)( |$)' | cut -d' ' -f1-2
}

# No login attempt in the last session, and the password nowhere.
no_secret_sent() {
	[ -z "$(auth_lines)" ] && [ "$(count_cmd PASS)" -eq 0 ] &&
		! last_session | grep -aq -e secret -e c2VjcmV0
}

err_has() {
	grep -q -- "$1" "$TESTDIR/err"
}

# The first lines of the last session, one per line, must be exactly $@.
session_starts() {
	[ "$(last_session | head -n $#)" = "$(printf '%s\n' "$@")" ]
}

msg 001 one

# ---- TLS failures: nothing more is sent in the clear ----

rm -f "$TESTDIR/ran"
srv
ptcmd "touch '$TESTDIR/ran'; echo secret"
expect_rc 69 "STLS not offered: a TLS failure"
check "STLS not offered: only CAPA was sent (no STLS, no login, no QUIT)" \
	test "$(last_session)" = CAPA
check "STLS not offered: the error says so" err_has "does not offer STLS"
check "--password-cmd is not run when the connection fails before login" \
	test ! -e "$TESTDIR/ran"

srv --stls-fail
pt
expect_rc 69 "STLS refused (-ERR): a TLS failure"
check "STLS refused: CAPA and STLS only, no USER/PASS/AUTH/APOP" \
	test "$(last_session)" = "$(printf 'CAPA\nSTLS')"

srv --stls-fake
pt --timeout 2
expect_rc 69 "STLS answered +OK without TLS: a TLS failure"
check "STLS faked: no login attempt, no secret in the server's log" no_secret_sent

srv --stls-inject
pt
expect_rc 69 "STLS reply with injected plaintext: a TLS failure"
check "STLS injection: the error says data came before the TLS handshake" \
	err_has "before the TLS handshake"
check "STLS injection: no login attempt, no secret in the server's log" no_secret_sent

# ---- TLS that works ----

rm -f "$TESTDIR/ran"
srv --stls
ptcmd "touch '$TESTDIR/ran'; echo secret"
expect_rc 0 "STLS with --tls-trust-file: fetch"
check "STLS: CAPA, STLS, CAPA again over TLS, login, CAPA after login" \
	session_starts CAPA STLS CAPA "USER test" "PASS secret" CAPA STAT
check "STLS: the message was fetched" test "$(last_session | grep -c '^RETR 1$')" -eq 1
check "--password-cmd is run when the password is needed" test -e "$TESTDIR/ran"

srv --implicit-tls
pt --tls=implicit
expect_rc 0 "implicit TLS (--tls=implicit -P PORT): fetch"
check "implicit TLS: CAPA, login, CAPA after login, no STLS" \
	session_starts CAPA "USER test" "PASS secret" CAPA STAT
# The client waits for a greeting, the server for a ClientHello.
pt --timeout 2
expect_rc 75 "STLS against an implicit-TLS server: timed out at the greeting"
check "STLS against an implicit-TLS server: nothing but TLS bytes sent" no_secret_sent

FP=$(openssl x509 -in "$CERTS/server.pem" -noout -fingerprint -sha256 | sed 's/.*=//')
pt --tls=implicit --tls-fingerprint "sha256:$FP"
expect_rc 0 "implicit TLS with the right --tls-fingerprint"
pt --tls=implicit --tls-fingerprint "sha256:$(printf '%064d' 0)"
expect_rc 69 "implicit TLS with a wrong --tls-fingerprint"
check "wrong fingerprint: nothing sent over the connection" test -z "$(last_session)"

srv --implicit-tls --require-client-cert "$CERTS/client-ca.pem"
pt --tls=implicit --tls-cert "$CERTS/client.pem" --tls-key "$CERTS/client.key"
expect_rc 0 "a client certificate the server requires (--tls-cert/--tls-key)"
pt --tls=implicit
# With TLS 1.3 the refusal is an alert the client reads after its side of
# the handshake; still a TLS failure.
expect_rc 69 "no client certificate when one is required: a TLS failure"
check "no client certificate: the server refused the handshake, no command arrived" \
	test "$(count_cmd '-- TLS handshake failed')" -eq 1 -a "$(last_session | wc -l)" -eq 1

# ---- login methods ----

srv --stls --sasl "$ALL_MECHS" --apop
for m in plain login cram-md5 scram-sha-1 scram-sha-256 user apop; do
	pt --auth "$m" -vv
	expect_rc 0 "--auth $m"
	case $m in
	user) first="USER test" ;;
	apop) first="APOP test" ;;
	*) first="AUTH $(echo "$m" | tr '[:lower:]' '[:upper:]')" ;;
	esac
	check "--auth $m: one attempt, $first" test "$(auth_lines)" = "$first"
	check "--auth $m: logged in and went on to STAT" test "$(count_cmd STAT)" -eq 1
	check "--auth $m: the -vv trace shows $first" grep -q "^C: $first" "$TESTDIR/err"
	check "--auth $m: the password is not in the -vv trace" \
		sh -c "! grep -q -e secret -e c2VjcmV0 '$TESTDIR/err'"
done
pt -vv
expect_rc 0 "default method with all offered"
check "default: the strongest offered, SCRAM-SHA-256" \
	test "$(last_session | grep -E '^(USER|APOP|AUTH) ' | cut -d' ' -f1-2)" = "AUTH SCRAM-SHA-256"
check "default: the SCRAM responses are redacted in the -vv trace" grep -q '<redacted>' "$TESTDIR/err"
check "default: neither the password nor its base64 is in the -vv trace" \
	sh -c "! grep -q -e secret -e c2VjcmV0 -e AHRlc3QAc2VjcmV0 '$TESTDIR/err'"

srv --stls --sasl "PLAIN LOGIN CRAM-MD5"
pt
expect_rc 0 "default method with PLAIN LOGIN CRAM-MD5 offered"
check "default: CRAM-MD5 of PLAIN LOGIN CRAM-MD5" \
	test "$(last_session | grep -E '^(USER|APOP|AUTH) ')" = "AUTH CRAM-MD5"

# ---- OAuth 2.0 bearer tokens, from --password-cmd ----

srv --stls --sasl "XOAUTH2 OAUTHBEARER" --token tok-123
ptcmd "echo tok-123" --auth xoauth2 -vv
expect_rc 0 "XOAUTH2, one-line form"
check "XOAUTH2: the token in the initial response" \
	test "$(last_session | grep -c '^AUTH XOAUTH2 [A-Za-z0-9+/=]*$')" -eq 1
check "XOAUTH2: the token is not in the -vv trace" sh -c "! grep -q tok-123 '$TESTDIR/err'"
ptcmd "echo tok-123" --auth oauthbearer
expect_rc 0 "OAUTHBEARER"
check "OAUTHBEARER: one AUTH OAUTHBEARER" \
	test "$(last_session | grep -c '^AUTH OAUTHBEARER ')" -eq 1
ptcmd "echo wrong-token" --auth xoauth2
expect_rc 77 "XOAUTH2 with a wrong token"
check "XOAUTH2 wrong token: the error shows the server's JSON detail" \
	err_has '"status":"401","schemes":"bearer","scope":"mail"'
check "XOAUTH2 wrong token: the client answered the error challenge, then stopped" \
	test "$(last_session | sed -n '/^AUTH XOAUTH2/{n;p;}')" = "" -a "$(count_cmd 'STAT')" -eq 0
ptcmd "echo wrong-token" --auth oauthbearer
expect_rc 77 "OAUTHBEARER with a wrong token"
check "OAUTHBEARER wrong token: the error shows the server's JSON detail" \
	err_has '"status":"401"'
check "OAUTHBEARER wrong token: answered with ^A (AQ==)" \
	test "$(last_session | sed -n '/^AUTH OAUTHBEARER/{n;p;}')" = "AQ=="

srv --stls --sasl XOAUTH2 --token "$LONG_TOKEN"
ptcmd "echo $LONG_TOKEN" --auth xoauth2
expect_rc 0 "XOAUTH2, two-step form (a response over 255 octets)"
check "XOAUTH2 two-step: AUTH XOAUTH2 alone, then the response" \
	test "$(last_session | grep -c '^AUTH XOAUTH2$')" -eq 1 -a \
	"$(last_session | sed -n '/^AUTH XOAUTH2$/{n;p;}' | wc -c)" -gt 255

# ---- fallback past a lying CAPA, but not past a wrong password ----

srv --stls --sasl PLAIN --sasl-lie SCRAM-SHA-256
pt
expect_rc 0 "SCRAM-SHA-256 offered but refused: fallback succeeds"
check "fallback: AUTH SCRAM-SHA-256, then AUTH PLAIN" \
	test "$(last_session | grep -E '^(USER|APOP|AUTH) ' | cut -d' ' -f1-2 | tr '\n' ' ')" = "AUTH SCRAM-SHA-256 AUTH PLAIN "
printf 'wrong\n' > "$TESTDIR/pw"
pt
expect_rc 77 "lying CAPA, then a wrong password"
check "wrong password past a lie: PLAIN tried once, nothing after its -ERR [AUTH]" \
	test "$(last_session | grep -E '^(USER|APOP|AUTH) ' | cut -d' ' -f1-2 | tr '\n' ' ')" = "AUTH SCRAM-SHA-256 AUTH PLAIN "
srv --stls --sasl "SCRAM-SHA-256 PLAIN"
pt
expect_rc 77 "wrong password with SCRAM-SHA-256 and PLAIN offered"
check "wrong password: exactly one authentication attempt" \
	test "$(last_session | grep -cE '^(USER|APOP|AUTH) ')" -eq 1
printf 'secret\n' > "$TESTDIR/pw"

# ---- a server that does not know the password ----

srv --stls --sasl "SCRAM-SHA-256 PLAIN" --scram-bad-signature
pt
case $RC in
76 | 77) ok "SCRAM with a wrong server signature: refused (exit $RC)" ;;
*) fail "SCRAM with a wrong server signature: exit $RC, expected 76 or 77" ;;
esac
check "wrong server signature: the exchange was cancelled (*)" test "$(count_cmd '\*$')" -eq 1
check "wrong server signature: no STAT, no other login after it" \
	test "$(count_cmd STAT)" -eq 0 -a "$(last_session | grep -cE '^(USER|APOP|AUTH) ')" -eq 1
check "wrong server signature: the error says why" err_has "wrong server signature"

# ---- response codes (RFC 3206) ----

srv --stls --in-use
pt
expect_rc 75 "[IN-USE]: temporary failure"
srv --stls --auth-fail-temp
pt
expect_rc 75 "[SYS/TEMP]: temporary failure"
srv --stls --sasl PLAIN --in-use
pt
expect_rc 75 "[IN-USE] after AUTH PLAIN: temporary failure"
srv --stls
printf 'wrong\n' > "$TESTDIR/pw"
pt
expect_rc 77 "wrong password ([AUTH]): permission denied"
check "wrong password: one PASS, no retry" \
	test "$(count_cmd PASS)" -eq 1
printf 'secret\n' > "$TESTDIR/pw"

finish
