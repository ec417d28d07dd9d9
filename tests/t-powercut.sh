#!/bin/sh
# SPDX-License-Identifier: ISC
# Simulated power cuts (issue 8 point 12; DESIGN.md invariants 1-3 and
# "Durable means fsynced, including every directory that gained a name").
#
# kill -9 keeps the page cache, so t-crash.sh cannot see a missing fsync.
# Here popfetch runs under tests/powercut.so, which records what each
# fsync/fdatasync/sync made durable under two watched roots: $MAILROOT
# (holds the Maildir or mbox) and $STROOT (holds the state directory). At
# each crash point (POPFETCH_CRASH_AT, or "exit": a power cut right after a
# run that completed) the roots are rebuilt by tests/powercut as a power
# cut would leave them, then popfetch runs again to the end. A file system
# may or may not have written back what was not made durable, so each cut
# is tried three ways:
#   cut=all    only what was made durable survives, everywhere;
#   cut=mail   the same for the mail, but the store happened to reach the
#              disk (the state root is kept as it was at the cut);
#   cut=state  the same for the store, but the mail happened to reach the
#              disk.
# A correct popfetch passes all three: mail is durable before its UID is
# recorded, and the UID is durable before the mail is deleted.
# Checked after each cut: every message gone from the server is in the
# mailbox (invariant 1); after the next run: the server is empty, the
# Maildir holds every message exactly once and nothing else, tmp/ is empty
# (invariant 2); the mbox holds every message, at most one duplicate, no
# partial one.
# The durability is simulated, so a RAM file system loses nothing and
# spares the ~10 ms a real fsync costs on disk (popfetch makes dozens).
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then
	TMPDIR=/dev/shm
fi
. "$srcdir/tests/lib.sh"

