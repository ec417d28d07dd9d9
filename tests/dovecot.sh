# SPDX-License-Identifier: ISC
# shellcheck shell=sh disable=SC2034 # the DOVECOT_* variables are for the caller
# tests/dovecot.sh -- a private, throw-away dovecot POP3 server for the tests.
# POSIX sh; meant to be sourced:  . "$srcdir/tests/dovecot.sh"
#
# dovecot_start DIR
#     Writes one config file, DIR/dovecot.conf, and starts a dovecot that
#     serves POP3 only, without TLS (unless asked, see below), on 127.0.0.1
#     on a free port.  Everything it writes (base_dir, state_dir, log,
#     passwd-file, mail) stays under DIR.
#     One POP3 account: user "test", password "secret word" (with a space).
#     Returns 0 with these variables set (and exported):
#       DOVECOT_PORT      the POP3 port on 127.0.0.1
#       DOVECOT_POP3S_PORT  the pop3s port (only with DOVECOT_POP3S, below)
#       DOVECOT_PID       the dovecot master's pid
#       DOVECOT_MAILDIR   the Maildir (cur/ new/ tmp/) the POP3 user sees
#       DOVECOT_USER, DOVECOT_PASSWORD   the account's credentials
#       DOVECOT_DIR, DOVECOT_CONF, DOVECOT_LOG
#     On failure prints why (and the dovecot log) to stderr, sets
#     DOVECOT_ERROR to a one-line reason and returns 1 (so do the others).
#     Run as root, the mail is owned by and dovecot's unprivileged processes
#     run as the system user "popfetch-test", created if missing:
#       useradd --system --no-create-home --shell /usr/sbin/nologin popfetch-test
#     Run as any other user, dovecot runs entirely as that user.
#     DOVECOT (environment) may name the dovecot binary; DOVECOT_EXTRA_CONF
#     may hold config text appended at the end of the generated config (later
#     settings override earlier ones, e.g. "ssl = required" plus ssl_cert...).
#     Optional, for the TLS tests (all unset: plaintext POP3 only, as before):
#       DOVECOT_SSL_CERT, DOVECOT_SSL_KEY   PEM files: "ssl = yes" with this
#                         certificate and key (STLS on the POP3 port)
#       DOVECOT_POP3S     if non-empty, also listen for POP3 over implicit
#                         TLS (pop3s) on a second free port of 127.0.0.1,
#                         exported as DOVECOT_POP3S_PORT (empty otherwise);
#                         needs DOVECOT_SSL_CERT/KEY
#       DOVECOT_AUTH_MECHANISMS   the auth_mechanisms setting (default plain)
#
# dovecot_stop
#     Stops the dovecot started by dovecot_start (TERM to the master, bounded
#     wait, then KILL) and waits until the master and every process it forked
#     are gone, and so for every retired one (below).  Does nothing if none
#     is running.  Returns 1 if a process could not be ended.
#
# dovecot_retire
#     Sends TERM to the dovecot started by dovecot_start and forgets it
#     without waiting, so that the next dovecot_start need not wait for it
#     to shut down; dovecot_stop waits for it.
#
# dovecot_add_msg FILE
#     Delivers a copy of FILE (a message with LF line endings) into the served
#     Maildir's new/, owned by the mail user, mode 0600.  Sets
#     DOVECOT_LAST_MSG to the path of the new file.
#
# Linux only (uses /proc).  Internal names start with dovecot__ / _dc_.

DOVECOT_TEST_SYSUSER=popfetch-test
DOVECOT__UID=$(id -u)

dovecot__err() {
	printf 'dovecot.sh: %s\n' "$*" >&2
}

# An error: also kept, as one line, in DOVECOT_ERROR for the caller to report.
dovecot__fail() {
	DOVECOT_ERROR=$*
	dovecot__err "$*"
}

# Print FILE to stderr, each line prefixed with "| ".
dovecot__dump() {
	if [ -s "$1" ]; then
		printf 'dovecot.sh: ---- %s ----\n' "$1" >&2
		sed 's/^/| /' "$1" >&2
	fi
}

