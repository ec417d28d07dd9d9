# SPDX-License-Identifier: ISC
# shellcheck shell=sh
# tests/interop/lib.sh -- running an unpacked POP3 server privately.
# Sourced by tests/interop/matrix.sh, after tests/lib.sh.
#
# Each server runs in a mount namespace of its own (unshare -m) and a
# session of its own (setsid), so that it can see private files where it
# insists on fixed paths (/etc/pam.d, /etc/passwd, /var/mail, ...) without
# anything outside changing, and so that every process it forks can be
# found and stopped.  Its unpacked package tree is bind-mounted to
# $SD/root, so that its unprivileged processes reach it wherever the build
# tree is.  Mail belongs to the system user popfetch-test (as in
# tests/dovecot.sh); service users a server wants by name are given that
# uid in a private /etc/passwd.
#
#   ix_init NAME            $SD (server dir), $IXR (its unpacked tree),
#                           MAIL_UID/MAIL_GID, the private passwd
#   ix_bind SRC DST         bind SRC over DST in the next ix_start
#   ix_start LOG CMD...     runs CMD in the namespace; sets IX_PID
#   ix_wait_port PORT       until 127.0.0.1:PORT listens (IX_PID alive)
#   ix_stop                 TERM, then KILL, every process of the session
#   ix_port                 prints a free port
#   ix_userdb FILE USER PW  a pam_userdb database FILE.db
#   ix_pam SERVICE...       /etc/pam.d/SERVICE: pam_userdb on $SD/users.db

IX_USER=popfetch-test
IX_PID=
IX_NS=
IX_BINDS=
IX_OVERLAYS=

ix_die() {
	fail "$*"
	exit 1
}

ix_init() {
	IXR=$IX_DIR/root/$1
	[ -f "$IXR/.done" ] || ix_die "$1 is not unpacked in $IXR: run sh tests/interop/setup.sh $IX_DIR $1 (make check-interop does)"
	[ "$(id -u)" -eq 0 ] || ix_die "the interop tests run as root (they use mount namespaces and an unprivileged mail user)"
	if ! id "$IX_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin "$IX_USER" >/dev/null 2>&1 ||
			ix_die "cannot create the system user $IX_USER"
	fi
	MAIL_UID=$(id -u "$IX_USER") && MAIL_GID=$(id -g "$IX_USER") || exit 1
	SD=$TESTDIR/srv
	mkdir -p "$SD/root" "$SD/etc" "$SD/home" || exit 1
	chmod 0711 "$TESTDIR" "$SD"
	chown "$MAIL_UID:$MAIL_GID" "$SD/home"
	# popfetch-test's home is $SD/home here; service users share its uid.
	awk -F: -v u="$IX_USER" -v h="$SD/home" 'BEGIN { OFS = ":" } $1 == u { $6 = h; $7 = "/bin/sh" } { print }' \
		/etc/passwd >"$SD/etc/passwd" || exit 1
	IX_BINDS="$IXR $SD/root
$SD/etc/passwd /etc/passwd"
}

# ix_service_user NAME: a user NAME with the mail user's uid and gid.
ix_service_user() {
	grep -q "^$1:" "$SD/etc/passwd" && sed -i "/^$1:/d" "$SD/etc/passwd"
	echo "$1:x:$MAIL_UID:$MAIL_GID::$SD/home:/usr/sbin/nologin" >>"$SD/etc/passwd"
}

# ix_overlay DIR: a private overlay over DIR in the next ix_start (for
# compiled-in paths that do not exist outside, e.g. /etc/courier): what is
# put in $(ix_upper DIR) appears in DIR.  Overlays are mounted before the
# binds.
ix_overlay() {
	_u=$(ix_upper "$1")
	mkdir -p "$_u" "$_u.work"
	IX_OVERLAYS="$IX_OVERLAYS $1"
}

ix_upper() {
	echo "$SD/overlay/$(echo "$1" | tr / _)"
}

ix_bind() {
	IX_BINDS="$IX_BINDS
$1 $2"
}

ix_port() {
	while :; do
		_p=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		_p=$((20000 + _p % 40000))
		ix_listening "$_p" || { echo "$_p"; return 0; }
	done
}

ix_listening() {
	_h=$(printf '%04X' "$1")
	awk -v p="$_h" 'NR > 1 && $4 == "0A" && ($2 == "0100007F:" p || $2 == "00000000:" p) { f = 1 } END { exit !f }' /proc/net/tcp
}

