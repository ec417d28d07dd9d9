#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/cases.sh -- runs the session test cases, tests/cases/*.case.
#
#   sh tests/cases.sh [CASE...]      every case, or those named (a path,
#                                    or a name such as basic-fetch, or a
#                                    generator such as crash.gen)
#
# A case is a small data file (the format is in tests/cases/README); a
# generator, NAME.gen, is a script that writes cases, one per crash point
# or fault, into the directory it is given. All are translated into shell
# at once (awk, below); each case then runs in a subshell with its own
# test directory and --stdio test server (tests/lib.sh), in batches of
# four, POPFETCH_JOBS batches at a time (default: the number of
# processors). Their output is printed in order, each case's totals as a
# comment, and the last line counts the checks of all of them.
# POPFETCH_KEEP_TMP keeps the test directories.

set -u
: "${srcdir:=.}"
CASEDIR=$srcdir/tests/cases

# ---- the translation of a case file into shell (awk) ----
# Directives become calls of the d_* functions below; a data block becomes
# a quoted here-document on its directive's standard input, a %sh block
# stays shell. Errors name the file and line.
CASE2SH='
function die(m) { printf "%s:%d: %s\n", FILENAME, FNR, m > "/dev/stderr"; bad = 1; exit 1 }
function emit(line) { buf[++nb] = line }
# The translation of the case just read: to a file in the directory out (a
# variable), else to stdout. NEED_ORIG says whether the case looks at the
# maildrop as it was before its first run ("orig"), which is then saved.
function endfile(fname,   dst, i) {
	flush(0)
	dst = fname
	sub(/.*\//, "", dst)
	sub(/\.case$/, "", dst)
	dst = out == "" ? "/dev/stdout" : out "/" dst ".sh"
	print "NEED_ORIG=" need_orig > dst
	for (i = 1; i <= nb; i++) print buf[i] > dst
	close(dst)
	nb = 0; need_orig = 0
}
# s as one shell word, in single quotes.
function shq(s,   out, i) {
	out = ""
	while ((i = index(s, q)) > 0) {
		out = out substr(s, 1, i - 1) q "\\" q q
		s = substr(s, i + 1)
	}
	return q out s q
}
# A block ended by %end is exact; one ended by the next directive loses
# its trailing blank lines (the space before that directive).
function flush(exact,   i) {
	if (blk == "") return
	while (!exact && n > 0 && lines[n] == "") n--
	for (i = 1; i <= n; i++) emit(lines[i])
	if (blk != "sh") emit("@@CASE_END@@")
	blk = ""; n = 0
}
BEGIN {
	q = "\047"
	split("drop sh session stdout stderr mbox", b, " ")
	for (i in b) block[b[i]] = 1
	split("msg server tls reset step crash run fetch rc session-has session-lacks " \
	    "session-count log-has log-lacks log-count stdout-has stderr-has " \
	    "stderr-lacks count same subset copy grep-files exists absent seen " \
	    "rss-max check", w, " ")
	for (i in w) word[w[i]] = 1
	# Directives whose text after this many words is one word as it stands:
	# a title or a regular expression.
	split("step 0 session-has 0 session-lacks 0 log-has 0 log-lacks 0 " \
	    "stdout-has 0 stderr-has 0 stderr-lacks 0 session-count 1 " \
	    "log-count 1 grep-files 2", v, " ")
	for (i = 1; i < 22; i += 2) verbatim[v[i]] = v[i + 1]
}
FNR == 1 && NR > 1 { endfile(prev) }
{ prev = FILENAME }
/orig/ { need_orig = 1 }
/^%end[ \t]*$/ {
	if (blk == "") die("%end outside a data block")
	flush(1)
	next
}
/^%[a-z]/ {
	flush(0)
	name = substr($1, 2)
	rest = substr($0, length($1) + 2)
	fn = name; gsub(/-/, "_", fn)
	if (name in block) {
		if (name == "sh") emit("d_line " FNR " sh")
		else emit("d_line " FNR "; d_" fn " " rest " <<" q "@@CASE_END@@" q)
		blk = name
	} else if (name in word) {
		if (name in verbatim) {
			head = ""
			for (i = 0; i < verbatim[name]; i++) {
				if (!match(rest, /^[^ \t]+[ \t]+/))
					die("%" name ": too few words")
				head = head substr(rest, 1, RLENGTH)
				rest = substr(rest, RLENGTH + 1)
			}
			rest = head shq(rest)
		}
		emit("d_line " FNR "; d_" fn " " rest)
	} else
		die("unknown directive %" name)
	next
}
blk != "" { if (substr($0, 1, 2) == "%%") $0 = substr($0, 2); lines[++n] = $0; next }
/^#/ || /^[ \t]*$/ { next }
{ die("text outside a data block") }
END { if (!bad && NR > 0) endfile(prev) }
'

# ---- the directives ----

LINE=0
RUN=0
STEP=
NEXT_STEP=
NEXT_CRASH=
SESSION_OF=
NEED_ORIG=0
MBOX=
MDA=
ORIG=

# d_line N [sh]: the case file's line N comes next; a %sh block may change
# the server log, so the last session is read again after one.
d_line() {
	LINE=$1
	[ $# -eq 1 ] || SESSION_OF=
}

# The name of a check: the case, the run it is about, what it checks.
# (Variables and builtins only, here and below: a fork is not free on a
# busy machine, and there are hundreds of checks.)
pass() { ok "$ME #$RUN${STEP:+ ($STEP)}: $*"; }
flunk() { fail "$ME #$RUN${STEP:+ ($STEP)}: $* [line $LINE]"; }
verdict() {  # verdict STATUS WHAT: pass or flunk by STATUS.
	if [ "$1" -eq 0 ]; then pass "$2"; else flunk "$2"; fi
}

# place WORD: sets P to the path WORD names: new, tmp, cur (of $MD), drop,
# orig (the maildrop before the first run), mda, mbox, optionally followed
# by /NAME; else WORD itself.
place() {
	case $1 in
	new | new/* | tmp | tmp/* | cur | cur/*) P=$MD/$1 ;;
	drop) P=$DROP ;;
	drop/*) P=$DROP/${1#drop/} ;;
	orig) P=$ORIG ;;
	orig/*) P=$ORIG/${1#orig/} ;;
	mda) P=$MDA ;;
	mda/*) P=$MDA/${1#mda/} ;;
	mbox) P=$MBOX ;;
	*) P=$1 ;;
	esac
}

# files_in DIR: sets N to the number of files in DIR (as count_files).
files_in() {
	N=0
	for _f in "$1"/*; do
		[ -f "$_f" ] && N=$((N + 1))
	done
}

d_msg() { msg "$@"; }
d_drop() { cat > "$DROP/$1"; }
d_server() { serve "$@"; }
d_tls() { use_tls; }
d_reset() {
	rm -rf "$MD" "$STATE" "$MBOX" "$MDA"
	mkdir -p "$MDA"
}
d_step() { NEXT_STEP=$*; }
# The next run is killed at this crash point (POPFETCH_CRASH_AT, the
# test-only hook of src/).
d_crash() { NEXT_CRASH=$1; }
d_run() {
	RUN=$((RUN + 1))
	STEP=$NEXT_STEP
	NEXT_STEP=
	# The maildrop as it was before the first run, for cases that name it.
	if [ "$RUN" -eq 1 ] && [ "$NEED_ORIG" = 1 ]; then
		cp -r "$DROP" "$ORIG"
	fi
	SESSION_OF=
	if [ -n "$NEXT_CRASH" ]; then
		POPFETCH_CRASH_AT=$NEXT_CRASH
		export POPFETCH_CRASH_AT
		pf "$@"
		unset POPFETCH_CRASH_AT
		NEXT_CRASH=
	else
		pf "$@"
	fi
}
d_fetch() { d_run --maildir "$MD" "$@"; }

d_rc() {
	for _w in "$@"; do
		if [ "$RC" -eq "$_w" ]; then
			pass "exit $RC"
			return
		fi
	done
	flunk "exit $RC, expected $*"
}

# same_text WHAT FILE: FILE is exactly the data block on stdin.
same_text() {
	cat > "$TESTDIR/want"
	if cmp -s "$TESTDIR/want" "$2"; then
		pass "$1"
	else
		flunk "$1"
		diff "$TESTDIR/want" "$2" 2>&1 | head -n 20 | sed 's/^/#   /'
	fi
}
# The commands of the last run's session, in $TESTDIR/session (read once
# per run).
session() {
	if [ "$SESSION_OF" != "$RUN" ]; then
		last_session > "$TESTDIR/session"
		SESSION_OF=$RUN
	fi
}
d_session() {
	session
	same_text "exactly these commands" "$TESTDIR/session"
}
# matches WHAT MIN MAX ERE FILE: MIN to MAX lines of FILE match ERE.
matches() {
	if [ "$2" = 1 ] && [ "$3" = any ]; then
		grep -qaE -- "$4" "$5" 2>/dev/null
		verdict $? "$1"
		return
	fi
	if [ "$2" = 0 ] && [ "$3" = 0 ]; then
		! grep -qaE -- "$4" "$5" 2>/dev/null
		verdict $? "$1"
		return
	fi
	_n=$(grep -acE -- "$4" "$5" 2>/dev/null)
	if [ "$_n" -ge "$2" ] && { [ "$3" = any ] || [ "$_n" -le "$3" ]; }; then
		pass "$1"
	else
		flunk "$1 ($_n lines)"
	fi
}
d_session_has() { session; matches "the session has /$1/" 1 any "$1" "$TESTDIR/session"; }
d_session_lacks() { session; matches "the session lacks /$1/" 0 0 "$1" "$TESTDIR/session"; }
d_session_count() { session; matches "$1 session lines match /$2/" "$1" "$1" "$2" "$TESTDIR/session"; }
d_log_has() { matches "the server log has /$1/" 1 any "$1" "$SLOG"; }
d_log_lacks() { matches "the server log lacks /$1/" 0 0 "$1" "$SLOG"; }
d_log_count() { matches "$1 server log lines match /$2/" "$1" "$1" "$2" "$SLOG"; }
d_stdout_has() { matches "stdout has /$1/" 1 any "$1" "$TESTDIR/out"; }
d_stderr_has() { matches "stderr has /$1/" 1 any "$1" "$TESTDIR/err"; }
d_stderr_lacks() { matches "stderr lacks /$1/" 0 0 "$1" "$TESTDIR/err"; }

# From_ lines carry the time of delivery: compared without it.
undated() {
	sed 's/^From MAILER-DAEMON .*/From MAILER-DAEMON DATE/' "$1"
}
d_stdout() { undated "$TESTDIR/out" > "$TESTDIR/got"; same_text "exactly this on stdout" "$TESTDIR/got"; }
d_stderr() { same_text "exactly this on stderr" "$TESTDIR/err"; }
d_mbox() { undated "$MBOX" > "$TESTDIR/got"; same_text "the mbox holds exactly this" "$TESTDIR/got"; }

d_count() {
	place "$1"
	files_in "$P"
	[ "$N" -eq "$2" ]
	verdict $? "$2 files in $1 (found $N)"
}
d_same() {
	place "$1"
	_a=$P
	place "$2"
	same_contents "$_a" "$P"
	verdict $? "$1 and $2 hold the same contents, byte for byte"
}
d_subset() {
	place "$2"
	_b=$P
	place "$1"
	_missing=0
	for _f in "$P"/*; do
		[ -e "$_f" ] || continue
		has_copy "$_f" "$_b" || _missing=$((_missing + 1))
	done
	[ "$_missing" -eq 0 ]
	verdict $? "every file in $1 is byte-identical to one in $2 ($_missing not)"
}
d_copy() {
	place "$2"
	_b=$P
	place "$1"
	has_copy "$P" "$_b"
	verdict $? "$2 holds a byte-identical copy of $1"
}
d_grep_files() {
	place "$1"
	# One grep for all files: those that have a matching line.
	_n=0
	if [ -d "$P" ]; then
		_n=$(grep -laE -- "$3" "$P"/* 2>/dev/null | wc -l)
		_n=$((_n))
	fi
	[ "$_n" -eq "$2" ]
	verdict $? "$2 files in $1 match /$3/ (found $_n)"
}
d_exists() {
	place "$1"
	[ -e "$P" ]
	verdict $? "${1#"$TESTDIR"/} exists"
}
d_absent() {
	place "$1"
	[ ! -e "$P" ]
	verdict $? "${1#"$TESTDIR"/} does not exist"
}
d_seen() {
	_n=$(seen_count)
	[ "$_n" -eq "$1" ]
	verdict $? "$1 UIDs in the store (found $_n)"
}
# The run's own getrusage report, printed at -vv.
d_rss_max() {
	_kb=$(sed -n 's/.*max resident set size \([0-9]*\) KiB.*/\1/p' "$TESTDIR/err" | tail -n 1)
	[ -n "$_kb" ] && [ "$_kb" -le "$1" ]
	verdict $? "max RSS ${_kb:-unknown} KiB, at most $1"
}
d_check() {
	_w=$1
	shift
	"$@"
	verdict $? "$_w"
}

case_end() {
	[ "$RUN" -gt 0 ] || bail "$ME: a case without a run"
}

# ---- some cases, each in a subshell of this process ----

# run_case FILE: one case, in this (sub)shell: translated into shell, which
# is then run here.
run_case() {
	CASE=$1
	ME=${CASE##*/}
	ME=${ME%.case}
	# The whole batch runs under timeout(1) (below): no second one per run.
	PF_WATCHDOG=
	# A directory under $OUT, all of which goes at the end.
	LIB_TESTDIR=$OUT/t/$ME
	# shellcheck source=tests/lib.sh
	. "$srcdir/tests/lib.sh"
	MBOX=$TESTDIR/mbox
	MDA=$TESTDIR/mda
	ORIG=$TESTDIR/orig
	[ -f "$OUT/sh/$ME.sh" ] || bail "$ME: the case file does not translate"
	# shellcheck disable=SC1090 # the translation, made below
	. "$OUT/sh/$ME.sh"
	case_end
	finish
}

if [ "${1:-}" = --some ]; then
	OUT=$2
	shift 2
	for c in "$@"; do
		(run_case "$c") > "$OUT/${c##*/}.out" 2>&1
	done
	exit 0
fi

# ---- all of them ----

ME=cases
if [ $# -eq 0 ]; then
	set -- "$CASEDIR"/*.case "$CASEDIR"/*.gen
fi
JOBS=${POPFETCH_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-cases.XXXXXX") || exit 1
if [ -n "${POPFETCH_KEEP_TMP:-}" ]; then
	trap 'echo "# kept the cases'"'"' directories: $OUT/t"' EXIT
else
	trap 'rm -rf "$OUT"' EXIT
fi
# Reachable by unprivileged users, as tests/lib.sh makes its directories.
chmod 755 "$OUT"
mkdir "$OUT/t" "$OUT/gen" "$OUT/sh" || exit 1
trap 'exit 1' HUP INT TERM PIPE

# The list of case files; generators write theirs into $OUT/gen.
for c in "$@"; do
	case $c in
	*/*) ;;
	*.gen) c=$CASEDIR/$c ;;
	*) c=$CASEDIR/${c%.case}.case ;;
	esac
	case $c in
	*.gen)
		sh "$c" "$OUT/gen" || echo "$c" >> "$OUT/broken"
		;;
	*)
		printf '%s\n' "$c"
		;;
	esac
