#!/bin/sh
# tests/data/import/make-files.sh -- writes the sample state files of mpop,
# fetchmail and getmail that tests/t_import.c reads, by running the real
# programs against private servers on 127.0.0.1. Not part of "make check":
# the files it made are committed, so the unit test needs none of these
# programs. See README in this directory for what each file shows.
#
# usage (as root, from a configured and built tree, with Debian's mpop,
# fetchmail and getmail6 installed):
#   sh tests/data/import/make-files.sh SRCDIR BUILDDIR OUTDIR
#
# Servers: the suite's dovecot (tests/dovecot.sh: user "test", three
# messages) and three tests/testpop3d instances serving UIDs that
# dovecot cannot make. Every server is stopped by pid on every exit path.
# Passwords go through files (mpop passwordeval, getmail password_command,
# fetchmail's 0600 rc file), never on a command line. getmail refuses to
# run as root, so it runs as the test mail user (setpriv).

set -u

[ $# -eq 3 ] || { echo "usage: $0 SRCDIR BUILDDIR OUTDIR" >&2; exit 2; }
srcdir=$(cd "$1" && pwd) || exit 2
builddir=$(cd "$2" && pwd) || exit 2
mkdir -p "$3" || exit 2
out=$(cd "$3" && pwd) || exit 2
tp3d=$builddir/tests/testpop3d
[ "$(id -u)" -eq 0 ] || { echo "$0: run as root" >&2; exit 2; }
for p in mpop fetchmail getmail setpriv "$tp3d"; do
	command -v "$p" >/dev/null 2>&1 || {
		echo "$0: $p not found (apt-get install mpop fetchmail getmail6)" >&2
		exit 2
	}
done

. "$srcdir/tests/dovecot.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-import.XXXXXX") || exit 1
chmod 0755 "$work"
tp_pids=
cleanup() {
	for p in $tp_pids; do
		kill -TERM "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	dovecot_stop
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM PIPE

die() {
	echo "$0: $*" >&2
	exit 1
}

# tp_start NAME USER MAILDROP: a testpop3d on a free port; sets tp_port.
tp_start() {
	"$tp3d" --exit-with-parent --port-file "$work/$1.port" \
	    --user "$2" "$3" >"$work/$1.log" 2>&1 &
	tp_pids="$tp_pids $!"
	n=0
	while [ ! -s "$work/$1.port" ]; do
		n=$((n + 1))
		[ $n -le 50 ] || die "testpop3d $1 did not start"
		sleep 0.1
	done
	tp_port=$(cat "$work/$1.port")
}

# maildrop DIR NAME<TAB>UID...: one small message per UID (testpop3d's
# .uidl file maps file names to UIDs).
maildrop() {
	d=$1
	shift
	mkdir -p "$d"
	: >"$d/.uidl"
	for l in "$@"; do
		name=${l%%"	"*}
		printf 'From: a@example.org\nSubject: %s\n\nbody\n' "$name" \
		    >"$d/$name"
		printf '%s\n' "$l" >>"$d/.uidl"
	done
}

msg() {
	printf 'From: a@example.org\nTo: test@example.org\nSubject: m%s\n' "$1"
	printf 'Message-ID: <m%s@example.org>\n\nBody %s.\n' "$1" "$1"
}

# ---------------------------------------------------------------- servers

dovecot_start "$work/dovecot" || die "dovecot: $DOVECOT_ERROR"
for i in 1 2 3; do
	msg $i >"$work/m$i"
	dovecot_add_msg "$work/m$i" || die "dovecot_add_msg"
done
dc=$DOVECOT_PORT

# UIDs all three programs take (RFC 1939 allows 0x21-0x7e, up to 70), plus
# one with a blank, which RFC 1939 does not allow but servers send.
long=$(printf '%070d' 0 | tr 0 L)
odd="m01	plain-1
m02	#starts-with-hash
m03	quo\"te'd\\back
m04	at@sign@x
m05	slash/ed
m06	$long
m07	with space
m08	z-last"
# shellcheck disable=SC2086 # split on newlines only
(IFS='
'; maildrop "$work/odd" $odd)
# The same plus a UTF-8 UID (mpop 1.4.18 refuses the whole UIDL reply) and
# a 600-byte one (fetchmail 6.4.37 refuses the whole UIDL reply).
(IFS='
'; maildrop "$work/odd-utf8" $odd "m09	caf$(printf '\303\251')")
huge=$(printf '%0600d' 0 | tr 0 X)
(IFS='
'; maildrop "$work/odd-huge" $odd "m10	$huge")
mkdir -p "$work/empty"

tp_start odd 'alice@example.org' "$work/odd"
odd_port=$tp_port
tp_start utf8 'alice@example.org' "$work/odd-utf8"
utf8_port=$tp_port
tp_start huge 'alice@example.org' "$work/odd-huge"
huge_port=$tp_port
tp_start empty 'nobody' "$work/empty"
empty_port=$tp_port

printf '%s\n' "$DOVECOT_PASSWORD" >"$work/pw-dc"
printf 'secret\n' >"$work/pw-tp"
chmod 0600 "$work/pw-dc" "$work/pw-tp"

# ---------------------------------------------------------------- mpop

# mpop_run FILE ACCOUNT:HOST:PORT:USER:PWFILE...
mpop_run() {
	f=$1
	shift
	{
		printf 'defaults\ntls off\nauth user\nkeep on\nonly_new on\n'
		printf 'delivery maildir %s/md\nuidls_file %s\n' "$work" "$f"
		for a in "$@"; do
			IFS=: read -r acc host port user pw <<EOF
$a
EOF
			printf '\naccount %s\nhost %s\nport %s\nuser %s\n' \
			    "$acc" "$host" "$port" "$user"
			printf 'passwordeval "cat %s"\n' "$pw"
		done
	} >"$work/mpoprc"
	chmod 0600 "$work/mpoprc"
	mkdir -p "$work/md/cur" "$work/md/new" "$work/md/tmp"
	mpop -q -C "$work/mpoprc" -a || die "mpop failed for $f"
}

mpop_run "$out/mpop-uidls" \
    "dc:127.0.0.1:$dc:test:$work/pw-dc" \
    "odd:localhost:$odd_port:alice@example.org:$work/pw-tp"
mpop_run "$out/mpop-uidls-huge" \
    "huge:localhost:$huge_port:alice@example.org:$work/pw-tp"
mpop_run "$out/mpop-uidls-empty" \
    "empty:localhost:$empty_port:nobody:$work/pw-tp"

# ---------------------------------------------------------------- fetchmail

mkdir -m 0700 "$work/fm"
cat >"$work/fm/fetchmailrc" <<EOF
set no syslog
poll 127.0.0.1 protocol pop3 service $dc uidl
  user test there with password "$DOVECOT_PASSWORD" is root here
  keep sslproto '' mda "/bin/cat >/dev/null"
poll oddalias via localhost protocol pop3 service $utf8_port uidl
  user "alice@example.org" there with password "secret" is root here
  keep sslproto '' mda "/bin/cat >/dev/null"
EOF
chmod 0600 "$work/fm/fetchmailrc"
FETCHMAILHOME=$work/fm fetchmail -s -f "$work/fm/fetchmailrc" \
    --idfile "$out/fetchids" 2>"$work/fm/err" ||
	{ cat "$work/fm/err" >&2; die "fetchmail failed"; }

# ---------------------------------------------------------------- getmail

gmuser=$DOVECOT_TEST_SYSUSER
gmdir=$work/gm
mkdir -m 0700 "$gmdir" "$gmdir/md" "$gmdir/md/cur" "$gmdir/md/new" \
    "$gmdir/md/tmp"
cp "$work/pw-dc" "$work/pw-tp" "$gmdir/"
# getmail_rc NAME HOST PORT USER PWFILE
getmail_rc() {
	cat >"$gmdir/$1" <<EOF
[retriever]
type = SimplePOP3Retriever
server = $2
port = $3
username = $4
password_command = ("/bin/cat", "$gmdir/$5")

[destination]
type = Maildir
path = $gmdir/md/

[options]
delete = false
read_all = false
verbose = 0
EOF
}
getmail_rc rc-dc 127.0.0.1 "$dc" test pw-dc
getmail_rc rc-odd localhost "$huge_port" alice@example.org pw-tp
getmail_rc rc-utf8 localhost "$utf8_port" alice@example.org pw-tp
getmail_rc rc-empty localhost "$empty_port" nobody pw-tp
chown -R "$gmuser" "$gmdir"
setpriv --reuid="$gmuser" --regid="$gmuser" --clear-groups \
    env HOME="$gmdir" getmail --getmaildir "$gmdir" \
    --rcfile rc-dc --rcfile rc-odd --rcfile rc-utf8 --rcfile rc-empty ||
	die "getmail failed"
mkdir -p "$out/getmail"
cp "$gmdir"/oldmail-* "$out/getmail/"

echo "dovecot $dc, testpop3d odd $odd_port utf8 $utf8_port huge $huge_port empty $empty_port"
ls -l "$out"