# Sets _dc_bin and _dc_doveconf, or fails naming the package.
dovecot__find_bin() {
	_dc_bin=
	if [ -n "${DOVECOT:-}" ]; then
		if [ ! -f "$DOVECOT" ] || [ ! -x "$DOVECOT" ]; then
			dovecot__fail "DOVECOT=$DOVECOT is not an executable file: install the Debian package dovecot-pop3d (apt-get install -y dovecot-pop3d)"
			return 1
		fi
		_dc_bin=$DOVECOT
	else
		for _dc_d in $(printf '%s' "$PATH" | tr ':' ' ') /usr/sbin /sbin /usr/local/sbin; do
			if [ -f "$_dc_d/dovecot" ] && [ -x "$_dc_d/dovecot" ]; then
				_dc_bin=$_dc_d/dovecot
				break
			fi
		done
	fi
	if [ -z "$_dc_bin" ]; then
		dovecot__fail "the dovecot binary was not found (in \$DOVECOT, \$PATH, /usr/sbin): install the Debian package dovecot-pop3d (apt-get install -y dovecot-pop3d)"
		return 1
	fi
	_dc_doveconf=
	for _dc_d in "${_dc_bin%/*}/../bin" $(printf '%s' "$PATH" | tr ':' ' ') /usr/bin /usr/sbin; do
		if [ -f "$_dc_d/doveconf" ] && [ -x "$_dc_d/doveconf" ]; then
			_dc_doveconf=$_dc_d/doveconf
			break
		fi
	done
	if [ -z "$_dc_doveconf" ]; then
		dovecot__fail "doveconf was not found next to $_dc_bin: install the Debian packages dovecot-core and dovecot-pop3d"
		return 1
	fi
	if [ ! -f /usr/lib/dovecot/pop3 ] && [ ! -f "${_dc_bin%/*}/../lib/dovecot/pop3" ] &&
	   [ ! -f "${_dc_bin%/*}/../libexec/dovecot/pop3" ]; then
		dovecot__fail "dovecot's pop3 server is not installed: install the Debian package dovecot-pop3d"
		return 1
	fi
	return 0
}

# Prints a random port in 20000..60000.
dovecot__random_port() {
	_dc_r=$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' ')
	[ -n "$_dc_r" ] || _dc_r=$(( ($$ * 7919 + ${_dc_try:-0} * 104729) % 65536 ))
	echo $(( 20000 + _dc_r % 40001 ))
}

# True if something listens on 127.0.0.1:$1 (or 0.0.0.0:$1) over TCP.
dovecot__listening() {
	_dc_hex=$(printf '%04X' "$1")
	awk -v p="$_dc_hex" '
		NR > 1 && $4 == "0A" && ($2 == "0100007F:" p || $2 == "00000000:" p) { found = 1 }
		END { exit !found }' /proc/net/tcp
}

