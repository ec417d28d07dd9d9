#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/t-setups-dovecot.sh -- never lose mail, part two (issue 8), the
# dangerous points against a real (private) dovecot, as t-setups.sh runs
# them against the test server: a failed Maildir publish (1), two accounts
# in one Maildir (2), another program appending to the mbox after a crash
# (3), --stdout into a reader that dies (4). Every fetching run uses
# --delete where popfetch allows it, so that mail popfetch lost would be
# gone from the server too; after every run, each message is still on the
# server or byte-identical in the local target. For each point, some of
# these checks fail with popfetch 0.1 (b1b7dc6, before the issue-8 fixes,
# run through a wrapper that drops --no-received: 0.1 adds no header);
# --stdout --delete is refused with 78 (EX_CONFIG), as t-setups.sh expects:
# the same check refuses it in a config file.
#
# Run from the build directory (automake sets srcdir).  Environment:
#   POPFETCH           the client to test (default ./src/popfetch)
#   DOVECOT            the dovecot binary (default: found in PATH or /usr/sbin)
#   POPFETCH_KEEP_TMP  if non-empty, keep the temp dir for inspection
# Needs the Debian package dovecot-pop3d; as root also the system user
# popfetch-test (tests/dovecot.sh creates it). Exit 0 pass, 1 fail.

set -u

srcdir=${srcdir:-.}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
# shellcheck source=tests/dovecot.sh
. "$srcdir/tests/dovecot.sh"
# shellcheck disable=SC2016 # expanded when the script exits
on_exit 'dovecot_stop || fail "dovecot processes were left running: ${DOVECOT_ERROR:-}"'

if [ ! -f "$POPFETCH" ] || [ ! -x "$POPFETCH" ]; then
	bail "client $POPFETCH not found or not executable (build it first, or set POPFETCH)"
fi

dovecot_start "$TESTDIR/dovecot" || bail "cannot start the test dovecot: ${DOVECOT_ERROR:-see above}"
ok "dovecot started on 127.0.0.1:$DOVECOT_PORT (pid $DOVECOT_PID)"

# As root (CI), point 1 runs popfetch as the unprivileged user dovecot's
# mail belongs to, as t-setups.sh does: root ignores the modes of new/.
if [ "$(id -u)" -eq 0 ]; then
	AS="setpriv --reuid=$DOVECOT_MAIL_UID --regid=$DOVECOT_MAIL_GID --clear-groups"
	OWNER=$DOVECOT_MAIL_UID:$DOVECOT_MAIL_GID
else
	AS=
	OWNER=$(id -u):$(id -g)
fi

# A second dovecot account for point 2, "test2" with its own Maildir:
# dovecot rereads its passwd-file when the file changes. (DOVECOT_DIR's
# passwd and DOVECOT_MAIL_UID/GID are tests/dovecot.sh's, as it sets them.)
B_MAILDIR=$DOVECOT_DIR/mail2/Maildir
mkdir -p "$B_MAILDIR/cur" "$B_MAILDIR/new" "$B_MAILDIR/tmp" || bail "cannot create $B_MAILDIR"
chmod 0700 "$DOVECOT_DIR/mail2" "$B_MAILDIR" "$B_MAILDIR/cur" "$B_MAILDIR/new" "$B_MAILDIR/tmp"
[ "$(id -u)" -ne 0 ] || chown -R "$OWNER" "$DOVECOT_DIR/mail2" || bail "cannot chown $DOVECOT_DIR/mail2"
printf 'test2:{PLAIN}%s:%s:%s::%s::\n' "$DOVECOT_PASSWORD" "$DOVECOT_MAIL_UID" "$DOVECOT_MAIL_GID" \
	"$DOVECOT_DIR/mail2" >> "$DOVECOT_DIR/passwd" || bail "cannot add the user test2"

# ---------------------------------------------------------------- messages
# ORIG: what account "test" gets each time. 001 is larger than a pipe's
# buffer (point 4 sees the reader's exit as EPIPE) and than stdio's (0.1
# had written it into the mbox before a kill at the second message).
ORIG=$TESTDIR/orig
mkdir "$ORIG" || bail "cannot create $ORIG"
LC_ALL=C awk 'BEGIN {
	printf "From: a@example.org\nTo: test@example.org\nSubject: m1 large\n\n"
	for (i = 0; i < 4000; i++) {
		if (i % 500 == 0) print "From the start of a line"
		else if (i % 333 == 0) print "."
		else printf "line %04d of a large message, about 40 bytes\n", i
	}
}' > "$ORIG/001"
i=2
while [ "$i" -le 4 ]; do
	printf 'From: a@example.org\nTo: test@example.org\nSubject: m%d\nMessage-ID: <m%d@example.org>\n\nFrom line %d\n>From quoted\n.dot\n..two dots\n\303\244\377 eight-bit\n' \
		"$i" "$i" "$i" > "$ORIG/00$i"
	i=$((i + 1))