POWERCUT=${POWERCUT:-./tests/powercut}
POWERCUT_SO=${POWERCUT_SO:-./tests/powercut.so}
case $POWERCUT_SO in /*) ;; *) POWERCUT_SO=$PWD/$POWERCUT_SO ;; esac
if [ ! -x "$POWERCUT" ] || [ ! -f "$POWERCUT_SO" ]; then
	fail "powercut tool ($POWERCUT) or shim ($POWERCUT_SO) not built (make check builds them)"
	finish
fi

# The crash points of src/fetch.c, in the order a run reaches them, with
# the n-th occurrence for some (5 messages, batches of 2: batch 2 is
# messages 3-4), and "exit": a power cut after a run that completed.
POINTS=${POWERCUT_POINTS:-"retr written written:4 synced journaled journaled:3 published committed committed:2 dele before-quit exit"}
# For the cases that add one thing to the above: an existing mailbox and
# store (which popfetch 0.1 already gets right), a new mbox.
POINTS_SHORT=${POWERCUT_POINTS:-"written journaled published committed:2 before-quit exit"}

W=$TESTDIR/w
MAILROOT=$W/mail
STROOT=$W/st
SHADOW=$TESTDIR/shadow
MD=$MAILROOT/Maildir
MBOX=$MAILROOT/mbox
STATE=$STROOT/state
mkdir -p "$MAILROOT" "$STROOT" "$TESTDIR/orig" "$TESTDIR/old"

# Five messages like t-crash.sh's (mboxrd quoting, a dot line), each with a
# last line of its own so that a cut-off copy is seen.
for i in 1 2 3 4 5; do
	msg "00$i" "m$i" "From line $i" ".dot" "End of m$i."
done
mv "$DROP"/* "$TESTDIR/orig/"
# Mail fetched by an earlier run, for the second-fetch cases.
for i in 1 2; do
	msg "old$i" "o$i" "From old $i" "End of o$i."
done
mv "$DROP"/* "$TESTDIR/old/"
mkdir -p "$TESTDIR/all"
cp "$TESTDIR"/orig/* "$TESTDIR"/old/* "$TESTDIR/all/"
server_start --log "$SLOG" "$DROP" || exit 1

ALERTS=$TESTDIR/alerts
: > "$ALERTS"

# pcf CRASH ARGS...: popfetch under the shim, killed at crash point CRASH
# ("exit": not killed); sets RC like pf.
pcf() {
	_crash=$1
	shift
	[ "$_crash" = exit ] && _crash=
	RC=0
	LD_PRELOAD=$POWERCUT_SO POWERCUT_DIR=$SHADOW \
	POWERCUT_ROOTS=$MAILROOT:$STROOT POWERCUT_ALERTS=$ALERTS \
	POPFETCH_CRASH_AT=$_crash \
		timeout 60 "$POPFETCH" --no-received --no-tls -P "$PORT" -u test \
		--password-file "$TESTDIR/pw" --state-dir "$STATE" --timeout 5 \
		"$@" 127.0.0.1 > "$TESTDIR/out" 2> "$TESTDIR/err" || RC=$?
}

# fresh [FILE...]: empty roots, a new shadow, the server holding FILEs.
fresh() {
	rm -rf "$MAILROOT" "$STROOT" "$SHADOW" "$DROP"
	mkdir -p "$MAILROOT" "$STROOT" "$SHADOW" "$DROP"
	[ $# -eq 0 ] || cp "$@" "$DROP/"
}

# baseline: everything that exists now is durable.
baseline() {
	"$POWERCUT" sync "$SHADOW" "$MAILROOT" "$STROOT" || fail "powercut sync failed"
}

# power_cut POLICY: the power fails now; rebuild the roots that POLICY
# says lost what was not durable (all, mail or state, see above).
power_cut() {
	case $1 in
	all) _roots="$MAILROOT $STROOT" ;;
	mail) _roots=$MAILROOT ;;
	state) _roots=$STROOT ;;
	esac
	# shellcheck disable=SC2086
	"$POWERCUT" restore "$SHADOW" $_roots 2> "$TESTDIR/restore.err" ||
		fail "powercut restore: $(cat "$TESTDIR/restore.err")"
}

# Shows what survived the cut, once per failing scenario.
explain() {
	[ -n "$_explained" ] && return
	_explained=1
	echo "#   durable at the cut (messages in tmp/, new/, cur/ only counted):"
	# shellcheck disable=SC2086
	"$POWERCUT" show "$SHADOW" $_roots 2>&1 | sed "s|$W/||" |
		awk '$2 ~ /\/(tmp|new|cur)\/[^\/]+$/ { d = $2; sub(/\/[^\/]+$/, "/", d); n[d]++; next }
			{ print "#     " $2, $3, $4 }
			END { for (d in n) print "#     " d ": " n[d] " messages" }' | head -25
}

# nfiles DIR: sets NF to the number of entries of DIR not starting with a
# dot (no subshell: a fork costs 20 ms on some machines).
nfiles() {
	set -- "$1"/*
	if [ -e "$1" ]; then NF=$#; else NF=0; fi
}

# verdict KIND WANT: "gone lost undelivered dup bad" of the mailbox against
# the messages in directory WANT, by content: how many the server no
# longer has, how many of those are not in the mailbox (lost), how many
# are still on the server but not in the mailbox, how many are there too
# often (Maildir: more than once; mbox: more than twice), and how many
# files match no message (Maildir) or whether a message is cut short
# (mbox: its From_, Subject, quoted From and last lines must all agree).
# One cksum and one awk: a fork costs 20 ms on some machines.
verdict() {
	if [ "$1" = maildir ]; then
		cksum "$2"/* "$DROP"/* "$MD"/new/* "$MD"/cur/* 2>/dev/null |
		awk -v want="$2/" -v drop="$DROP/" '
			{ k = $1 " " $2 }
			index($3, want) == 1 { w[k] = 1; next }
			index($3, drop) == 1 { s[k] = 1; next }
			{ b[k]++ }
			END {
				for (k in w) {
					if (!(k in s)) gone++
					if (!(k in b)) { if (k in s) undel++; else lost++ }
					else if (b[k] > 1) dup++
				}
				for (k in b) if (!(k in w)) bad += b[k]
				print gone + 0, lost + 0, undel + 0, dup + 0, bad + 0
			}'
		return
	fi
	set -- "$2"/*
	for _f in "$DROP"/*; do [ -e "$_f" ] && set -- "$@" "$_f"; done
	[ -f "$MBOX" ] && set -- "$@" "$MBOX"
	awk -v want="${1%/*}/" -v drop="$DROP/" -v mbox="$MBOX" '
		FILENAME != mbox && /^Subject: / {
			if (index(FILENAME, want) == 1) w[substr($0, 10)] = 1
			else s[substr($0, 10)] = 1
			next
		}
		FILENAME == mbox {
			if (/^From /) a++
			if (/^Subject: /) { b++; n[substr($0, 10)]++ }
			if (/^>From /) c++
			if (/^End of /) d++
		}
		END {
			for (k in w) {
				if (!(k in s)) gone++
				if (!(k in n)) { if (k in s) undel++; else lost++ }
				else if (n[k] > 2) dup++
			}
			print gone + 0, lost + 0, undel + 0, dup + 0, (a == b && b == c && c == d) ? 0 : 1
		}' "$@"
}

# after_cut LABEL KIND WANT: invariant 1 right after the cut - every
# message of WANT that the server no longer has is in the mailbox.
after_cut() {
	# Only QUIT deletes: a run killed before it deleted nothing (the
	# second-fetch cases start with their earlier mail deleted).
	nfiles "$DROP"
	[ "$NF" -lt 5 ] || [ "$3" != "$TESTDIR/orig" ] || return 0
	set -- "$1" $(verdict "$2" "$3")
	[ "$2" -gt 0 ] || return 0
	if [ "$3" -eq 0 ]; then
		ok "$1: the $2 messages deleted on the server survived"
	else
		fail "$1: $3 of the $2 messages deleted on the server are lost"
		explain
	fi
}

# next_run LABEL KIND WANT: run to the end, then check everything.
next_run() {
	if [ "$2" = maildir ]; then
		pf --maildir "$MD" --delete --batch 2
	else
		pf --mbox "$MBOX" --delete --batch 2
	fi
	if [ "$RC" -eq 0 ]; then
		ok "$1: the next run completes"
		: > "$TESTDIR/err"	# only its warnings: not worth repeating
	else
		fail "$1: the next run exits $RC"
		explain
	fi
	_kind=$2
	set -- "$1" $(verdict "$2" "$3")
	if [ "$3" -ne 0 ]; then
		fail "$1: $3 messages lost (deleted on the server, not in the $_kind)"
		explain
	else
		ok "$1: no message lost"
	fi
	# With nothing lost (above), this makes exactly once (mbox: at most
	# one duplicate, nothing partial).
	if [ "$4" -eq 0 ] && [ "$5" -eq 0 ] && [ "$6" -eq 0 ]; then
		if [ "$_kind" = maildir ]; then
			ok "$1: nothing undelivered, duplicated or unknown"
		else
			ok "$1: nothing undelivered, no second duplicate, none partial"
		fi
	elif [ "$_kind" = maildir ]; then
		fail "$1: $4 still on the server and not delivered, $5 duplicated, $6 unknown or partial files"
		explain
	else
		fail "$1: $4 still on the server and not delivered, $5 more than once duplicated, partial message: $6"
		explain
	fi
	if [ "$_kind" = maildir ]; then
		nfiles "$MD/tmp"
		check "$1: nothing left in tmp/" test "$NF" -eq 0
	fi
}

# scenario KIND SETUP POINT POLICY...: one run cut at POINT, then for
# each POLICY (on a copy of what the run left) the cut and the checks.
#   KIND   maildir or mbox
#   SETUP  first: no mailbox, no state directory yet
#          second: mailbox and state from an earlier run, durable
#          newbox: state from an earlier run (into a Maildir), no mbox yet
#          after-kill: first, but killed (no cut) after journaling batch 1
scenario() {
	_kind=$1 _setup=$2 _point=$3
	shift 3
	_want=$TESTDIR/orig
	case $_setup in
	first | after-kill)
		fresh "$TESTDIR"/orig/*
		;;
	second | newbox)
		fresh "$TESTDIR"/old/*
		if [ "$_setup" = second ] && [ "$_kind" = mbox ]; then
			pf --mbox "$MBOX" --delete
		else
			pf --maildir "$MD" --delete
		fi
		[ "$RC" -eq 0 ] || fail "$_kind $_setup fetch: the earlier run exits $RC"
		[ "$_setup" = second ] && _want=$TESTDIR/all
		cp "$TESTDIR"/orig/* "$DROP/"
		;;
	esac
	baseline
	if [ "$_kind" = maildir ]; then _opt=--maildir _box=$MD; else _opt=--mbox _box=$MBOX; fi
	if [ "$_setup" = after-kill ]; then
		pcf journaled "$_opt" "$_box" --delete --batch 2
		[ "$RC" -eq 137 ] || fail "$_kind $_setup: not killed at journaled (exit $RC)"
	fi
	pcf "$_point" "$_opt" "$_box" --delete --batch 2
	if [ "$_point" = exit ] && [ "$RC" -ne 0 ]; then
		fail "$_kind $_setup fetch: the run before the cut at exit exits $RC"
		return
	elif [ "$_point" != exit ] && [ "$RC" -ne 137 ]; then
		fail "$_kind $_setup fetch: not killed at $_point (exit $RC)"
		return
	fi
	if [ $# -gt 1 ]; then
		rm -rf "$TESTDIR/w.cut" "$TESTDIR/drop.cut"
		cp -a "$W" "$TESTDIR/w.cut"
		cp -a "$DROP" "$TESTDIR/drop.cut"
	fi
	_first=1
	for _policy in "$@"; do
		if [ -z "$_first" ]; then
			rm -rf "$W" "$DROP"
			cp -a "$TESTDIR/w.cut" "$W"
			cp -a "$TESTDIR/drop.cut" "$DROP"
		fi
		_first=
		_label="$_kind $_setup fetch, cut=$_policy at $_point"
		_explained=
		power_cut "$_policy"
		after_cut "$_label" "$_kind" "$_want"
		next_run "$_label" "$_kind" "$_want"
	done
}

# ---- The harness itself: the model, on files made by hand. ----
fresh
echo base > "$MAILROOT/old"
echo doomed > "$MAILROOT/unlinked"
baseline
pcsync() {
	env LD_PRELOAD="$POWERCUT_SO" POWERCUT_DIR="$SHADOW" \
		POWERCUT_ROOTS="$MAILROOT:$STROOT" sync "$@"
}
R=$MAILROOT
echo a > "$R/never"
echo b > "$R/fileonly" && pcsync "$R/fileonly"
echo c > "$R/both" && pcsync "$R/both"
echo d > "$R/nameonly"
mkdir "$R/d" && echo x > "$R/d/x" && pcsync "$R/d/x" "$R/d"
mkdir "$R/e" && echo y > "$R/e/y" && pcsync "$R/e/y"
mkdir "$R/t" "$R/n" && echo m > "$R/t/m" && pcsync "$R/t/m" "$R/t" "$R/n"
echo changed > "$R/old"
pcsync "$R"
# A rename synced at the target only: the file is in both places.
mv "$R/t/m" "$R/n/m" && pcsync "$R/n"
mv "$R/both" "$R/renamed"
echo more >> "$R/nameonly"
rm "$R/unlinked"
echo late > "$R/late" && pcsync "$R/late"
mkdir "$STROOT/s" && echo z > "$STROOT/s/z" && pcsync "$STROOT/s/z" "$STROOT/s" "$STROOT"
power_cut all
check "model: a name whose directory was never fsynced is lost" test ! -e "$R/late" -a ! -e "$R/renamed"
check "model: a file fsynced in an fsynced directory keeps its data" test "$(cat "$R/both")" = c -a "$(cat "$R/fileonly")" = b
check "model: a durable name whose data was never fsynced comes back empty" test -f "$R/nameonly" -a ! -s "$R/nameonly" -a -f "$R/never" -a ! -s "$R/never"
check "model: unsynced changes to a baseline file are undone" test "$(cat "$R/old")" = base
check "model: an unlink that was not made durable is undone" test "$(cat "$R/unlinked")" = doomed
check "model: a directory and its synced file survive" test "$(cat "$R/d/x")" = x
check "model: a directory never fsynced itself comes back empty" test -d "$R/e" -a ! -e "$R/e/y"
check "model: the second root too" test "$(cat "$STROOT/s/z")" = z
check "model: a rename not synced at its source leaves two links" test "$R/t/m" -ef "$R/n/m" -a "$(cat "$R/n/m")" = m

# A complete run, then sync(2): the restore must give back exactly the
# tree that was there (names, types, modes, bytes).
treeprint() {
	(cd "$W" && find . -printf '%p %y %m %s\n' | sort &&
		find . -type f -exec cksum {} + | sort)
}
fresh "$TESTDIR"/orig/*
baseline
pcf exit --maildir "$MD" --batch 2
check "model: a run with no cut completes" test "$RC" -eq 0
env LD_PRELOAD="$POWERCUT_SO" POWERCUT_DIR="$SHADOW" \
	POWERCUT_ROOTS="$MAILROOT:$STROOT" sync
treeprint > "$TESTDIR/tree.before"
power_cut all
treeprint > "$TESTDIR/tree.after"
if cmp -s "$TESTDIR/tree.before" "$TESTDIR/tree.after"; then
	ok "model: after sync(2), a cut keeps the whole tree"
else
	fail "model: after sync(2), a cut changed the tree"
	diff "$TESTDIR/tree.before" "$TESTDIR/tree.after" | head -10 | sed 's/^/#   /'
fi

# popfetch's own fsyncs are seen: a Maildir and state that were durable
# before the run, cut after batch 1 was committed: batch 1 is in new/ and
# in the store, what was not committed is not.
fresh
mkdir -p "$MD/tmp" "$MD/new" "$MD/cur"
pf --maildir "$MD"
[ "$RC" -eq 0 ] || fail "model: a run on an empty server exits $RC"
cp "$TESTDIR"/orig/* "$DROP/"
baseline
pcf committed --maildir "$MD" --batch 2
check "model: killed after batch 1 was committed" test "$RC" -eq 137
power_cut all
check "model: the synced batch survives in new/ (3 of 5 undelivered)" test "$(verdict maildir "$TESTDIR/orig")" = "0 0 3 0 0"
check "model: the committed UIDs survive in the store" test "$(seen_count)" -eq 2

# ---- popfetch under power cuts. ----
for p in $POINTS; do
	scenario maildir first "$p" all mail state
done
for p in $POINTS_SHORT; do
	scenario maildir second "$p" all
done
for p in $POINTS; do
	scenario mbox first "$p" all mail state
done
for p in $POINTS_SHORT; do
	scenario mbox newbox "$p" all
done

# A power cut inside recovery: a first fetch killed (no cut) after
# journaling batch 1, then the next run is cut inside recovery.
scenario maildir after-kill recovery all mail state
scenario mbox after-kill recovery all mail state

# The store's log switches files (Berkeley DB starts log.0000000002 at
# 1 MB, without fsyncing the directory): commits after the switch must
# survive too. 2500 generated messages (their deletion never persists,
# so every session sees them all), batches of 500: the log switches in
# batch 4; cut after batch 5 was committed. Exactly once means the store
# remembered every batch it had committed.
server_stop
fresh
server_start --synthetic 2500 --log "$SLOG" "$DROP" || exit 1
baseline
pcf committed:5 --maildir "$MD" --delete --batch 500
_label="maildir first fetch of 2500, cut=all after the store's log switched files"
_explained=
_roots="$MAILROOT $STROOT"
if [ "$RC" -ne 137 ]; then
	fail "$_label: not killed at committed:5 (exit $RC)"
elif ! grep -q 'log\.0000000002$' "$SHADOW/log"; then
	fail "$_label: the log never switched files, nothing is proved (raise --synthetic)"
else
	power_cut all
	pf --maildir "$MD" --batch 500
	expect_rc 0 "$_label: the next run completes"
	set -- $(cksum "$MD"/new/* "$MD"/cur/* 2>/dev/null |
		awk '{ n++; if (!s[$1 " " $2]++) u++ } END { print n + 0, u + 0 }')
	if [ "$1" -eq 2500 ] && [ "$2" -eq 2500 ]; then
		ok "$_label: every message exactly once"
	else
		fail "$_label: $1 files for $2 of 2500 messages ($(($1 - $2)) duplicates)"
		explain
	fi
fi

if [ -s "$ALERTS" ]; then
	fail "the shim saw something it cannot model"
	sed 's/^/#   /' "$ALERTS" | head -10
else
	ok "the shim saw nothing it cannot model (O_SYNC opens, failed records)"
fi
finish
