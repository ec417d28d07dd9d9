#!/bin/sh
# SPDX-License-Identifier: ISC
# make demo: the bundled test server on 127.0.0.1 with a handful of sample
# messages, a fetch into ./demo/Maildir, a second fetch that finds nothing
# new, and the server stopped. Usage: demo.sh SRCDIR BUILDDIR
set -eu
srcdir=$1
builddir=$2
demo=$builddir/demo
POPFETCH=$builddir/src/popfetch
TESTPOP3D=$builddir/tests/testpop3d
TESTDIR=$demo/run
rm -rf "$demo"
mkdir -p "$TESTDIR/drop"
cp "$srcdir"/tests/demo-mail/msg* "$TESTDIR/drop/"
chmod 700 "$demo"
printf 'secret\n' > "$demo/password"
chmod 600 "$demo/password"
. "$srcdir/tests/server.sh"
trap 'server_stop' EXIT
server_start "$TESTDIR/drop"

fetch() {
	"$POPFETCH" --no-tls -q -P "$PORT" -u test --password-file "$demo/password" \
		--state-dir "$demo/state" --maildir "$demo/Maildir" 127.0.0.1
}

echo "== popfetch: first run against the test server on 127.0.0.1:$PORT"
fetch
n=$(ls "$demo/Maildir/new" | wc -l)
echo "fetched $n messages into demo/Maildir/new:"
for f in "$demo"/Maildir/new/*; do
	printf '  %s\n' "$(grep -m1 '^Subject:' "$f")"
done
echo "== second run: nothing new should be fetched"
fetch
m=$(ls "$demo/Maildir/new" | wc -l)
echo "demo/Maildir/new still holds $m messages ($((m - n)) new)"
test "$m" -eq "$n"
rm -rf "$TESTDIR"