done > "$OUT/list"
for c in "$OUT"/gen/*.case; do
	[ -f "$c" ] && printf '%s\n' "$c"
done >> "$OUT/list"

# Certificates for the TLS cases, made once for all of them.
if [ -n "$(tr '\n' '\0' < "$OUT/list" | xargs -0 grep -l '^%tls' 2>/dev/null)" ]; then
	CERTS=$OUT/certs
	export CERTS
	# shellcheck source=tests/certs.sh
	. "$srcdir/tests/certs.sh"
	if ! make_certs "$CERTS" > "$OUT/certs.log" 2>&1; then
		cat "$OUT/certs.log"
		echo "FAIL: $ME: cannot make the test certificates"
		echo "$ME: 0 passed, 1 failed"
		exit 1
	fi
fi

# Every case translated at once: $OUT/sh/NAME.sh.
broken=0
if [ -s "$OUT/broken" ]; then
	echo "FAIL: $ME: a generator failed: $(cat "$OUT/broken")"
	broken=1
fi
tr '\n' '\0' < "$OUT/list" | xargs -0 awk -v out="$OUT/sh" "$CASE2SH" || {
	echo "FAIL: $ME: a case file does not translate"
	broken=$((broken + 1))
}

# Each case's output goes to its own file; all are shown in order after.
# Batches of four cases, JOBS batches at a time, each batch one process
# (cases are subshells of it) under a time limit.
export srcdir POPFETCH TESTPOP3D
tr '\n' '\0' < "$OUT/list" |
	xargs -0 -n 4 -P "$JOBS" timeout 600 sh "$srcdir/tests/cases.sh" --some "$OUT"

# A case's last line holds its totals; shown here as a comment, so that
# only the sum below reads as totals.
while IFS= read -r c; do
	o=$OUT/${c##*/}.out
	[ -s "$o" ] || echo "(no output)" > "$o"
	printf '%s\n' "$o"
done < "$OUT/list" > "$OUT/outs"
tr '\n' '\0' < "$OUT/outs" | xargs -0 awk -v me="$ME" -v failed="$broken" '
function done_file(   i) {
	for (i = 1; i < n; i++) print l[i]
	if (l[n] ~ /^[^ ]*: [0-9]+ passed, [0-9]+ failed$/) {
		split(l[n], w, " ")
		passed += w[2]
		failed += w[4]
		print "# " l[n]
	} else {
		print l[n]
		print "FAIL: " name ": ended without its totals (killed after 600 s?)"
		failed++
	}
	n = 0
}
FNR == 1 && NR > 1 { done_file() }
FNR == 1 { name = FILENAME; sub(/.*\//, "", name); sub(/\.out$/, "", name) }
{ l[++n] = $0 }
END {
	if (n > 0) done_file()
	printf "%s: %d passed, %d failed\n", me, passed, failed
	exit failed > 0
}'