# Sets _dc_state and _dc_sid to the state and session of process $1, or
# returns 1 if it does not exist. Builtins only: it runs for every process
# of the machine while dovecot stops, and forks are slow on a busy one.
dovecot__proc_state() {
	_dc_st=
	{ read -r _dc_st <"/proc/$1/stat"; } 2>/dev/null || return 1
	# Fields after the "(comm)": state ppid pgrp session ...
	_dc_st=${_dc_st##*) }
	# shellcheck disable=SC2086
	set -- $_dc_st
	_dc_state=$1
	_dc_sid=$4
}

# True if process $1 exists and is not a zombie.
dovecot__alive() {
	dovecot__proc_state "$1" && [ "$_dc_state" != Z ]
}

# Prints the pids of the live (non-zombie) processes in session $1.
dovecot__session_pids() {
	_dc_sess=$1
	for _dc_f in /proc/[0-9]*; do
		_dc_p=${_dc_f#/proc/}
		[ "$_dc_p" = "$$" ] && continue
		dovecot__proc_state "$_dc_p" || continue
		[ "$_dc_state" = Z ] && continue
		[ "$_dc_sid" = "$_dc_sess" ] && echo "$_dc_p"
	done
	return 0
}

# Writes the whole config to $_dc_conf, listening on port $1 (and for pop3s
# on port $2, 0 for none).
dovecot__write_conf() {
	if [ -n "${DOVECOT_SSL_CERT:-}" ]; then
		_dc_ssl="ssl = yes
ssl_cert = <$DOVECOT_SSL_CERT
ssl_key = <$DOVECOT_SSL_KEY"
	else
		_dc_ssl='ssl = no'
	fi
	cat >"$_dc_conf" <<EOF
# Generated by tests/dovecot.sh for a private test instance; do not edit.
# Only POP3 on 127.0.0.1:$1 (and pop3s on port $2 unless 0), one
# passwd-file account.

base_dir = $_dc_dir/run
state_dir = $_dc_dir/state
instance_name = popfetch-test-$1
log_path = $_dc_dir/dovecot.log
auth_verbose = yes

protocols = pop3
listen = 127.0.0.1
shutdown_clients = yes

# -- TLS: off unless DOVECOT_SSL_CERT/KEY are set; more through
#    DOVECOT_EXTRA_CONF (e.g. ssl_verify_client_cert, ssl_ca).
$_dc_ssl
disable_plaintext_auth = no
auth_mechanisms = ${DOVECOT_AUTH_MECHANISMS:-plain}

# -- Users and processes.  Dovecot never gives mail access to uid 0, so as
# root the mail belongs to $DOVECOT_TEST_SYSUSER; otherwise to the caller.
default_internal_user = $_dc_user
default_internal_group = $_dc_group
default_login_user = $_dc_user
first_valid_uid = $_dc_uid
last_valid_uid = 0
first_valid_gid = 1

passdb {
  driver = passwd-file
  args = $_dc_dir/passwd
}
userdb {
  driver = passwd-file
  args = $_dc_dir/passwd
}

mail_location = maildir:~/Maildir
pop3_uidl_format = %08Xu%08Xv

# No statistics process: nothing connects to it.
stats_writer_socket_path =

# -- Services.  No chroot anywhere, so that the same config also works when
# dovecot runs as an ordinary user.
service pop3-login {
  chroot =
  inet_listener pop3 {
    address = 127.0.0.1
    port = $1
  }
  inet_listener pop3s {
    address = 127.0.0.1
    port = $2
  }
}
service anvil {
  chroot =
}
service ipc {
  chroot =
}
service old-stats {
  chroot =
}
service aggregator {
  chroot =
}
service director {
  chroot =
}
EOF
	if [ -n "${DOVECOT_EXTRA_CONF:-}" ]; then
		printf '\n# -- DOVECOT_EXTRA_CONF\n%s\n' "$DOVECOT_EXTRA_CONF" >>"$_dc_conf"
	fi
}

dovecot_start() {
	if [ $# -ne 1 ] || [ -z "$1" ]; then
		dovecot__fail "usage: dovecot_start DIR"
		return 1
	fi
	if [ -n "${DOVECOT_PID:-}" ] && dovecot__alive "$DOVECOT_PID"; then
		dovecot__fail "a test dovecot is already running (pid $DOVECOT_PID); call dovecot_stop first"
		return 1
	fi
	DOVECOT_ERROR=
	dovecot__find_bin || return 1

	mkdir -p "$1" || return 1
	_dc_dir=$(cd "$1" && pwd -P) || return 1
	case $_dc_dir in
	*[!A-Za-z0-9._/+,@-]*)
		dovecot__fail "directory '$_dc_dir' has characters unsafe in a dovecot config; use a plain mktemp -d path"
		return 1 ;;
	esac
	if [ -n "${DOVECOT_SSL_CERT:-}" ] || [ -n "${DOVECOT_SSL_KEY:-}" ] || [ -n "${DOVECOT_POP3S:-}" ]; then
		for _dc_f in "${DOVECOT_SSL_CERT:-}" "${DOVECOT_SSL_KEY:-}"; do
			case $_dc_f in
			/*) ;;
			*)
				dovecot__fail "DOVECOT_SSL_CERT and DOVECOT_SSL_KEY (needed by DOVECOT_POP3S too) must both be absolute paths, got '$_dc_f'"
				return 1 ;;
			esac
			case $_dc_f in
			*[!A-Za-z0-9._/+,@-]*)
				dovecot__fail "path '$_dc_f' has characters unsafe in a dovecot config"
				return 1 ;;
			esac
			if [ ! -r "$_dc_f" ]; then
				dovecot__fail "cannot read $_dc_f"
				return 1
			fi
		done
	fi

	# Whose mail, and who dovecot's unprivileged processes run as.
	if [ "$DOVECOT__UID" -eq 0 ]; then
		# Root can make the unprivileged user itself, so the README's
		# "make check" works as root on a fresh machine.
		if ! id "$DOVECOT_TEST_SYSUSER" >/dev/null 2>&1; then
			useradd --system --no-create-home --shell /usr/sbin/nologin \
				"$DOVECOT_TEST_SYSUSER" >/dev/null 2>&1 || :
		fi
		if ! id "$DOVECOT_TEST_SYSUSER" >/dev/null 2>&1; then
			dovecot__fail "running as root needs the system user '$DOVECOT_TEST_SYSUSER' (dovecot refuses mail access as uid 0); create it with: useradd --system --no-create-home --shell /usr/sbin/nologin $DOVECOT_TEST_SYSUSER"
			return 1
		fi
		_dc_user=$DOVECOT_TEST_SYSUSER
		_dc_uid=$(id -u "$_dc_user") && _dc_gid=$(id -g "$_dc_user") &&
			_dc_group=$(id -gn "$_dc_user") || return 1
		if [ "$_dc_uid" -eq 0 ] || [ "$_dc_gid" -eq 0 ]; then
			dovecot__fail "user $_dc_user must not have uid or gid 0"
			return 1
		fi
		# dovecot's processes running as that user must reach DIR.
		chmod 0711 "$_dc_dir" || return 1
		if command -v setpriv >/dev/null 2>&1 &&
		   ! setpriv --reuid="$_dc_uid" --regid="$_dc_gid" --clear-groups \
			test -x "$_dc_dir" 2>/dev/null; then
			dovecot__fail "user $_dc_user cannot reach $_dc_dir (a parent directory is not searchable by others); use a temp dir under /tmp"
			return 1
		fi
	else
		if ! _dc_user=$(id -un 2>/dev/null) || ! _dc_group=$(id -gn 2>/dev/null); then
			dovecot__fail "uid $(id -u) has no user or group name; dovecot needs one"
			return 1
		fi
		_dc_uid=$(id -u) _dc_gid=$(id -g)
	fi

	_dc_conf=$_dc_dir/dovecot.conf
	_dc_log=$_dc_dir/dovecot.log
	_dc_maildir=$_dc_dir/mail/Maildir

	# Fresh state: a leftover base_dir could hold a stale master.pid.
	rm -rf "$_dc_dir/run" "$_dc_dir/state" || return 1
	mkdir -p "$_dc_dir/state" "$_dc_maildir/cur" "$_dc_maildir/new" "$_dc_maildir/tmp" || return 1
	chmod 0700 "$_dc_dir/mail" "$_dc_maildir" "$_dc_maildir/cur" "$_dc_maildir/new" "$_dc_maildir/tmp"
	# passwd-file: user:password:uid:gid:gecos:home:shell:extra.  The
	# password may hold spaces (not colons).  Read by the auth process, which
	# runs as the unprivileged user.
	printf 'test:{PLAIN}secret word:%s:%s::%s::\n' "$_dc_uid" "$_dc_gid" "$_dc_dir/mail" >"$_dc_dir/passwd" || return 1
	chmod 0644 "$_dc_dir/passwd"
	if [ "$DOVECOT__UID" -eq 0 ]; then
		chown -R "$_dc_uid:$_dc_gid" "$_dc_dir/mail" || return 1
	fi

	# Try random ports until dovecot binds one.  It binds its listeners
	# before it daemonizes, so "address in use" shows in its exit status.
	_dc_try=0
	_dc_checked=
	while :; do
		_dc_try=$((_dc_try + 1))
		if [ "$_dc_try" -gt 20 ]; then
			dovecot__fail "no free port found for dovecot after 20 tries"
			return 1
		fi
		_dc_port=$(dovecot__random_port)
		dovecot__listening "$_dc_port" && continue
		_dc_sport=0
		if [ -n "${DOVECOT_POP3S:-}" ]; then
			_dc_sport=$(dovecot__random_port)
			[ "$_dc_sport" = "$_dc_port" ] && continue
			dovecot__listening "$_dc_sport" && continue
		fi
		dovecot__write_conf "$_dc_port" "$_dc_sport" || return 1
		if [ -z "$_dc_checked" ]; then
			if ! "$_dc_doveconf" -c "$_dc_conf" -n >"$_dc_dir/doveconf.out" 2>&1; then
				dovecot__fail "doveconf -c $_dc_conf -n rejects the generated config"
				dovecot__dump "$_dc_dir/doveconf.out"
				return 1
			fi
			_dc_checked=yes
		fi
		rm -rf "$_dc_dir/run"
		: >"$_dc_log"
		if "$_dc_bin" -c "$_dc_conf" </dev/null >"$_dc_dir/start.out" 2>&1; then
			break
		fi
		if grep -q 'Address already in use' "$_dc_dir/start.out" "$_dc_log" 2>/dev/null; then
			continue
		fi
		dovecot__fail "dovecot did not start (config $_dc_conf)"
		dovecot__dump "$_dc_dir/start.out"
		dovecot__dump "$_dc_log"
		return 1
	done

	# Wait (at most 10 s) for the pid file and the listening socket.
	_dc_pid=
	_dc_n=0
	while [ "$_dc_n" -lt 200 ]; do
		if [ -z "$_dc_pid" ] && [ -s "$_dc_dir/run/master.pid" ]; then
			{ read -r _dc_pid <"$_dc_dir/run/master.pid"; } 2>/dev/null || _dc_pid=
		fi
		if [ -n "$_dc_pid" ]; then
			if ! dovecot__alive "$_dc_pid"; then
				dovecot__fail "dovecot (pid $_dc_pid) exited right after starting"
				dovecot__dump "$_dc_dir/start.out"
				dovecot__dump "$_dc_log"
				return 1
			fi
			if dovecot__listening "$_dc_port" &&
			   { [ "$_dc_sport" -eq 0 ] || dovecot__listening "$_dc_sport"; }; then
				break
			fi
		fi
		sleep 0.05
		_dc_n=$((_dc_n + 1))
	done
	if [ -z "$_dc_pid" ] || ! dovecot__listening "$_dc_port" ||
	   { [ "$_dc_sport" -ne 0 ] && ! dovecot__listening "$_dc_sport"; }; then
		dovecot__fail "dovecot did not come up on 127.0.0.1:$_dc_port${DOVECOT_POP3S:+ and $_dc_sport} within 10 s"
		dovecot__dump "$_dc_dir/start.out"
		dovecot__dump "$_dc_log"
		if [ -n "$_dc_pid" ]; then
			DOVECOT_PID=$_dc_pid
			DOVECOT_SESSION=
			dovecot_stop
		fi
		return 1
	fi
	DOVECOT_SESSION=
	# The master calls setsid(), so its children share its session id.
	dovecot__proc_state "$_dc_pid" && [ "$_dc_sid" = "$_dc_pid" ] &&
		DOVECOT_SESSION=$_dc_pid

	DOVECOT_PORT=$_dc_port
	DOVECOT_POP3S_PORT=
	[ "$_dc_sport" -ne 0 ] && DOVECOT_POP3S_PORT=$_dc_sport
	DOVECOT_PID=$_dc_pid
	DOVECOT_MAILDIR=$_dc_maildir
	DOVECOT_USER='test'
	DOVECOT_PASSWORD='secret word'
	DOVECOT_DIR=$_dc_dir
	DOVECOT_CONF=$_dc_conf
	DOVECOT_LOG=$_dc_log
	DOVECOT_MAIL_UID=$_dc_uid
	DOVECOT_MAIL_GID=$_dc_gid
	export DOVECOT_PORT DOVECOT_POP3S_PORT DOVECOT_PID DOVECOT_MAILDIR DOVECOT_USER \
		DOVECOT_PASSWORD DOVECOT_DIR DOVECOT_CONF DOVECOT_LOG
	return 0
}

# dovecot__wait_gone N PID SESSION: waits at most N tenths of a second
# until master PID and its SESSION (if not empty) are gone.
dovecot__wait_gone() {
	_dc_n=0
	while [ "$_dc_n" -lt $(($1 * 2)) ]; do
		if ! dovecot__alive "$2"; then
			[ -z "$3" ] && return 0
			[ -z "$(dovecot__session_pids "$3")" ] && return 0
		fi
		sleep 0.05
		_dc_n=$((_dc_n + 1))
	done
	return 1
}

# dovecot__kids PID: the children of PID, for a master without a session of
# its own (to know them once it is gone).
dovecot__kids() {
	_dc_parent=$1
	_dc_kids=
	for _dc_f in /proc/[0-9]*/stat; do
		{ read -r _dc_st <"$_dc_f"; } 2>/dev/null || continue
		_dc_st=${_dc_st##*) }
		# shellcheck disable=SC2086
		set -- $_dc_st
		[ "$2" = "$_dc_parent" ] && _dc_kids="$_dc_kids ${_dc_f%/stat}"
	done
	echo "$_dc_kids" | sed 's|/proc/||g'
}

# dovecot__finish PID SESSION KIDS: waits until the master PID, which was
# sent TERM, and its SESSION (or, without one, its KIDS) are gone; KILL
# after 10 s.
dovecot__finish() {
	if ! dovecot__wait_gone 100 "$1" "$2"; then
		dovecot__err "dovecot (pid $1) still running 10 s after SIGTERM; sending SIGKILL"
		kill -KILL "$1" 2>/dev/null
		dovecot__wait_gone 20 "$1" "$2"
	fi
	# Anything that outlived the master (children notice its death and exit
	# on their own, but do not rely on it).
	_dc_left=
	if [ -n "$2" ]; then
		_dc_left=$(dovecot__session_pids "$2")
	else
		for _dc_p in $3; do
			dovecot__alive "$_dc_p" && _dc_left="$_dc_left $_dc_p"
		done
	fi
	if [ -n "$_dc_left" ]; then
		# shellcheck disable=SC2086
		kill -KILL $_dc_left 2>/dev/null
		sleep 0.2
		_dc_still=
		for _dc_p in $_dc_left; do
			dovecot__alive "$_dc_p" && _dc_still="$_dc_still $_dc_p"
		done
		if [ -n "$_dc_still" ] || dovecot__alive "$1"; then
			dovecot__fail "could not stop dovecot processes:$_dc_still"
			return 1
		fi
	fi
	return 0
}

# Retired dovecots, as "PID:SESSION:KID,KID..." words.
DOVECOT_RETIRED=

dovecot_retire() {
	[ -n "${DOVECOT_PID:-}" ] || return 0
	DOVECOT_SESSION=${DOVECOT_SESSION:-}
	_dc_kids=
	[ -z "$DOVECOT_SESSION" ] && _dc_kids=$(dovecot__kids "$DOVECOT_PID")
	kill -TERM "$DOVECOT_PID" 2>/dev/null
	DOVECOT_RETIRED="$DOVECOT_RETIRED $DOVECOT_PID:$DOVECOT_SESSION:$(echo $_dc_kids | tr ' ' ,)"
	DOVECOT_PID=
	DOVECOT_SESSION=
	return 0
}

dovecot_stop() {
	dovecot_retire
	_dc_rc=0
	for _dc_r in $DOVECOT_RETIRED; do
		_dc_rpid=${_dc_r%%:*}
		_dc_r=${_dc_r#*:}
		dovecot__finish "$_dc_rpid" "${_dc_r%%:*}" "$(echo "${_dc_r#*:}" | tr , ' ')" ||
			_dc_rc=1
	done
	DOVECOT_RETIRED=
	return $_dc_rc
}

dovecot_add_msg() {
	if [ $# -ne 1 ] || [ ! -f "$1" ]; then
		dovecot__fail "usage: dovecot_add_msg FILE (an existing message file)"
		return 1
	fi
	if [ -z "${DOVECOT_MAILDIR:-}" ] || [ ! -d "$DOVECOT_MAILDIR/new" ]; then
		dovecot__fail "dovecot_add_msg: no Maildir; call dovecot_start first"
		return 1
	fi
	_dc_seq=$(( ${_dc_seq:-0} + 1 ))
	_dc_name=$(date +%s).M${_dc_seq}P$$.popfetch-test
	# Maildir delivery: write into tmp/, then rename into new/.
	if [ "$DOVECOT__UID" -eq 0 ]; then
		install -m 0600 -o "$DOVECOT_MAIL_UID" -g "$DOVECOT_MAIL_GID" \
			"$1" "$DOVECOT_MAILDIR/tmp/$_dc_name" || return 1
	else
		install -m 0600 "$1" "$DOVECOT_MAILDIR/tmp/$_dc_name" || return 1
	fi
	mv "$DOVECOT_MAILDIR/tmp/$_dc_name" "$DOVECOT_MAILDIR/new/$_dc_name" || return 1
	DOVECOT_LAST_MSG=$DOVECOT_MAILDIR/new/$_dc_name
	export DOVECOT_LAST_MSG
	return 0
}
