#!/bin/sh
# SPDX-License-Identifier: ISC
# The durable batch in system calls (issue 12), counted with strace -f -c
# on popfetch alone (the test server runs apart, on 127.0.0.1): a batch is
# made durable with a few syncs, not one per message (at most 0.1
# fsync-family calls a message for 600 messages in the default batches of
# 512); a Maildir file of 256 KiB or more starts its write-back as it is
# closed (sync_file_range), a small one does not; no descriptor is closed
# twice; a batch's first half is written back early, by a syncfs in a
# second thread, and renamed into new/ by a third; the connection is
# dialed between the lock and the store's open; a batch of a few large
# messages is written back early too, every 8 MiB. Timings belong in
# contrib/bench.sh; these counts do not depend on the machine.
. "$srcdir/tests/lib.sh"

command -v strace > /dev/null 2>&1 || bail "strace is missing (Debian package strace)"

# counted NAME...: the calls of those names in the last strace -c summary.
counted() {
	# Columns: % time, seconds, usecs/call, calls, [errors,] syscall.
	awk -v names=" $* " 'index(names, " " $NF " ") && $4 ~ /^[0-9]+$/ { n += $4 }
		END { print n + 0 }' "$TESTDIR/strace"
}
# by_main FILE ERE: the lines of the strace -f trace FILE that match ERE
# and come from popfetch's main thread (the pid of the first execve), or
# "none" when the trace has no execve.
by_main() {
	awk -v re="$2" '/execve\(/ && main == "" { main = $1 }
		main != "" && $1 == main && $0 ~ re { n++ }
		END { print main == "" ? "none" : n + 0 }' "$1"
}
# Under ASan, LeakSanitizer cannot run beside ptrace.
PF_WATCHDOG="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -c -o $TESTDIR/strace"

# 600 small messages, Maildir.
server_start --synthetic 600 "$DROP" || bail "the test server did not start"
pfm
expect_rc 0 "600 messages into a Maildir under strace"
check "600 messages: all delivered" test "$(count_files "$MD/new")" -eq 600
n=$(awk '$NF == "close" { print $5 + 0 }' "$TESTDIR/strace")
check "600 messages: no descriptor closed twice (${n:-0} close calls failed)" test "${n:-0}" -eq 0
n=$(counted fsync fdatasync syncfs sync msync)
check "600 messages: $n fsync-family calls, at most 60 (0.1 a message)" test "$n" -le 60 -a "$n" -gt 0
n=$(counted sync_file_range)
check "600 small messages: no early writeback ($n sync_file_range calls)" test "$n" -eq 0

# Each batch's first half goes to the disk while the second downloads: a
# syncfs from a second thread, then the batch's own (512 + 88 messages:
# two of each), made by the thread that publishes the batch while the
# next one downloads: none by the main thread.
rm -rf "$MD" "$STATE"
PF_WATCHDOG="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=syncfs,execve -o $TESTDIR/syncs"
pfm
expect_rc 0 "600 messages, syncfs traced"
n=$(grep -c 'syncfs(' "$TESTDIR/syncs")
tids=$(awk '/syncfs\(/ { print $1 }' "$TESTDIR/syncs" | sort -u | wc -l)
m=$(by_main "$TESTDIR/syncs" 'syncfs[(]')
check "the batches' syncfs calls: $m by the main thread (want none)" test "$m" = 0
check "early writeback: $n syncfs calls from $tids threads (want 4, from more than one)" test "$n" -eq 4 -a "$tids" -ge 2

# The batch's files go to new/ in a thread of their own while the next
# batch downloads: no rename into new/ by the main thread.
rm -rf "$MD" "$STATE"
PF_WATCHDOG="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=renameat,renameat2,rename,execve -o $TESTDIR/renames"
pfm
expect_rc 0 "600 messages, renames traced"
# Berkeley DB renames by path as it creates the store; the Maildir by
# directory descriptor.
n=$(grep -c ' renameat2*([0-9]' "$TESTDIR/renames")
m=$(by_main "$TESTDIR/renames" ' renameat2*[(][0-9]')
check "publishing: $n renames, $m of them by the main thread (want 600, none)" test "$n" -eq 600 -a "$m" = 0

# Nothing new: the connection is made before the store's databases open
# (the server prepares its greeting meanwhile), after the lock.
PF_WATCHDOG="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=connect,openat -o $TESTDIR/order"
pfm
expect_rc 0 "nothing new under strace"
lock=$(grep -n -m 1 '/lock"' "$TESTDIR/order" | cut -d: -f1)
conn=$(grep -n -m 1 'connect([0-9]*, {sa_family=AF_INET' "$TESTDIR/order" | cut -d: -f1)
db=$(grep -n -m 1 'uids\.db"' "$TESTDIR/order" | cut -d: -f1)
check "the lock, then the connection, then the databases (strace lines ${lock:-none}, ${conn:-none}, ${db:-none})" \
	test "${lock:-0}" -gt 0 -a "${conn:-0}" -gt "${lock:-0}" -a "${db:-0}" -gt "${conn:-0}"
PF_WATCHDOG="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -c -o $TESTDIR/strace"

# Three messages of 300 KiB and one small one.
rm -rf "$MD" "$STATE"
line=$(printf '%0100d' 0)
for i in 1 2 3; do
	msg "big$i" "big $i" $(i=0; while [ $i -lt 3000 ]; do echo "$line"; i=$((i + 1)); done)
done
msg small "small"
server_stop
server_start "$DROP" || bail "the test server did not start"
pfm
expect_rc 0 "three 300 KiB messages and a small one under strace"
check "large messages: all four delivered" test "$(count_files "$MD/new")" -eq 4
n=$(counted sync_file_range)
check "large messages: writeback started for each of the three ($n sync_file_range calls)" test "$n" -eq 3
server_stop

# A batch of few large messages is written back early too, every 8 MiB
# (a quarter of its 32 MiB bound): 12 x 1 MiB, one batch, so a syncfs from
# a second thread after the eighth and the batch's own.
rm -rf "$MD" "$STATE" "$DROP"
mkdir -p "$DROP"
msg big0 "big 0" $(i=0; while [ $i -lt 10400 ]; do echo "$line"; i=$((i + 1)); done)
for i in 1 2 3 4 5 6 7 8 9 10 11; do
	sed "s/big 0/big $i/" "$DROP/big0" > "$DROP/big$i"
done
server_start "$DROP" || bail "the test server did not start"
PF_WATCHDOG="env ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0 strace -f -e trace=syncfs -o $TESTDIR/syncs"
pfm
expect_rc 0 "twelve 1 MiB messages, syncfs traced"
check "twelve 1 MiB messages: all delivered" test "$(count_files "$MD/new")" -eq 12
n=$(grep -c 'syncfs(' "$TESTDIR/syncs")
tids=$(awk '/syncfs\(/ { print $1 }' "$TESTDIR/syncs" | sort -u | wc -l)
check "large batch, early writeback: $n syncfs calls from $tids threads (want 2, from two)" test "$n" -eq 2 -a "$tids" -eq 2
server_stop

finish