done
NORIG=4
# Account test2's message.
B_MSG=$TESTDIR/b-msg
printf 'From: x@example.org\nTo: test2@example.org\nSubject: other account\n\nbody of B\n' > "$B_MSG"

PW=$TESTDIR/dovecot-pw
(umask 077 && printf '%s\n' "$DOVECOT_PASSWORD" > "$PW") || bail "cannot write $PW"

# ---------------------------------------------------------------- helpers

# fill [NAME...]: dovecot's Maildir holds exactly the messages of ORIG
# (new UIDs), delivered in this order (dovecot numbers them so): 001 002
# 003 004 unless NAMEs are given.
fill() {
	rm -f "$DOVECOT_MAILDIR"/new/* "$DOVECOT_MAILDIR"/cur/*
	[ $# -gt 0 ] || set -- 001 002 003 004
	for _m; do
		dovecot_add_msg "$ORIG/$_m" || bail "cannot add $_m to dovecot's Maildir: ${DOVECOT_ERROR:-}"
	done
}

# add_b FILE: deliver FILE to account test2.
add_b() {
	_name=$(date +%s).B$$.popfetch-test
	if [ "$(id -u)" -eq 0 ]; then
		install -m 0600 -o "$DOVECOT_MAIL_UID" -g "$DOVECOT_MAIL_GID" "$1" "$B_MAILDIR/tmp/$_name"
	else
		install -m 0600 "$1" "$B_MAILDIR/tmp/$_name"
	fi && mv "$B_MAILDIR/tmp/$_name" "$B_MAILDIR/new/$_name"
}

# server_count [MAILDIR]: messages on the server (new/ and cur/).
server_count() {
	echo $(($(count_files "${1:-$DOVECOT_MAILDIR}/new") + $(count_files "${1:-$DOVECOT_MAILDIR}/cur")))
}

# fresh NAME [ORDER...]: a new local side for a step: STATE, MD, MBOX
# under $TESTDIR/NAME, and a full server (fill ORDER...).
fresh() {
	_d=$TESTDIR/$1
	shift
	mkdir -m 0700 "$_d" || bail "cannot create $_d"
	STATE=$_d/state
	MD=$_d/Maildir
	MBOX=$_d/mbox
	RUN_AS=
	PF_USER='test'
	PF_PW=$PW
	fill "$@"
}

# pfd [options...]: popfetch against dovecot; sets RC, stdout in
# $TESTDIR/out, stderr in $TESTDIR/err. RUN_AS: a command prefix (setpriv).
pfd() {
	RC=0
	# shellcheck disable=SC2086 # RUN_AS, PF_WATCHDOG: command prefixes
	$PF_WATCHDOG $RUN_AS "$POPFETCH" --no-received --no-tls -P "$DOVECOT_PORT" \
		-u "$PF_USER" --password-file "$PF_PW" --state-dir "$STATE" --timeout 5 \
		"$@" 127.0.0.1 > "$TESTDIR/out" 2> "$TESTDIR/err" < /dev/null || RC=$?
}

# seen: the number of UIDs recorded for account test.
seen() {
	# shellcheck disable=SC2086
	_n=$($RUN_AS "$POPFETCH" -u test -P "$DOVECOT_PORT" --state-dir "$STATE" \
		--list-seen 127.0.0.1 2> /dev/null | wc -l)
	echo $((_n))
}

# check_kept WHAT DIR...: nothing is lost: every message of ORIG is still
# on dovecot or has a byte-identical copy in one of the DIRs.
check_kept() {
	_what=$1
	shift
	_lost=
	for _m in "$ORIG"/*; do
		has_copy "$_m" "$DOVECOT_MAILDIR/new" && continue
		has_copy "$_m" "$DOVECOT_MAILDIR/cur" && continue
		_found=
		for _d in "$@"; do
			if has_copy "$_m" "$_d"; then
				_found=yes
				break
			fi
		done
		[ -n "$_found" ] || _lost="$_lost ${_m##*/}"
	done
	if [ -z "$_lost" ]; then
		ok "$_what"
	else
		fail "$_what: message(s)$_lost neither on dovecot nor delivered"
	fi
}

