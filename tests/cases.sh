#!/bin/sh
# tests/cases.sh -- runs the session test cases, tests/cases/*.case.
#
#   sh tests/cases.sh [CASE...]      every case, or those named (a path,
#                                    or a name such as basic-fetch)
#
# A case is a small data file (the format is in tests/cases/README). Each
# runs in its own process with its own test directory and --stdio test
# server (tests/lib.sh), POPFETCH_JOBS of them at a time (default: the
# number of processors); their output is printed in order, and the last
# line counts the checks of all of them. POPFETCH_KEEP_TMP keeps the test
# directories.

set -u
: "${srcdir:=.}"
CASEDIR=$srcdir/tests/cases

# ---- the translation of a case file into shell (awk) ----
# Directives become calls of the d_* functions below; a data block becomes
# a quoted here-document on its directive's standard input, a %sh block
# stays shell. Errors name the file and line.
CASE2SH='
function die(m) { printf "%s:%d: %s\n", FILENAME, FNR, m > "/dev/stderr"; bad = 1; exit 1 }
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
	for (i = 1; i <= n; i++) print lines[i]
	if (blk != "sh") print "@@CASE_END@@"
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
		if (name == "sh") print "d_line " FNR
		else print "d_line " FNR "; d_" fn " " rest " <<" q "@@CASE_END@@" q
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
		print "d_line " FNR "; d_" fn " " rest
	} else
		die("unknown directive %" name)
	next
}
blk != "" { if (substr($0, 1, 2) == "%%") $0 = substr($0, 2); lines[++n] = $0; next }
/^#/ || /^[ \t]*$/ { next }
{ die("text outside a data block") }
END { if (!bad) flush(0) }
'

# ---- the directives ----

LINE=0
RUN=0
STEP=
NEXT_STEP=
NEXT_CRASH=
MBOX=
MDA=
ORIG=

d_line() { LINE=$1; }

# The name of the check: the case, the run it is about, what it checks.
what() {
	printf '%s #%s%s: %s' "$ME" "$RUN" "${STEP:+ ($STEP)}" "$*"
}
pass() { ok "$(what "$@")"; }
flunk() {
	fail "$(what "$@") [line $LINE]"
}
verdict() {  # verdict STATUS WHAT: pass or flunk by STATUS.
	if [ "$1" -eq 0 ]; then pass "$2"; else flunk "$2"; fi
}

