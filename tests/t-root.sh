#!/bin/sh
# SPDX-License-Identifier: ISC
# Run as root (a system cron job for users), popfetch must not be steered
# by another user (issue 8 points 8 and 9; DESIGN.md "Run as root, treat
# every path another user controls as hostile"): a Maildir, mbox or state
# directory that another user owns or could swap (a link, a directory
# writable by others) is refused with "run popfetch as USER", nothing is
# written through a link, and what popfetch creates itself is made durable
# (each new directory and the directory that gained its name are fsynced,
# checked with strace). The user's side: own paths work, a state directory
# writable by group or others is refused with the chmod to run, as ssh does.
#
# Every scenario goes through attempt(), which runs popfetch itself
# (popfetch_attempt); driver_attempt does the same with the safepath driver
# alone (tests/t_safepath attempt ...), to tell the module from its use.
. "$srcdir/tests/lib.sh"

T_SAFEPATH=${T_SAFEPATH:-./tests/t_safepath}
case $T_SAFEPATH in /*) ;; *) T_SAFEPATH=$PWD/$T_SAFEPATH ;; esac
case $POPFETCH in /*) ;; *) POPFETCH=$PWD/$POPFETCH ;; esac
U=popfetch-test

if [ "$(id -u)" -ne 0 ]; then
	fail "t-root.sh must run as root (CI does): it makes other users' files and runs as $U"
	finish
fi
id "$U" > /dev/null 2>&1 ||
	useradd --system --no-create-home --shell /usr/sbin/nologin "$U"
if ! id "$U" > /dev/null 2>&1; then
	fail "cannot create the system user $U"
	finish
fi
if ! command -v setpriv > /dev/null 2>&1; then
	fail "setpriv is missing (Debian package util-linux)"
	finish
fi
ASU="setpriv --reuid=$U --regid=$U --clear-groups"
AS=		# empty: as root; "$ASU": as the user
TRACE=		# a command prefix, e.g. strace

# For popfetch_attempt: a server with one message, and a password file
# each runner can read.
msg 001 attempt
server_start --log "$SLOG" "$DROP" || exit 1
cp "$TESTDIR/pw" "$TESTDIR/pw-u"
chown "$U:$U" "$TESTDIR/pw-u"

# driver_attempt KIND PATH: does with PATH what popfetch does with its
# Maildir (KIND maildir), mbox (mbox) or state directory (state-dir).
driver_attempt() {
	# shellcheck disable=SC2086
	$AS $TRACE "$T_SAFEPATH" attempt "$1" "$2"
}

# popfetch_attempt KIND PATH: popfetch itself, PATH as --maildir, --mbox or
# --state-dir (then delivering to stdout).
popfetch_attempt() {
	if [ -n "$AS" ]; then
		_st=$UH/pstate _pw=$TESTDIR/pw-u
	else
		_st=$STATE _pw=$TESTDIR/pw
	fi
	case $1 in
	state-dir) set -- --stdout --state-dir "$2" ;;
	*) set -- --state-dir "$_st" "--$1" "$2" ;;
	esac
	# shellcheck disable=SC2086
	$AS $TRACE timeout 60 "$POPFETCH" --no-received --no-tls -P "$PORT" -u test \
		--password-file "$_pw" --timeout 5 --all "$@" 127.0.0.1
}

# attempt KIND PATH: sets RC; stdout in $TESTDIR/out, stderr in $TESTDIR/err.
attempt() {
	RC=0
	EVIL_SNAP=$(snap)
	popfetch_attempt "$1" "$2" > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
}

# refused WHAT NEEDLE...: the last attempt failed, its message holds each
# NEEDLE (fixed strings).
refused() {
	_what=$1
	shift
	if [ "$RC" -eq 0 ]; then
		fail "$_what: not refused"
		return
	fi
	for _n in "$@"; do
		if ! grep -qF -- "$_n" "$TESTDIR/err"; then
			fail "$_what: the message lacks \"$_n\""
			return
		fi
	done
	ok "$_what: refused (exit $RC)"
}

# The stand-in for /etc (the real one is never touched): a listing with
# modes, owners, sizes and mtimes, taken by attempt(), to show that the
# attempt made or changed nothing there.
EVIL=$TESTDIR/etc
mkdir -m 755 "$EVIL"
printf 'root:x:0:0\n' > "$EVIL/passwd"
chmod 644 "$EVIL/passwd"
snap() {
	(cd "$EVIL" && find . -printf '%p %m %U %s %T@\n' | sort)
}
untouched() {
	[ "$(snap)" = "$EVIL_SNAP" ]
}

H=$TESTDIR/home
UH=$H/alice		# the user's home
R=$TESTDIR/spool	# root's own directory
mkdir -m 755 "$H" "$R"
mkdir -m 755 "$UH"
chown "$U:$U" "$UH"

# --- point 8: Maildirs ---
mkdir -p "$UH/Maildir/tmp" "$UH/Maildir/cur"
ln -s "$EVIL" "$UH/Maildir/new"
chown -hR "$U:$U" "$UH/Maildir"
attempt maildir "$UH/Maildir"
refused "a user's Maildir whose new/ leads to /etc" "$UH/Maildir" "run popfetch as $U"
check "nothing was written into /etc through the user's Maildir" untouched

mkdir -p "$R/Maildir/new" "$R/Maildir/cur"
ln -s "$EVIL" "$R/Maildir/tmp"
chown -h "$U:$U" "$R/Maildir/tmp"
attempt maildir "$R/Maildir"
refused "root's Maildir whose tmp/ is the user's link" "symbolic link" "run popfetch as $U"
check "nothing was written through the user's tmp/ link" untouched

ln -s "$EVIL" "$R/linked"
chown -h "$U:$U" "$R/linked"
attempt maildir "$R/linked"
refused "a Maildir that is the user's link" "$R/linked" "run popfetch as $U"
check "nothing was made in the link's target" untouched

mkdir "$UH/Plain"
chown "$U:$U" "$UH/Plain"
attempt maildir "$UH/Plain"
refused "a user's plain Maildir" "run popfetch as $U"
check "no root-owned tmp/ in the user's Maildir" test ! -e "$UH/Plain/tmp"

cd "$UH" || exit 1
attempt maildir Rel
cd "$TESTDIR" || exit 1
refused "a relative Maildir in the user's home" "Rel" "run popfetch as $U"
check "nothing made in the user's home" test ! -e "$UH/Rel"

mkdir -m 777 "$TESTDIR/pub"
attempt maildir "$TESTDIR/pub/Maildir"
refused "a Maildir in a directory writable by everyone" "$TESTDIR/pub" "chmod go-w"
check "nothing made in the world-writable directory" test ! -e "$TESTDIR/pub/Maildir"

# --- point 8: mboxes ---
ln -s "$EVIL/passwd" "$UH/mbox"
chown -h "$U:$U" "$UH/mbox"
attempt mbox "$UH/mbox"
refused "a user's mbox that is a link to /etc/passwd" "run popfetch as $U"
check "the link's target is unchanged" untouched

ln -s "$UH" "$R/alice"
chown -h "$U:$U" "$R/alice"
attempt mbox "$R/alice/inbox"
refused "an mbox whose parent is the user's link" "run popfetch as $U"
check "no mbox made in the user's home" test ! -e "$UH/inbox"

MS=$TESTDIR/mail	# a /var/mail that is sticky and world-writable
mkdir -m 1777 "$MS"
touch "$MS/alice"
chown "$U:$U" "$MS/alice"
attempt mbox "$MS/alice"
refused "the user's own mbox in the mail spool" "$MS/alice" "run popfetch as $U"
check "the user's mbox is unchanged" test ! -s "$MS/alice"

MG=$TESTDIR/mailg	# a /var/mail writable by a group (Debian: root:mail 2775)
mkdir "$MG"
chown "root:$U" "$MG"
chmod 2775 "$MG"
attempt mbox "$MG/root"
refused "root's mbox in a group-writable spool" "writable by group" "chmod go-w"
check "no mbox made in the group-writable spool" test ! -e "$MG/root"

$ASU ln -s "$EVIL/passwd" "$MS/root"
attempt mbox "$MS/root"
refused "root's mbox name taken by the user's link in a sticky spool" "symbolic link"
check "the planted link's target is unchanged" untouched
$ASU ln -s "$EVIL/planted" "$MS/root2"
attempt mbox "$MS/root2"
refused "root's mbox name taken by the user's dangling link" "$MS/root2"
check "nothing was created through the dangling link" untouched
$ASU mkfifo "$MS/root3"
attempt mbox "$MS/root3"
refused "root's mbox name taken by the user's FIFO" "is a special file"
check "the FIFO did not block (no timeout)" test "$RC" -ne 124

# --- point 8 and 9: state directories ---
attempt state-dir "$UH/.state"
refused "a state directory in the user's home" "run popfetch as $U"
check "no state made in the user's home" test ! -e "$UH/.state"

mkdir -m 777 "$TESTDIR/st777"
attempt state-dir "$TESTDIR/st777"
refused "a state directory writable by everyone" "chmod go-w $TESTDIR/st777"
check "its mode is left for the user to fix" test "$(stat -c %a "$TESTDIR/st777")" = 777

mkdir -m 770 "$TESTDIR/st770"
attempt state-dir "$TESTDIR/st770"
refused "a state directory writable by its group" "chmod go-w $TESTDIR/st770"

ln -s "$EVIL" "$TESTDIR/stlink"
chown -h "$U:$U" "$TESTDIR/stlink"
attempt state-dir "$TESTDIR/stlink"
refused "a state directory that is the user's link to /etc" "run popfetch as $U"
check "nothing was made in /etc through the state link" untouched

# --- root's own paths work, and what is made is durable ---
if command -v strace > /dev/null 2>&1; then
	# Each mkdirat that succeeded: the new directory and its parent are
	# fsynced before the next mkdirat and before the end.
	durable_dirs() {
		awk '
		/mkdirat\(/ && / = 0$/ {
			for (k in pend) { print "not durable before the next mkdir: " k; bad = 1; delete pend[k] }
			match($0, /mkdirat\([0-9]+<[^>]*>/)
			p = substr($0, RSTART + 8, RLENGTH - 9); sub(/^[0-9]+</, "", p)
			match($0, /, "[^"]*"/)
			n = substr($0, RSTART + 3, RLENGTH - 4)
			pend[p] = 1; pend[p "/" n] = 1; made++
		}
		/fsync\(/ && / = 0$/ {
			match($0, /fsync\([0-9]+<[^>]*>/)
			p = substr($0, RSTART + 6, RLENGTH - 7); sub(/^[0-9]+</, "", p)
			delete pend[p]
		}
		END {
			for (k in pend) { print "never fsynced: " k; bad = 1 }
			if (made != want) { print "made " made " directories, expected " want; bad = 1 }
			exit bad
		}' want="$1" "$TESTDIR/strace"
	}
	mkdir -m 755 "$TESTDIR/fresh"
	TRACE="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -y -o $TESTDIR/strace -e trace=mkdir,mkdirat,fsync"
	attempt maildir "$TESTDIR/fresh/deep/Maildir"
	TRACE=
	expect_rc 0 "root's new Maildir"
	check "the message is in new/" test "$(count_files "$TESTDIR/fresh/deep/Maildir/new")" -eq 1
	check "the Maildir's directories are 0700 and root's" test "$(stat -c '%a %u' "$TESTDIR/fresh/deep" \
		"$TESTDIR/fresh/deep/Maildir" "$TESTDIR/fresh/deep/Maildir/tmp" "$TESTDIR/fresh/deep/Maildir/new" \
		"$TESTDIR/fresh/deep/Maildir/cur" | sort -u)" = "700 0"
	if durable_dirs 5 > "$TESTDIR/durable" 2>&1; then
		ok "each new directory and its parent fsynced before going on (strace)"
	else
		fail "directories not made durable: $(tr '\n' ';' < "$TESTDIR/durable")"
	fi

	TRACE="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -qq -y -o $TESTDIR/strace -e trace=openat,fsync"
	attempt mbox "$R/root.mbox"
	TRACE=
	expect_rc 0 "root's new mbox"
	check "the new mbox is 0600, root's, and holds the message" test \
		"$(stat -c '%a %u' "$R/root.mbox")" = "600 0" -a "$(grep -c '^From ' "$R/root.mbox")" -ge 1
	# (strace may split a call it was interrupted in: "<unfinished ...>")
	if grep -q "fsync([0-9]*<$R/root.mbox>)" "$TESTDIR/strace" &&
	   grep -q "fsync([0-9]*<$R>)" "$TESTDIR/strace"; then
		ok "the new mbox and its directory fsynced (strace)"
	else
		fail "the new mbox or its directory was not fsynced"
	fi
else
	fail "strace is missing (Debian package strace): cannot check the fsyncs"
fi

attempt mbox "$MS/root4"
expect_rc 0 "root's new mbox in a sticky spool"
check "it is root's, 0600" test "$(stat -c '%a %u' "$MS/root4")" = "600 0"

attempt state-dir "$TESTDIR/rstate"
expect_rc 0 "root's new state directory"
check "it is 0700" test "$(stat -c %a "$TESTDIR/rstate")" = 700

# --- the user's side (point 9), as popfetch-test ---
AS=$ASU
attempt maildir "$UH/Maildir-u"
expect_rc 0 "the user's own Maildir"
check "it is the user's" test "$(stat -c %U "$UH/Maildir-u/new")" = "$U"

attempt state-dir "$UH/ustate"
expect_rc 0 "the user's own state directory"
chmod 770 "$UH/ustate"
attempt state-dir "$UH/ustate"
refused "the user's state directory writable by its group" "chmod go-w $UH/ustate"
check "its mode is not changed behind the user's back" test "$(stat -c %a "$UH/ustate")" = 770

mkdir -m 700 "$UH/nstate"
chown nobody "$UH/nstate"
attempt state-dir "$UH/nstate"
refused "a state directory owned by another user" "$UH/nstate" "belongs to"

attempt maildir "$TESTDIR/pub/Mu"
refused "the user's Maildir in a directory writable by everyone" "chmod o-w"
AS=

finish