# split_mbox FILE DIR: each message of the mboxrd FILE as a file in DIR
# (001, 002, ...), From_ line and separating empty line taken off and
# ">From" unquoted: what the server sent, byte for byte.
split_mbox() {
	rm -rf "$2"
	mkdir -p "$2"
	LC_ALL=C awk -v dir="$2" '
		function flush(   i) {
			if (n == 0) return
			if (k > 0 && line[k] == "") k--
			for (i = 1; i <= k; i++) printf "%s\n", line[i] > f
			close(f)
		}
		/^From / { flush(); n++; f = sprintf("%s/%03d", dir, n); k = 0; next }
		{ s = $0; if (s ~ /^>+From /) s = substr(s, 2); line[++k] = s }
		END { flush() }' "$1"
}

# ---------------------------------------------------------------- 1
# A failed Maildir publish loses nothing: new/ unwritable, the run fails
# with 74 and keeps the journaled files; the next run delivers them.

fresh p1
mkdir -p "$STATE" "$MD/tmp" "$MD/new" "$MD/cur" || bail "cannot create $MD"
cp "$PW" "$TESTDIR/p1/pw"
PF_PW=$TESTDIR/p1/pw
chown -R "$OWNER" "$TESTDIR/p1" || bail "cannot chown $TESTDIR/p1"
chmod 500 "$MD/new"
RUN_AS=$AS
pfd --maildir "$MD" --delete --batch 2
expect_rc 74 "issue 8 point 1: publish into an unwritable new/ fails with EX_IOERR"
check "issue 8 point 1: publish failed: dovecot keeps every message" test "$(server_count)" -eq "$NORIG"
check "issue 8 point 1: publish failed: the journaled batch (2) waits in tmp/" test "$(count_files "$MD/tmp")" -eq 2
check_kept "issue 8 point 1: publish failed: nothing lost" "$MD/new" "$MD/tmp"
chmod 700 "$MD/new"
pfd --maildir "$MD" --delete --batch 2
expect_rc 0 "issue 8 point 1: new/ writable again: the next run completes"
check "issue 8 point 1: recovered: every message exactly once, byte-identical" same_contents "$MD/new" "$ORIG"
check "issue 8 point 1: recovered: tmp/ and cur/ empty" test "$(count_files "$MD/tmp")" -eq 0 -a "$(count_files "$MD/cur")" -eq 0
check_kept "issue 8 point 1: recovered: nothing lost" "$MD/new"
check "issue 8 point 1: recovered: dovecot emptied" test "$(server_count)" -eq 0
check "issue 8 point 1: recovered: all $NORIG UIDs recorded" test "$(seen)" -eq "$NORIG"

# A journaled file that vanished from tmp/ (a full disk, a user) is
# fetched again, never counted as delivered and deleted.
fresh p1b
POPFETCH_CRASH_AT=journaled pfd --maildir "$MD" --delete
check "issue 8 point 1: killed after journaling: the batch waits in tmp/" test "$(count_files "$MD/tmp")" -eq "$NORIG"
rm -f "$MD"/tmp/*
pfd --maildir "$MD" --delete
expect_rc 0 "issue 8 point 1: journaled files gone from tmp/: the next run completes"
check_kept "issue 8 point 1: journaled files gone: nothing deleted from dovecot that was not delivered" "$MD/new"
check "issue 8 point 1: journaled files gone: fetched again, every message exactly once" same_contents "$MD/new" "$ORIG"
check "issue 8 point 1: journaled files gone: dovecot emptied" test "$(server_count)" -eq 0

# One a reader moved to cur/ with flags counts as delivered.
fresh p1c
POPFETCH_CRASH_AT=published pfd --maildir "$MD" --delete
check "issue 8 point 1: killed after publishing: in new/, still on dovecot" \
	test "$(count_files "$MD/new")" -eq "$NORIG" -a "$(server_count)" -eq "$NORIG"
for f in "$MD"/new/*; do mv "$f" "$MD/cur/${f##*/}:2,S"; done
pfd --maildir "$MD" --delete
expect_rc 0 "issue 8 point 1: published files read into cur/ meanwhile: the next run completes"
check "issue 8 point 1: read into cur/: not fetched again, kept in cur/" \
	test "$(count_files "$MD/new")" -eq 0 -a "$(count_files "$MD/tmp")" -eq 0
check "issue 8 point 1: read into cur/: every message exactly once" same_contents "$MD/cur" "$ORIG"
check "issue 8 point 1: read into cur/: dovecot emptied" test "$(server_count)" -eq 0

# ---------------------------------------------------------------- 2
# Two accounts (dovecot users test and test2), one Maildir, one state
# directory: A killed after journaling, B runs, A recovers.

