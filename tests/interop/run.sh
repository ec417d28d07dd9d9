#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/run.sh -- "make check-interop": the interoperability matrix
# against every real POP3 server Debian 12 ships, one after the other.
#
#   srcdir=SRC POPFETCH=CLIENT INTEROP_DIR=DIR sh tests/interop/run.sh [SERVER...]
#
# SERVER: dovecot cyrus courier mailutils popa3d solid (default: all).
# First tests/interop/setup.sh fetches and unpacks the servers into DIR
# (as root it installs what is missing; it says what and stops otherwise);
# then tests/interop/t-SERVER.sh runs for each, its output in
# DIR/t-SERVER.log.  Prints one line per server, then "N passed, M failed";
# exit status 0 only if every check passed.

set -u
: "${srcdir:=.}"
: "${POPFETCH:=$PWD/src/popfetch}"
: "${INTEROP_DIR:=$PWD/interop}"
export srcdir POPFETCH INTEROP_DIR

[ $# -gt 0 ] || set -- dovecot cyrus courier mailutils popa3d solid

if [ ! -x "$POPFETCH" ]; then
	echo "check-interop: $POPFETCH is missing: build popfetch first (make)"
	echo "0 passed, 1 failed"
	exit 1
fi
unpack=
for s in "$@"; do
	[ "$s" = dovecot ] || unpack="$unpack $s"
done
# shellcheck disable=SC2086
if [ -n "$unpack" ] && ! sh "$srcdir/tests/interop/setup.sh" "$INTEROP_DIR" $unpack; then
	echo "FAIL: check-interop: the servers could not be set up (see above)"
	echo "0 passed, 1 failed"
	exit 1
fi
mkdir -p "$INTEROP_DIR"

passed=0
failed=0
start=$(date +%s)
for s in "$@"; do
	log=$INTEROP_DIR/t-$s.log
	t0=$(date +%s)
	sh "$srcdir/tests/interop/t-$s.sh" >"$log" 2>&1
	last=$(tail -n 1 "$log")
	p=$(echo "$last" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\1/p')
	f=$(echo "$last" | sed -n 's/.*: \([0-9]*\) passed, \([0-9]*\) failed$/\2/p')
	if [ -z "$p" ]; then
		p=0 f=1
		last="t-$s: stopped without a result"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	grep '^FAIL' "$log" | sed "s/^/  $s: /"
	printf '%s (%ss, log %s)\n' "$last" "$(($(date +%s) - t0))" "$log"
done
echo "check-interop: $(($(date +%s) - start)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
