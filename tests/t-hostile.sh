#!/bin/sh
# A dropped or silent connection at every command (DESIGN.md invariant 4):
# the run fails cleanly (EX_TEMPFAIL, or 0 where the fault comes too late
# to matter), delivers nothing partial, keeps memory bounded (the run's own
# getrusage report at -vv), and the next run completes, each message once.
# One case (tests/cases/README) per command, fault and byte count, written
# here and run by tests/cases.sh, in parallel. The other hostile servers
# are cases too: tests/cases/{uid-reuse,hostile-uids,counts-*,stray-*,
# max-size}.case and tests/slow/{oversized,listing-million}.case (make
# check-slow).
set -u
: "${srcdir:=.}"
GEN=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-hostile.XXXXXX") || exit 1
trap 'rm -rf "$GEN"' EXIT
trap 'exit 1' HUP INT TERM PIPE

for cmd in GREETING CAPA USER PASS STAT UIDL LIST RETR DELE QUIT; do
	for fault in drop-after hang-after; do
		for bytes in 0 3; do
			# The fault was reached, not a time limit before it (a
			# fault at the greeting is reached by connecting).
			reached="%session-has ^$cmd"
			[ "$cmd" = GREETING ] && reached=
			cat > "$GEN/$fault-$cmd-$bytes.case" <<CASE
%msg 001 m1 "body 1"
%msg 002 m2 "body 2"
%msg 003 m3 "body 3"
# The fault in the first session only: the second is clean.
%server --$fault $cmd:1:$bytes --session-filter 1
%step $fault $cmd:$bytes: fails cleanly
%fetch --delete --timeout 0.2 -vv
%rc 75 0
$reached
%count tmp 0
%sh
complete() {
	for f in "\$MD"/new/*; do
		[ -e "\$f" ] || continue
		grep -q '^body [123]\$' "\$f" || return 1
	done
}
%check "no partial mail" complete
%rss-max \${POPFETCH_RSS_MAX:-16384}
%step $fault $cmd:$bytes: the next run completes, each message once
%fetch --delete
%rc 0
%count new 3
CASE
		done
	done
done

CASES_NAME=t-hostile sh "$srcdir/tests/cases.sh" "$GEN"/*.case