fresh p2
rm -f "$B_MAILDIR"/new/* "$B_MAILDIR"/cur/*
add_b "$B_MSG" || bail "cannot add a message for test2"
POPFETCH_CRASH_AT=journaled pfd --maildir "$MD" --delete
check "issue 8 point 2: account A killed after journaling: its batch waits in tmp/" \
	test "$(count_files "$MD/tmp")" -eq "$NORIG" -a "$(count_files "$MD/new")" -eq 0
check "issue 8 point 2: account A killed: dovecot keeps A's messages" test "$(server_count)" -eq "$NORIG"
PF_USER='test2'
pfd --maildir "$MD" --delete
PF_USER='test'
expect_rc 0 "issue 8 point 2: account B into the same Maildir"
check "issue 8 point 2: account B leaves A's journaled files in tmp/" test "$(count_files "$MD/tmp")" -eq "$NORIG"
check "issue 8 point 2: account B's message delivered once, dovecot's test2 emptied" \
	test "$(grep -l '^Subject: other account' "$MD"/new/* | wc -l)" -eq 1 -a "$(server_count "$B_MAILDIR")" -eq 0
check_kept "issue 8 point 2: after B: nothing of A lost" "$MD/new" "$MD/tmp"
pfd --maildir "$MD" --delete
expect_rc 0 "issue 8 point 2: account A's next run recovers"
{ mkdir "$TESTDIR/exp2" && cp "$ORIG"/* "$TESTDIR/exp2" && cp "$B_MSG" "$TESTDIR/exp2/b"; } ||
	bail "cannot create $TESTDIR/exp2"
check "issue 8 point 2: every message of A and B exactly once, byte-identical" same_contents "$MD/new" "$TESTDIR/exp2"
check_kept "issue 8 point 2: nothing deleted from dovecot that is not in the Maildir" "$MD/new"
check "issue 8 point 2: dovecot's test emptied, nothing left in tmp/" \
	test "$(server_count)" -eq 0 -a "$(count_files "$MD/tmp")" -eq 0

# ---------------------------------------------------------------- 3
# mbox: killed mid-batch, another program (procmail, postfix) appends a
# message; the next run keeps it, delivers ours once each, no partial.

OLD=$TESTDIR/old-msg
OTHER=$TESTDIR/other-msg
printf 'Subject: old mail\n\nold\n' > "$OLD"
printf 'Subject: appended by procmail\n\nwritten by another program after our crash\n' > "$OTHER"
{ mkdir "$TESTDIR/exp3" && cp "$ORIG"/* "$TESTDIR/exp3" && cp "$OLD" "$TESTDIR/exp3/old" &&
	cp "$OTHER" "$TESTDIR/exp3/other"; } || bail "cannot create $TESTDIR/exp3"

# mbox_with_old: MBOX holds one older message.
mbox_with_old() {
	{ printf 'From old@example.org Fri Nov 20 00:00:00 2026\n'; cat "$OLD"; printf '\n'; } > "$MBOX"
}
# append_other: another program appends its message to MBOX.
append_other() {
	{ printf 'From other@example.org Sat Nov 21 00:00:00 2026\n'; cat "$OTHER"; printf '\n'; } >> "$MBOX"
}
# check_mbox WHAT: MBOX holds the old message, the other program's and
# ORIG, each exactly once, byte-identical; nothing lost; dovecot empty.
check_mbox() {
	split_mbox "$MBOX" "$TESTDIR/split"
	check "issue 8 point 3: $1: the other program's message survives" has_copy "$OTHER" "$TESTDIR/split"
	check "issue 8 point 3: $1: old, other and ours each exactly once, no partial message" \
		same_contents "$TESTDIR/split" "$TESTDIR/exp3"
	check_kept "issue 8 point 3: $1: nothing lost" "$TESTDIR/split"
	check "issue 8 point 3: $1: dovecot emptied" test "$(server_count)" -eq 0
}

# Killed at the second message of the batch (0.1 had written the first
# into the mbox, and truncated to the batch start on recovery).
fresh p3a
mbox_with_old
POPFETCH_CRASH_AT=written:2 pfd --mbox "$MBOX" --delete --batch 4
check "issue 8 point 3: killed mid-batch: dovecot keeps every message" test "$(server_count)" -eq "$NORIG"
append_other
pfd --mbox "$MBOX" --delete --batch 4
expect_rc 0 "issue 8 point 3: killed mid-batch, another program appends: the next run completes"
check_mbox "killed mid-batch"

# Killed after journaling, before the batch reached the mbox.
fresh p3b
mbox_with_old
POPFETCH_CRASH_AT=journaled pfd --mbox "$MBOX" --delete --batch 4
check "issue 8 point 3: killed after journaling: dovecot keeps every message" test "$(server_count)" -eq "$NORIG"
append_other
pfd --mbox "$MBOX" --delete --batch 4
expect_rc 0 "issue 8 point 3: killed after journaling, another program appends: the next run completes"
check_mbox "killed after journaling"

# Killed halfway through the append (simulated: half the journaled batch
# in the mbox), then another program appends: only our bytes go.
fresh p3c
mbox_with_old
POPFETCH_CRASH_AT=journaled pfd --mbox "$MBOX" --delete --batch 4
spool=$(find "$STATE" -name mbox-batch)
if [ -n "$spool" ] && [ -s "$spool" ]; then
	ok "issue 8 point 3: the journaled batch waits in its spool"
	head -c "$(($(wc -c < "$spool") / 2))" "$spool" >> "$MBOX"
else
	fail "issue 8 point 3: no spooled batch (mbox-batch) under $STATE after a kill at 'journaled'"
fi
append_other
pfd --mbox "$MBOX" --delete --batch 4
expect_rc 0 "issue 8 point 3: half a batch appended, then another program: the next run completes"
check_mbox "half a batch appended"

# ---------------------------------------------------------------- 4
# --stdout: a reader that exits early records nothing and deletes
# nothing; --stdout --delete is refused before connecting. The large
# message comes last, one message a batch: the three small ones fit in
# the pipe's buffer whole (0.1 recorded each as delivered), the large one
# meets EPIPE once the reader is gone.

fresh p4 002 003 004 001
{
	RC=0
	$PF_WATCHDOG "$POPFETCH" --no-received --no-tls -P "$DOVECOT_PORT" -u test \
		--password-file "$PW" --state-dir "$STATE" --timeout 5 --stdout --batch 1 127.0.0.1 \
		2> "$TESTDIR/err" < /dev/null || RC=$?
	echo "$RC" > "$TESTDIR/rc"
} | head -c 100 > /dev/null
RC=$(cat "$TESTDIR/rc")
expect_rc 74 "issue 8 point 4: --stdout into a reader that exits early fails with EX_IOERR"
check "issue 8 point 4: reader gone: standard error says why" grep -q "standard output" "$TESTDIR/err"
check "issue 8 point 4: reader gone: nothing recorded" test "$(seen)" -eq 0
check "issue 8 point 4: reader gone: dovecot keeps every message" test "$(server_count)" -eq "$NORIG"
logins=$(grep -c 'Login: user=<test>' "$DOVECOT_LOG")
pfd --stdout --delete
expect_rc 78 "issue 8 point 4: --stdout --delete is refused"
check "issue 8 point 4: the refusal points at --mda" grep -q -- "--mda" "$TESTDIR/err"
check "issue 8 point 4: refused before logging in to dovecot" \
	test "$(grep -c 'Login: user=<test>' "$DOVECOT_LOG")" -eq "$logins"
check "issue 8 point 4: refused: dovecot keeps every message" test "$(server_count)" -eq "$NORIG"
pfd --stdout
expect_rc 0 "issue 8 point 4: --stdout read to the end"
split_mbox "$TESTDIR/out" "$TESTDIR/split4"
check "issue 8 point 4: read to the end: every message once in the stream, byte-identical" \
	same_contents "$TESTDIR/split4" "$ORIG"
check "issue 8 point 4: read to the end: all recorded, nothing deleted" \
	test "$(seen)" -eq "$NORIG" -a "$(server_count)" -eq "$NORIG"
# What the reader that died never stored is still fetched by a --delete
# run into a Maildir (0.1 had recorded it: that run deleted it unseen).
fresh p4b 002 003 004 001
{
	$PF_WATCHDOG "$POPFETCH" --no-received --no-tls -P "$DOVECOT_PORT" -u test \
		--password-file "$PW" --state-dir "$STATE" --timeout 5 --stdout --batch 1 127.0.0.1 \
		2> "$TESTDIR/err" < /dev/null
	echo "$?" > "$TESTDIR/rc"
} | head -c 100 > /dev/null
RC=$(cat "$TESTDIR/rc")
expect_rc 74 "issue 8 point 4: a second --stdout run into a reader that exits early"
pfd --maildir "$MD" --delete
expect_rc 0 "issue 8 point 4: then a --maildir --delete run"
check "issue 8 point 4: the --delete run delivers every message the reader lost, exactly once" \
	same_contents "$MD/new" "$ORIG"
check_kept "issue 8 point 4: nothing deleted from dovecot that was not delivered" "$MD/new"
check "issue 8 point 4: dovecot emptied" test "$(server_count)" -eq 0

finish
