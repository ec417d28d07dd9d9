# SPDX-License-Identifier: ISC
# shellcheck shell=sh disable=SC2034 # the SRV_* settings are for matrix.sh
# tests/interop/srv-dovecot.sh -- dovecot (Debian package dovecot-pop3d,
# installed: the rest of the suite uses it), started by tests/dovecot.sh
# on a Maildir, STLS and pop3s, every mechanism it has for a passwd-file
# with plaintext passwords, APOP included.  Its TLS 1.3 session tickets
# are off (OPENSSL_CONF), as in tests/t-tls.sh, whose "stls-ticket-race"
# check covers the popfetch bug they expose; here they would make the TLS
# checks flaky.

# shellcheck source=tests/dovecot.sh
. "${srcdir:-.}/tests/dovecot.sh"

SRV_AUTHS="user apop plain login cram-md5 scram-sha-1 scram-sha-256"
SRV_STLS=1
SRV_POP3S=1
SRV_DUPUID=1
SRV_USER="test"
PASSWORD='secret word'
DC_N=0
DC_UIDL=

srv_init() {
	SRV_VERSION="dovecot $(dovecot --version 2>/dev/null || /usr/sbin/dovecot --version), package $(dpkg-query -W -f='${Version}' dovecot-pop3d 2>/dev/null)"
	SD=$TESTDIR/srv
	mkdir -p "$SD"
	chmod 0711 "$TESTDIR" "$SD"
	cat >"$SD/openssl-notickets.cnf" <<EOF2
openssl_conf = openssl_init
[ openssl_init ]
ssl_conf = ssl_sect
[ ssl_sect ]
system_default = system_default_sect
[ system_default_sect ]
NumTickets = 0
EOF2
	chmod 0644 "$SD/openssl-notickets.cnf"
	DC_PENDING=
}

srv_start() {
	[ -n "${DOVECOT_PID:-}" ] && return 0
	DC_N=$((DC_N + 1))
	DOVECOT_SSL_CERT=$TESTDIR/certs/server.pem
	DOVECOT_SSL_KEY=$TESTDIR/certs/server.key
	DOVECOT_POP3S=yes
	DOVECOT_AUTH_MECHANISMS="plain login cram-md5 scram-sha-1 scram-sha-256 apop"
	DOVECOT_EXTRA_CONF="auth_failure_delay = 0
import_environment = \$import_environment OPENSSL_CONF=$SD/openssl-notickets.cnf
$DC_UIDL"
	dovecot_start "$SD/dc$DC_N" || return 1
	SRV_PORT=$DOVECOT_PORT
	SRV_PORT_TLS=$DOVECOT_POP3S_PORT
	SLOG=$DOVECOT_LOG
	for _f in $DC_PENDING; do dovecot_add_msg "$_f" || return 1; done
	DC_PENDING=
}

srv_stop() {
	dovecot_stop
}

# Before the first start the mail waits (dovecot_start makes the Maildir).
srv_add() {
	if [ -z "${DOVECOT_PID:-}" ]; then
		DC_PENDING="$DC_PENDING $1"
		return 0
	fi
	dovecot_add_msg "$1"
}

# pop3_reuse_xuidl: a message's X-UIDL header is its UID, as with
# Mailutils.  (pop3_uidl_format = %m, the header digest, is refused for a
# Maildir: "Header MD5 not found".)  The check ignores the X-UIDL field.
srv_dupuid() {
	dovecot_stop || return 1
	DC_UIDL="pop3_reuse_xuidl = yes"
	DC_PENDING=
	_i=0
	for _f in "$1" "$2" "$1"; do
		_i=$((_i + 1))
		{ printf 'X-UIDL: same-uid-for-all\n'; cat "$_f"; } >"$SD/dup$_i"
		DC_PENDING="$DC_PENDING $SD/dup$_i"
	done
	srv_start
	SRV_STRIPPED="the X-UIDL field put in for the duplicate UIDs"
}

srv_strip() {
	LC_ALL=C awk 'h == 0 && /^X-UIDL:/ { next } /^$/ { h = 1 } { print }'
}
