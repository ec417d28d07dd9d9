# SPDX-License-Identifier: ISC
# shellcheck shell=sh disable=SC2034 # the SRV_* settings are for matrix.sh
# tests/interop/srv-popa3d.sh -- popa3d (Debian package popa3d), run from
# inetd (here socat) on an mbox spool, USER/PASS checked by PAM.
# Compiled-in: the spool /var/mail/USER, a chroot to /var/lib/popa3d and
# the user "popa3d" before login, the PAM service "popa3d".  All of them
# are private files in the server's mount namespace.

SRV_AUTHS="user"
SRV_DUPUID=1
MBOX=

srv_init() {
	ix_init popa3d
	SRV_VERSION="popa3d $(sed 's|.*popa3d_\([^_]*\)_.*|\1|' "$IXR/.done")"
	ix_service_user popa3d
	mkdir -p "$SD/mail" "$SD/varlib/popa3d"
	chmod 1777 "$SD/mail"
	MBOX=$SD/mail/$IX_USER
	ix_pam popa3d
	ix_bind "$SD/mail" /var/mail
	ix_bind "$SD/varlib" /var/lib
}

srv_start() {
	SRV_PORT=$(ix_port)
	ix_start "$SLOG" socat "TCP-LISTEN:$SRV_PORT,bind=127.0.0.1,reuseaddr,fork" \
		"EXEC:$SD/root/usr/sbin/popa3d"
	ix_wait_port "$SRV_PORT"
}

srv_stop() {
	ix_stop
}

# mbox_add FILE MBOX: FILE as one more message of MBOX, owned by the user.
mbox_add() {
	{
		printf 'From sender@example.org Mon Jan  1 10:00:00 2024\n'
		cat "$1"
		printf '\n'
	} >>"$2" || return 1
	chown "$MAIL_UID:$MAIL_GID" "$2" && chmod 0600 "$2"
}

srv_add() {
	mbox_add "$1" "$MBOX"
}

# popa3d's UID is a digest of a few header fields, not of the whole
# message: two messages with the same Date and Message-ID share a UID.
srv_dupuid() {
	rm -f "$MBOX"
	mbox_add "$1" "$MBOX" && mbox_add "$2" "$MBOX" && mbox_add "$1" "$MBOX"
}