ix_alive() {
	[ -n "$1" ] && [ -d "/proc/$1" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$1/status" 2>/dev/null
}

# The live pids of session $1, and of the server's mount namespace (which
# also holds whatever daemonized itself into a session of its own).
ix_server_pids() {
	{
		ix_session_pids "$1"
		if [ -n "$IX_NS" ]; then
			for _f in /proc/[0-9]*; do
				[ "$(readlink "$_f/ns/mnt" 2>/dev/null)" = "$IX_NS" ] && ix_alive "${_f#/proc/}" && echo "${_f#/proc/}"
			done
		fi
	} | sort -u
	return 0
}

ix_session_pids() {
	for _f in /proc/[0-9]*/stat; do
		{ read -r _st <"$_f"; } 2>/dev/null || continue
		_st=${_st##*) }
		# shellcheck disable=SC2086
		set -- "$1" $_st
		[ "$6" = "$1" ] && [ "$2" != Z ] && echo "${_f%/stat}" | sed 's|/proc/||'
	done
	return 0
}

# The mount commands of the namespace.
ix_mounts() {
	for _o in $IX_OVERLAYS; do
		_u=$(ix_upper "$_o")
		echo "mount -t overlay overlay -o 'lowerdir=$_o,upperdir=$_u,workdir=$_u.work' '$_o'"
	done
	printf '%s\n' "$IX_BINDS" | while read -r _s _d; do
		[ -n "$_s" ] && echo "mount --bind '$_s' '$_d'"
	done
}

# ix_start LOG CMD...: CMD, in a new session and mount namespace with the
# ix_bind mounts, output to LOG.
ix_start() {
	_log=$1
	shift
	{
		echo 'set -e'
		echo "echo \$\$ >'$SD/ns.pid'"
		ix_mounts
		echo 'exec "$@"'
	} >"$SD/ns.sh"
	rm -f "$SD/ns.pid"
	setsid unshare -m --propagation private sh "$SD/ns.sh" "$@" >>"$_log" 2>&1 </dev/null &
	_i=0
	while [ ! -s "$SD/ns.pid" ] && [ "$_i" -lt 50 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	IX_PID=$(cat "$SD/ns.pid" 2>/dev/null)
	[ -n "$IX_PID" ] || { note_log "$_log"; ix_die "the server did not start (see $_log)"; }
	# The namespace is the one unshare made, not ours (then it would name
	# every process on the machine).
	IX_NS=$(readlink "/proc/$IX_PID/ns/mnt")
	[ "$IX_NS" != "$(readlink /proc/$$/ns/mnt)" ] || { IX_NS=; ix_stop; ix_die "unshare -m made no mount namespace"; }
}

# ix_exec CMD...: CMD in a mount namespace like the server's (the same
# ix_bind mounts), in the foreground.
ix_exec() {
	{
		echo 'set -e'
		ix_mounts
		echo 'exec "$@"'
	} >"$SD/ns-exec.sh"
	unshare -m --propagation private sh "$SD/ns-exec.sh" "$@"
}

# ix_wait_file PATH: until PATH exists (10 s at most).
ix_wait_file() {
	_i=0
	while [ "$_i" -lt 100 ]; do
		[ -e "$1" ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

ix_wait_port() {
	_i=0
	while [ "$_i" -lt 100 ]; do
		ix_listening "$1" && return 0
		ix_alive "$IX_PID" || break
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

ix_stop() {
	[ -n "$IX_PID" ] || return 0
	# shellcheck disable=SC2046
	kill -TERM "$IX_PID" $(ix_server_pids "$IX_PID") 2>/dev/null
	_i=0
	while [ "$_i" -lt 50 ]; do
		[ -z "$(ix_server_pids "$IX_PID")" ] && break
		sleep 0.1
		_i=$((_i + 1))
	done
	_left=$(ix_server_pids "$IX_PID")
	if [ -n "$_left" ]; then
		# shellcheck disable=SC2086
		kill -KILL $_left 2>/dev/null
		sleep 0.2
	fi
	_left=$(ix_server_pids "$IX_PID")
	IX_PID=
	IX_NS=
	[ -z "$_left" ] || { echo "FAIL: server processes left running: $_left"; return 1; }
	return 0
}

# ix_userdb FILE USER PASSWORD: a Berkeley DB hash for pam_userdb (FILE.db).
ix_userdb() {
	rm -f "$1.db"
	printf '%s\n%s\n' "$2" "$3" | db_load -T -t hash "$1.db" || ix_die "db_load failed (install db-util)"
	chmod 0644 "$1.db"
}

# ix_pam SERVICE...: a private /etc/pam.d with SERVICE files that check
# passwords against $SD/users.db (user $IX_USER, the test password).
ix_pam() {
	mkdir -p "$SD/pam.d"
	ix_userdb "$SD/users" "$IX_USER" "$PASSWORD"
	for _s in "$@"; do
		printf 'auth required pam_userdb.so db=%s crypt=none\naccount required pam_permit.so\nsession required pam_permit.so\npassword required pam_deny.so\n' \
			"$SD/users" >"$SD/pam.d/$_s"
	done
	ix_bind "$SD/pam.d" /etc/pam.d
}

note_log() {
	if [ -s "$1" ]; then
		printf '# --- %s ---\n' "$1"
		tail -n "${2:-20}" "$1" | sed 's/^/# /'
	fi
}
