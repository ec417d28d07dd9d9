#!/bin/sh
# SPDX-License-Identifier: ISC
# kill -9 at random moments, at least 200 times, while a few hundred
# messages are fetched with --delete (DESIGN.md invariants 1-3). New mail
# keeps arriving, so kills land in every phase: listing, RETR, fsync,
# journal, rename, commit, DELE, QUIT, recovery. At the end: Maildir holds
# every message exactly once, byte-identical; the server is empty; mbox
# holds every message, no partial one, at most one duplicate per kill.
. "$srcdir/tests/lib.sh"

KILLS=${POPFETCH_KILLS:-200}
SEED=${POPFETCH_SEED:-$(date +%s)}
echo "# seed $SEED (POPFETCH_SEED=$SEED reproduces the delays)"
mkdir -p "$TESTDIR/all"
# Kill delays are a random fraction (per mille, from the seed) of how long
# the last uninterrupted run took (grown by a tenth per kill since), so
# kills land mid-run on a fast machine and on a loaded one alike. Read through fd 3: no fork per iteration
# beyond popfetch, date and sleep.
awk -v s="$SEED" -v n="$((KILLS * 10))" 'BEGIN { srand(s); for (i = 0; i < n; i++) print int(rand() * 1200) }' > "$TESTDIR/delays"
exec 3< "$TESTDIR/delays"
est_ms=100

add_mail() {
	i=0
	while [ $i -lt "$1" ]; do
		n=$((n + 1))
		f=$(printf '%05d' "$n")
		msg "$f" "message $n" "line one of $n" ".dotted line" "From inside $n"
		cp "$DROP/$f" "$TESTDIR/all/"
		i=$((i + 1))
	done
}

# run_killed: one run of $@ killed after the next delay; counts only
# kills of a process still running (not of one already exited).
kills=0
run_killed() {
	read -r f <&3 || f=500
	d=$((f * est_ms / 1000))
	t0=$(date +%s%N)
	"$@" &
	pid=$!
	sleep "$(printf '%d.%03d' $((d / 1000)) $((d % 1000)))"
	if kill -9 "$pid" 2>/dev/null && ! wait "$pid" 2>/dev/null; then
		killed=1
		# Killed before it could finish: on a loaded machine runs
		# take longer than the last one that finished, so the
		# estimate grows until a run finishes again; kills keep
		# landing in every phase, not only at startup.
		[ "$est_ms" -lt 5000 ] && est_ms=$((est_ms * 11 / 10 + 1))
	else
		killed=0
		wait "$pid" 2>/dev/null
		est_ms=$(( ($(date +%s%N) - t0) / 1000000 + 1 ))
	fi
	kills=$((kills + killed))
	attempts=$((attempts + 1))
}

n=0
attempts=0
add_mail 200
server_start --log /dev/null "$DROP" || exit 1
POPFETCH_ARGS="--no-received --no-tls -P $PORT -u test --password-file $TESTDIR/pw --state-dir $STATE --timeout 5 --delete --batch 2"
while [ $kills -lt "$KILLS" ] && [ $attempts -lt $((KILLS * 6)) ]; do
	# shellcheck disable=SC2086
	run_killed "$POPFETCH" $POPFETCH_ARGS --maildir "$MD" 127.0.0.1
	# A run that finished before its kill found little to do (a run
	# with nothing new takes a few ms): new mail arrives, so kills keep
	# landing mid-work on a fast machine and on a loaded one alike.
	if [ "$killed" -eq 0 ] && [ $n -lt 3000 ]; then
		add_mail 10
	fi
done
check "at least $KILLS runs were killed ($kills kills in $attempts runs)" test "$kills" -ge "$KILLS"
# The kills must have hit runs that were doing work, not only startups.
during=$(count_files "$MD/new")
check "killed runs delivered mail ($during of $n before the final run)" test "$during" -ge $((n / 3))
pfm --delete --batch 2
expect_rc 0 "the run after $kills kills completes"
check "every one of $n messages exactly once, byte-identical" same_contents "$MD/new" "$TESTDIR/all"
check "nothing left in tmp/" test "$(count_files "$MD/tmp")" -eq 0
check "the server is empty" test "$(count_files "$DROP")" -eq 0
# Records stay until a listing shows the message gone (Exchange deletes
# are not atomic, V0006); the next run forgets them.
pfm --delete
check "the next run forgets every deleted UID" test "$RC" -eq 0 -a "$(seen_count)" -eq 0

# mbox: fewer kills, same idea.
rm -rf "$STATE" "$TESTDIR/all"/*
mkdir -p "$TESTDIR/all"
add_mail 60
start=$kills
target=$((kills + KILLS / 4))
while [ $kills -lt $target ] && [ $attempts -lt $((KILLS * 6)) ]; do
	# shellcheck disable=SC2086
	run_killed "$POPFETCH" $POPFETCH_ARGS --mbox "$TESTDIR/mbox" 127.0.0.1
done
mkills=$((kills - start))
pf --mbox "$TESTDIR/mbox" --delete --batch 2
expect_rc 0 "mbox: the run after $mkills kills completes"
missing=0
dups=0
for f in "$TESTDIR"/all/*; do
	s=$(sed -n 's/^Subject: //p' "$f")
	c=$(grep -c "^Subject: $s\$" "$TESTDIR/mbox")
	[ "$c" -ge 1 ] || missing=$((missing + 1))
	[ "$c" -le 1 ] || dups=$((dups + c - 1))
done
check "mbox: every message present ($missing missing)" test "$missing" -eq 0
check "mbox: at most one duplicate per kill ($dups duplicates, $mkills kills)" test "$dups" -le "$mkills"
check "mbox: no partial message" test "$(grep -c '^From ' "$TESTDIR/mbox")" -eq "$(grep -c '^Subject: ' "$TESTDIR/mbox")" \
	-a "$(grep -c '^>From inside' "$TESTDIR/mbox")" -eq "$(grep -c '^Subject: ' "$TESTDIR/mbox")"
check "mbox: the server is empty" test "$(count_files "$DROP")" -eq 0

finish