# place WORD: new, tmp, cur (of $MD), drop, orig (the maildrop before the
# first run), mda, mbox, optionally followed by /NAME; else WORD itself.
place() {
	case $1 in
	new | new/* | tmp | tmp/* | cur | cur/*) printf '%s/%s' "$MD" "$1" ;;
	drop) printf '%s' "$DROP" ;;
	drop/*) printf '%s/%s' "$DROP" "${1#drop/}" ;;
	orig) printf '%s' "$ORIG" ;;
	orig/*) printf '%s/%s' "$ORIG" "${1#orig/}" ;;
	mda) printf '%s' "$MDA" ;;
	mda/*) printf '%s/%s' "$MDA" "${1#mda/}" ;;
	mbox) printf '%s' "$MBOX" ;;
	*) printf '%s' "$1" ;;
	esac
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
	if [ ! -d "$ORIG" ]; then
		cp -r "$DROP" "$ORIG"
	fi
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
d_session() {
	last_session > "$TESTDIR/got"
	same_text "exactly these commands" "$TESTDIR/got"
}
# matches WHAT MIN MAX ERE FILE: MIN to MAX lines of FILE match ERE.
matches() {
	_n=$(grep -acE -- "$4" "$5" 2>/dev/null)
	if [ "$_n" -ge "$2" ] && { [ "$3" = any ] || [ "$_n" -le "$3" ]; }; then
		pass "$1"
	else
		flunk "$1 ($_n lines)"
	fi
}
d_session_has() { last_session > "$TESTDIR/got"; matches "the session has /$1/" 1 any "$1" "$TESTDIR/got"; }
d_session_lacks() { last_session > "$TESTDIR/got"; matches "the session lacks /$1/" 0 0 "$1" "$TESTDIR/got"; }
d_session_count() { last_session > "$TESTDIR/got"; matches "$1 session lines match /$2/" "$1" "$1" "$2" "$TESTDIR/got"; }
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
	_n=$(count_files "$(place "$1")")
	[ "$_n" -eq "$2" ]
	verdict $? "$2 files in $1 (found $_n)"
}
d_same() {
	same_contents "$(place "$1")" "$(place "$2")"
	verdict $? "$1 and $2 hold the same contents, byte for byte"
}
d_subset() {
	_missing=0
	for _f in "$(place "$1")"/*; do
		[ -e "$_f" ] || continue
		has_copy "$_f" "$(place "$2")" || _missing=$((_missing + 1))
	done
	[ "$_missing" -eq 0 ]
	verdict $? "every file in $1 is byte-identical to one in $2 ($_missing not)"
}
d_copy() {
	has_copy "$(place "$1")" "$(place "$2")"
	verdict $? "$2 holds a byte-identical copy of $1"
}
d_grep_files() {
	_n=0
	for _f in "$(place "$1")"/*; do
		[ -f "$_f" ] || continue
		grep -qaE -- "$3" "$_f" && _n=$((_n + 1))
	done
	[ "$_n" -eq "$2" ]
	verdict $? "$2 files in $1 match /$3/ (found $_n)"
}
d_exists() {
	[ -e "$(place "$1")" ]
	verdict $? "${1#"$TESTDIR"/} exists"
}
d_absent() {
	[ ! -e "$(place "$1")" ]
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
	# shellcheck source=tests/lib.sh
	. "$srcdir/tests/lib.sh"
	MBOX=$TESTDIR/mbox
	MDA=$TESTDIR/mda
	ORIG=$TESTDIR/orig
	mkdir -p "$MDA"
	awk "$CASE2SH" "$CASE" > "$TESTDIR/case.sh" ||
		bail "$ME: the case file does not translate"
	# shellcheck disable=SC1091 # generated
	. "$TESTDIR/case.sh"
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

# CASES_NAME: the name on the totals line (for a script that generates
# cases and runs them here).
ME=${CASES_NAME:-cases}
if [ $# -eq 0 ]; then
	set -- "$CASEDIR"/*.case
fi
JOBS=${POPFETCH_JOBS:-$(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 1)}
OUT=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-cases.XXXXXX") || exit 1
trap 'rm -rf "$OUT"' EXIT
trap 'exit 1' HUP INT TERM PIPE

for c in "$@"; do
	case $c in
	*/*) ;;
	*) c=$CASEDIR/${c%.case}.case ;;
	esac
	printf '%s\n' "$c"
done > "$OUT/list"

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

# Each case's output goes to its own file; all are shown in order after.
# Batches of four cases, JOBS batches at a time, each batch one process
# (cases are subshells of it) under a time limit.
export srcdir POPFETCH TESTPOP3D
tr '\n' '\0' < "$OUT/list" |
	xargs -0 -n 4 -P "$JOBS" timeout 600 sh "$srcdir/tests/cases.sh" --some "$OUT"

# A case's last line holds its totals; shown here as a comment, so that
# only the sum below reads as totals.
passed=0
failed=0
while IFS= read -r c; do
	o=$OUT/${c##*/}.out
	last=$(tail -n 1 "$o" 2>/dev/null)
	sed '$d' "$o" 2>/dev/null
	case $last in
	*": "*" passed, "*" failed")
		p=${last##*: }
		p=${p%% passed*}
		f=${last##*passed, }
		f=${f%% failed}
		passed=$((passed + p))
		failed=$((failed + f))
		echo "# $last"
		;;
	*)
		echo "$last"
		echo "FAIL: ${c##*/}: ended without its totals (killed after 600 s?)"
		failed=$((failed + 1))
		;;
	esac
done < "$OUT/list"
echo "$ME: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
