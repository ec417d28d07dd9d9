#!/bin/sh
# SPDX-License-Identifier: ISC
# Builds the libFuzzer targets tests/fuzz/fuzz_*.c and runs each for SECONDS
# on a copy of its seed corpus (tests/fuzz/corpus/TARGET). The sources a
# target needs are named on its "Links:" header line (extra libraries on
# "Libs:") and are compiled here with the same sanitizer flags: linking the
# uninstrumented src/libpopfetch.a would hide their bugs from ASan and from
# the coverage feedback. Only a temporary directory is written, and on a
# crash BUILDDIR/fuzz-crashes, so this runs from a read-only source tree.
#
# Prints one line per target and "fuzz: N passed, M failed"; exits 1 when a
# target failed to build or crashed, 2 on bad usage.
#
# usage: tests/fuzz/run.sh SRCDIR BUILDDIR SECONDS
#   SRCDIR    the source tree (holds src/ and tests/fuzz/)
#   BUILDDIR  the configured build tree (holds config.h)
#   SECONDS   fuzzing time per target, at least 1
# CC (default clang) and FUZZ_TARGETS (names, default all) may be set.

usage() {
	echo "usage: $0 SRCDIR BUILDDIR SECONDS" >&2
	exit 2
}

[ $# -eq 3 ] || usage
case $3 in
'' | *[!0-9]* | 0) usage ;;
esac
srcdir=$(cd "$1" && pwd) || usage
builddir=$(cd "$2" && pwd) || usage
secs=$3
fuzzdir=$srcdir/tests/fuzz
[ -f "$builddir/config.h" ] || {
	echo "$0: no config.h in $builddir; run configure first" >&2
	exit 2
}

CC=${CC:-clang}
# -fno-sanitize-recover: a UBSan report must stop the run like a crash, or
# the fuzzer would print it and go on.
CFLAGS_FUZZ="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined"
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
export UBSAN_OPTIONS

tmp=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-fuzz.XXXXXX") || exit 1
pid=
# Stops the fuzzer still running, if any: none may outlive this script.
cleanup() {
	if [ -n "$pid" ]; then
		kill "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP PIPE

mkdir "$tmp/obj" "$tmp/bin" "$tmp/corpus" "$tmp/crash"

# A source file is compiled once, whichever targets need it. CFLAGS_FUZZ
# and the Links/Libs lists are split on blanks on purpose.
# shellcheck disable=SC2086
compile() {
	obj=$tmp/obj/$(basename "$1" .c).o
	[ -f "$obj" ] && return 0
	$CC $CFLAGS_FUZZ -I"$srcdir/src" -I"$builddir" -c "$1" -o "$obj" \
	    >> "$tmp/build.log" 2>&1
}

# Links target $1 from $2 with the objects named by its header, which are
# given relative to obj/ so that a blank in TMPDIR does no harm.
# shellcheck disable=SC2046,SC2086
link() {
	objs=
	for s in $(header "$2" Links); do
		objs="$objs ${s%.c}.o"
	done
	(cd "$tmp/obj" && $CC $CFLAGS_FUZZ -I"$srcdir/src" -I"$builddir" \
	    "$2" $objs $(header "$2" Libs) -o "$tmp/bin/$1") \
	    >> "$tmp/build.log" 2>&1
}

# The value of a "NAME:" line in the header comment of a target.
header() {
	sed -n "s/^ \* $2: *//p" "$1" | head -1
}

# The best one-line reason a fuzzer log gives for a crash.
reason() {
	for pat in 'fuzz invariant failed' 'runtime error:' '^SUMMARY:' \
	    'ERROR: libFuzzer' 'ERROR:'; do
		line=$(grep -m1 -e "$pat" "$1")
		if [ -n "$line" ]; then
			echo "$line" | sed 's/^==[0-9]*==//'
			return
		fi
	done
	echo "exit status $2, no sanitizer report"
}

# A field of the libFuzzer final statistics or of its last status line.
stat() {
	sed -n "s/^stat::$2: *//p" "$1" | tail -1
}
cov() {
	sed -n 's/.* cov: \([0-9]*\) ft: \([0-9]*\) .*/\1 edges, \2 features/p' \
	    "$1" | tail -1
}

targets=${FUZZ_TARGETS:-$(cd "$fuzzdir" && for f in fuzz_*.c; do
	echo "${f%.c}"; done)}
passed=0
failed=0
for t in $targets; do
	f=$fuzzdir/$t.c
	: > "$tmp/build.log"
	ok=1
	for s in $(header "$f" Links); do
		compile "$srcdir/src/$s" || ok=0
	done
	[ $ok -eq 1 ] && { link "$t" "$f" || ok=0; }
	if [ $ok -eq 0 ]; then
		echo "$t: FAIL: does not build"
		sed 's/^/    /' "$tmp/build.log" | head -20
		failed=$((failed + 1))
		continue
	fi

	mkdir "$tmp/corpus/$t" "$tmp/crash/$t"
	if [ -d "$fuzzdir/corpus/$t" ]; then
		cp "$fuzzdir/corpus/$t"/* "$tmp/corpus/$t/" 2>/dev/null
		chmod u+w "$tmp/corpus/$t"/* 2>/dev/null
	fi
	log=$tmp/$t.log
	"$tmp/bin/$t" -max_total_time="$secs" -max_len=65536 -timeout=25 \
	    -print_final_stats=1 -artifact_prefix="$tmp/crash/$t/" \
	    "$tmp/corpus/$t" > "$log" 2>&1 &
	pid=$!
	wait "$pid"
	rc=$?
	pid=

	if [ $rc -eq 0 ]; then
		echo "$t: ok, $(stat "$log" number_of_executed_units) runs," \
		    "$(stat "$log" average_exec_per_sec) exec/s, $(cov "$log")," \
		    "corpus $(find "$tmp/corpus/$t" -type f | wc -l) files"
		passed=$((passed + 1))
		continue
	fi
	failed=$((failed + 1))
	echo "$t: FAIL: $(reason "$log" $rc)"
	# Keep the evidence: the temporary directory goes away.
	keep=$builddir/fuzz-crashes
	mkdir -p "$keep"
	cp "$log" "$keep/$t.log"
	cp "$tmp/bin/$t" "$keep/$t"
	for a in "$tmp/crash/$t"/*; do
		[ -f "$a" ] || continue
		cp "$a" "$keep/$t-$(basename "$a")"
		echo "    input: $keep/$t-$(basename "$a")" \
		    "(replay: $keep/$t $keep/$t-$(basename "$a"))"
	done
	echo "    log:   $keep/$t.log"
done

echo "fuzz: $passed passed, $failed failed"
[ $failed -eq 0 ]
