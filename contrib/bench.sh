#!/bin/sh
# SPDX-License-Identifier: ISC
# contrib/bench.sh -- the performance benchmark: popfetch and other POP3
# fetchers against the fastest possible session, on a private dovecot.
#
# usage: contrib/bench.sh [--pairs N] [--quick] [--cases LIST] [--peers LIST]
#                         [--no-counts] [--no-callgrind] [--prep-cap S]
#                         [--counts-dir D] [--out FILE]
#
#   --pairs N       paired runs per client and case (default 5)
#   --quick         small mailboxes, one pair and mpop as the only peer
#                   (unless --peers): a smoke test of about a minute
#   --cases LIST    comma-separated, from: maildir mbox big seen10k seen100k
#                   tls (default: all)
#   --peers LIST    comma-separated, from: mpop fetchmail getmail6 fdm
#                   (default: all that are installed, mpop for --quick);
#                   "none" for popfetch alone
#   --no-counts     skip the system-call and instruction counts of popfetch
#   --no-callgrind  count system calls but not instructions (callgrind is
#                   the slow part of the counts)
#   --prep-cap S    leave a client out of a nothing-new case when its
#                   preparing full run would take longer than S seconds,
#                   judged by its speed in an earlier case (default 600)
#   --counts-dir D  keep the strace -c summaries and callgrind files of the
#                   counts in D (for callgrind_annotate)
#   --out FILE      also write the report (Markdown) to FILE
#   POPFETCH=PATH   (environment) the popfetch binary to measure (default:
#                   src/popfetch of this tree)
#
# The cases (--quick counts in brackets):
#   maildir   10,000 [100] messages of ~4 KB into a Maildir
#   mbox      the same into an mbox
#   big       200 [4] messages of 1 MiB into a Maildir
#   seen10k   nothing new: the 10,000 [100] messages, all seen before
#   seen100k  nothing new: 100,000 [500] messages of ~1 KB, all seen before
#   tls       2,000 [100] messages of ~4 KB into a Maildir over implicit TLS
#             (pop3s)
# Mail stays on the server (no client deletes), so every run sees the same
# mailbox.  A fetch case starts each run from an empty target and empty
# state; a nothing-new case from the state left by one full, untimed,
# checked run of the same client (its delivered mail removed), so each
# timed run must deliver nothing.
#
# The limit.  A raw pipelined POP3 session: the commands of a whole fetch
# (USER, PASS, RETR 1..N, QUIT; for nothing-new USER, PASS, UIDL, QUIT)
# written at once by socat, the replies read and thrown away (/dev/null),
# over TCP or, for tls, socat's OPENSSL address.  No client can move the
# mailbox faster than the server sends it, so it is the floor, and the
# unit: every client time is a ratio against a limit run.
#
# The RSS floor.  contrib/rssfloor.c, built here against the libraries
# popfetch uses, plays the limit session in C with a 16 KiB buffer (with
# OpenSSL and the server's certificate verified for tls) after committing
# one record to a Berkeley DB environment opened as popfetch opens its
# store.  It keeps, parses and delivers nothing, so its peak RSS (the
# median of three runs) is what glibc, Berkeley DB 5.3, OpenSSL 3 and the
# kernel's mapping of their pages cost before a client adds anything of
# its own: the floor under any client on this stack.  Peers on other
# libraries (mpop's GnuTLS) have other floors.
#
# Pairing.  Each client run is preceded by its own limit run (L A L B L C
# ...), and the ratio is taken within that pair, so a slow moment of a
# shared machine slows both and cancels.  A table cell shows the client's
# median time, the median of its paired ratios, and the median of its peak
# RSS (GNU time's %M, the largest process, children included: fetchmail's
# procmail, getmail6's and fdm's helpers).
#
# Checks.  Every run's delivery is checked against the generated messages:
# the Maildir files (or the messages split out of the mbox, with its From_
# lines removed and mboxrd/mboxo ">From " quoting undone) must be the same
# multiset of SHA-256 sums as the sources.  Peers are set up not to add a
# Received:/Delivered-To: header (mpop received_header off, fdm no-received,
# getmail6 received/delivered_to false, fetchmail invisible), so they are
# held to the same byte-for-byte check; should one add a trace field
# anyway (Received, Return-Path, Delivered-To, X-Original-To) the check
# removes the added fields, compares the rest byte for byte and calls the
# result "modified", which passes for a peer and fails for popfetch; so
# does one empty line added at the end of each message (fdm's mbox).  A
# nothing-new run must deliver nothing.  The limit session is checked once
# per case (every RETR answered, all bytes received).
#
# Counts (popfetch only; they do not depend on machine noise): one more run
# per case under "strace -f -c" gives system calls per message (fsync
# family: fsync, fdatasync, syncfs, sync, the calls that wait for the
# disk; sync_file_range, which starts write-back without waiting, is in the
# list of the most frequent calls; read, write, poll,
# openat, rename family, getpid, all), and one under callgrind gives
# user-space instructions per message ("perf stat -e instructions" is used
# instead when this machine's perf counts instructions; it says which).
# For the nothing-new cases "per message" is per message listed.  Under
# valgrind, OpenSSL may not find the CPU's SHA or AVX-512 extensions
# (valgrind's CPU does not offer them all) and take slower code, so
# callgrind can overstate what its digests and ciphers cost on the real
# CPU; the program's own code is counted as it runs.
# --counts-dir keeps the files for callgrind_annotate.
#
# Fairness: all clients log in with USER/PASS to 127.0.0.1, run as the
# unprivileged user popfetch-test when this runs as root (dovecot.sh makes
# it; getmail6 refuses to deliver as root), with HOME set to a private temp
# dir so that no rc file of the user's is read, one at a time.  Passwords
# live in 0600 files (popfetch's --password-file, the peers' rc files, the
# limit's command file), never on a command line.  Each mailbox is warmed
# (dovecot's index, cache and sizes, the page cache) by an untimed
# pipelined session of STAT, LIST, UIDL and every RETR before any
# measurement.  Wall time is taken with date +%s%N around "timeout
# /usr/bin/time CLIENT", the same few ms of wrapper for every client and
# the limit.
#
# Known peer trouble: getmail6 6.18 forks a delivery child per message and
# waits for its SIGCHLD on a condition variable; when the signal comes
# before the wait, it waits out its timeout and fails with "waiting child
# pid N timed out" (seen in long runs on a loaded machine).
#
# Requires: dovecot-core + dovecot-pop3d, socat, openssl, GNU time, a C
# compiler with popfetch's build dependencies (for rssfloor)
# (package time), strace and valgrind for the counts, setpriv (util-linux)
# when run as root; peers from Debian: mpop, fetchmail (+ procmail), getmail6,
# fdm.  It installs nothing: a missing peer is reported and skipped.
# Exit status: 0 when every run of every client succeeded and passed its
# check, 1 if any failed (the report still shows the rest), 2 on a usage or
# setup error.

set -u
# Byte semantics for awk, sort and the generated text.
LC_ALL=C
export LC_ALL

me=contrib/bench.sh
here=$(cd "$(dirname "$0")" && pwd -P) || exit 1
top=$(dirname "$here")
POPFETCH=${POPFETCH:-$top/src/popfetch}

PAIRS=5
QUICK=
ALL_CASES="maildir mbox big seen10k seen100k tls"
ALL_PEERS="mpop fetchmail getmail6 fdm"
CASES=$ALL_CASES
PEERS=
PEERS_SET=
COUNTS=yes
CALLGRIND=yes
OUT=
COUNTS_DIR=
PREP_CAP=600
CAP=900		# seconds, per run

usage() {
	sed -n '5,28s/^# \{0,1\}//p' "$0"
}

die() {
	printf '%s: %s\n' "$me" "$*" >&2
	exit 2
}

is_count() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	return 0
}

# in_list WORD LIST: true if WORD is one of the words of LIST.
in_list() {
	case " $2 " in *" $1 "*) return 0 ;; esac
	return 1
}

while [ $# -gt 0 ]; do
	case $1 in
	--pairs | --cases | --peers | --out | --prep-cap | --counts-dir)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		--pairs) PAIRS=$2; PAIRS_SET=yes ;;
		--cases) CASES=$(printf '%s' "$2" | tr ',' ' ') ;;
		--peers) PEERS=$(printf '%s' "$2" | tr ',' ' '); PEERS_SET=yes ;;
		--out) OUT=$2 ;;
		--prep-cap) PREP_CAP=$2 ;;
		--counts-dir) COUNTS_DIR=$2 ;;
		esac
		shift 2 ;;
	--pairs=* | --cases=* | --peers=* | --out=* | --prep-cap=* | --counts-dir=*)
		v=${1#*=}
		case $1 in
		--pairs=*) PAIRS=$v; PAIRS_SET=yes ;;
		--cases=*) CASES=$(printf '%s' "$v" | tr ',' ' ') ;;
		--peers=*) PEERS=$(printf '%s' "$v" | tr ',' ' '); PEERS_SET=yes ;;
		--out=*) OUT=$v ;;
		--prep-cap=*) PREP_CAP=$v ;;
		--counts-dir=*) COUNTS_DIR=$v ;;
		esac
		shift ;;
	--quick) QUICK=yes; shift ;;
	--no-counts) COUNTS=; shift ;;
	--no-callgrind) CALLGRIND=; shift ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
if ! is_count "$PAIRS" || [ "$PAIRS" -lt 1 ]; then
	die "--pairs wants a number, at least 1"
fi
[ -n "$QUICK" ] && [ -z "${PAIRS_SET:-}" ] && PAIRS=1
is_count "$PREP_CAP" || die "--prep-cap wants a number of seconds"
for c in $CASES; do
	in_list "$c" "$ALL_CASES" || die "unknown case '$c' (cases: $ALL_CASES)"
done
[ -n "$CASES" ] || die "--cases is empty"
[ "$PEERS" = none ] && PEERS=
for p in $PEERS; do
	in_list "$p" "$ALL_PEERS" || die "unknown peer '$p' (peers: $ALL_PEERS, or none)"
done
if [ -n "$COUNTS_DIR" ]; then
	mkdir -p "$COUNTS_DIR" || die "cannot make $COUNTS_DIR"
fi
if [ -n "$OUT" ]; then
	# Fail now rather than after the long run.
	: >>"$OUT" || die "cannot write $OUT"
fi

# The mailboxes.
if [ -n "$QUICK" ]; then
	N_SMALL=100 N_BIG=4 N_MANY=500 N_TLS=100
else
	N_SMALL=10000 N_BIG=200 N_MANY=100000 N_TLS=2000
fi
SIZE_SMALL=4096
SIZE_BIG=1048576
SIZE_MANY=1024

# ---- Prerequisites ----------------------------------------------------

[ -x "$POPFETCH" ] || die "$POPFETCH is not built: run make in $top"
case $POPFETCH in /*) ;; *) POPFETCH=$(pwd -P)/$POPFETCH ;; esac
# GNU time: BusyBox's and the shell keyword know no -f/-o.
if [ ! -x /usr/bin/time ] || ! /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
	die "GNU time is missing: apt-get install -y time"
fi
for t in socat timeout sha256sum awk; do
	command -v "$t" >/dev/null 2>&1 || die "$t is missing (Debian: socat, coreutils, mawk)"
done
if in_list tls "$CASES"; then
	command -v openssl >/dev/null 2>&1 || die "openssl is missing (Debian: openssl)"
fi
if [ -n "$COUNTS" ]; then
	command -v strace >/dev/null 2>&1 || die "strace is missing (apt-get install -y strace), or use --no-counts"
	# perf when it counts instructions here (in many VMs it cannot), else
	# callgrind.
	INSTR=
	if [ -n "$CALLGRIND" ]; then
		if command -v perf >/dev/null 2>&1 &&
		   perf stat -x, -e instructions:u true 2>&1 >/dev/null | grep -q '^[0-9]'; then
			INSTR=perf
		elif command -v valgrind >/dev/null 2>&1; then
			INSTR=callgrind
		else
			die "neither perf (counting instructions) nor valgrind is here: apt-get install -y valgrind, or use --no-callgrind"
		fi
	fi
fi

# The peers, in table order after popfetch.
if [ -z "$PEERS_SET" ]; then
	# The others take seconds for even the small mailboxes.
	if [ -n "$QUICK" ]; then PEERS=mpop; else PEERS=$ALL_PEERS; fi
fi
CLIENTS=popfetch
MISSING=
for p in $PEERS; do
	case $p in getmail6) cmd=getmail ;; *) cmd=$p ;; esac
	if command -v "$cmd" >/dev/null 2>&1; then
		CLIENTS="$CLIENTS $p"
	else
		MISSING="$MISSING $p"
		printf '%s: %s is not installed (Debian package %s); skipping it\n' \
			"$me" "$cmd" "$p" >&2
	fi
done

# ---- Work dir, dovecot, cleanup --------------------------------------

WORK=
CHILD=
cleanup() {
	# A client still running (we were interrupted): end it by its pid.
	# timeout passes TERM on to the client's whole process group.
	if [ -n "$CHILD" ]; then
		kill -TERM "$CHILD" 2>/dev/null
		wait "$CHILD" 2>/dev/null
	fi
	dovecot_stop || printf '%s: could not stop dovecot\n' "$me" >&2
	[ -n "$WORK" ] && rm -rf "$WORK"
}
# shellcheck source=SCRIPTDIR/../tests/dovecot.sh
. "$here/../tests/dovecot.sh"
# shellcheck source=SCRIPTDIR/../tests/certs.sh
. "$here/../tests/certs.sh"
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-bench.XXXXXX") || exit 1
# Run as root, dovecot's unprivileged user must reach its dir below here.
chmod 0711 "$WORK"
SRC=$WORK/src		# the generated messages of the current mailbox

# Who runs the clients.  As root: the unprivileged user that dovecot.sh
# makes (popfetch-test), through setpriv, which execs and so adds no
# process.
BENCH_USER=$(id -un)
RUNAS=
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || die "setpriv (util-linux) is missing"
	BENCH_USER=$DOVECOT_TEST_SYSUSER
	if ! id "$BENCH_USER" >/dev/null 2>&1; then
		useradd --system --no-create-home --shell /usr/sbin/nologin \
			"$BENCH_USER" >/dev/null 2>&1 || die "cannot create user $BENCH_USER"
	fi
	RUNAS="setpriv --reuid=$(id -u "$BENCH_USER") --regid=$(id -g "$BENCH_USER") --clear-groups"
fi

# The RSS floor's program, built as the bench user can run it.
FLOOR=$WORK/rssfloor
if ! ${CC:-cc} -O2 -o "$FLOOR" "$here/rssfloor.c" -lssl -lcrypto -ldb 2>"$WORK/rssfloor.log"; then
	sed 's/^/| /' "$WORK/rssfloor.log" >&2
	die "cannot build contrib/rssfloor.c (needs cc, libssl-dev, libdb-dev: popfetch's build dependencies)"
fi
chmod 0755 "$FLOOR"

# ---- The mailbox ------------------------------------------------------

# generate N SIZE BIGN BIGSIZE: writes $SRC/msg-NNNNNN (N messages of about
# SIZE bytes, then BIGN of BIGSIZE) and $SRC.index ("Message-ID<TAB>path"
# per line), in one awk process: 100,000 messages take seconds.  A
# Park-Miller generator with a fixed seed, not awk's rand(), so that mawk
# and gawk make the same mailbox.
generate() {
	rm -rf "$SRC" "$SRC.index" && mkdir "$SRC" || return 1
	awk -v n="$1" -v size="$2" -v big="$3" -v bigsize="$4" \
	    -v dir="$SRC" -v index_file="$SRC.index" '
	function rnd(k) { seed = (seed * 16807) % 2147483647; return seed % k }
	function pick(a, k) { return a[1 + rnd(k)] }
	function hex(k) { return substr(RHEX, 1 + rnd(65536 - k), k) }
	function b64(k) { return substr(RB64, 1 + rnd(65536 - k), k) }
	# RFC 5322 date of Unix time t, in UTC (civil-from-days).
	function date822(t,   days, secs, z, era, doe, yoe, y, doy, mp, d, m) {
		days = int(t / 86400); secs = t - days * 86400
		z = days + 719468; era = int(z / 146097); doe = z - era * 146097
		yoe = int((doe - int(doe / 1460) + int(doe / 36524) - int(doe / 146096)) / 365)
		y = yoe + era * 400; doy = doe - (365 * yoe + int(yoe / 4) - int(yoe / 100))
		mp = int((5 * doy + 2) / 153); d = doy - int((153 * mp + 2) / 5) + 1
		m = mp < 10 ? mp + 3 : mp - 9; if (m <= 2) y++
		return sprintf("%s, %d %s %d %02d:%02d:%02d +0000", WD[(days + 4) % 7 + 1],
			d, MON[m], y, int(secs / 3600), int(secs % 3600 / 60), secs % 60)
	}
	function out(s) { print s > f; bytes += length(s) + 1 }
	function text_line(   s, w) {
		s = pick(WORDS, nw); sub(/^./, toupper(substr(s, 1, 1)), s)
		while (length(s) < 58 + rnd(14)) {
			w = pick(WORDS, nw); s = s " " w
			if (rnd(12) == 0) s = s ","
		}
		sub(/,$/, "", s)
		return s "."
	}
	# A body line; now and then one that POP3 must dot-stuff, or an mbox
	# "From " line, or a quote.
	# Drawn from a pool of 8192 such lines, made once.
	function body_line() { return BPOOL[1 + rnd(8192)] }
	function make_body_line(   r) {
		r = rnd(60)
		if (r == 0) return "."
		if (r == 1) return ".."
		if (r == 2) return ".hidden files in the home directory are not copied."
		if (r == 3) return "...and that was the end of it."
		if (r == 4) return "From the minutes of the last meeting:"
		if (r < 9) return "> " text_line()
		if (r < 12) return ""
		return text_line()
	}
	function header(i, t, ct,   d, who, addr, dom, subj, mid, k) {
		dom = pick(DOMS, nd); who = pick(FIRST, nf) " " pick(LAST, nl)
		# Addresses are ASCII; a display name with UTF-8 is RFC 2047 encoded.
		addr = tolower(who); gsub(/ /, ".", addr); gsub(/ü/, "ue", addr); gsub(/ë/, "e", addr)
		addr = addr "@" dom
		if (who ~ /[ëü]/) {
			gsub(/ /, "_", who); gsub(/ü/, "=C3=BC", who); gsub(/ë/, "=C3=AB", who)
			who = "=?UTF-8?Q?" who "?="
		}
		mid = "<" t "." sprintf("%06d", i) "." hex(6) "@" dom ">"
		print mid "\t" f > index_file
		d = date822(t)
		out("Return-Path: <" addr ">")
		out("Delivered-To: test@bench.example")
		k = "mx" (1 + rnd(3)) "." dom
		out("Received: from " k " (" k " [192.0.2." (1 + rnd(254)) "])")
		out("\tby mail.bench.example (Postfix) with ESMTPS id " hex(10))
		out("\tfor <test@bench.example>; " date822(t + 2 + rnd(5)))
		if (rnd(2)) {
			out("Received: from [198.51.100." (1 + rnd(254)) "] (unknown [198.51.100." (1 + rnd(254)) "])")
			out("\tby mx." dom " (Postfix) with ESMTPSA id " hex(10) ";")
			out("\t" d)
		}
		out("DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=" dom ";")
		out("\ts=mail2023; t=" t "; bh=" b64(43) "=;")
		out("\th=From:To:Subject:Date:Message-ID:MIME-Version;")
		out("\tb=" b64(70)); out("\t " b64(70)); out("\t " b64(30) "==")
		out("From: " (who ~ /^=\?/ ? who : "\"" who "\"") " <" addr ">")
		out("To: Bench Test <test@bench.example>")
		if (rnd(3) == 0) { k = pick(FIRST, nf); sub(/ë/, "e", k); out("Cc: " k " <" tolower(k) "@" pick(DOMS, nd) ">") }
		subj = pick(SUBJ, ns) " (#" (1000 + i) ")"
		if (rnd(2)) subj = "Re: " subj
		if (rnd(4) == 0) { subj = "[dev] " subj; out("List-Id: Developers <dev.lists.example.org>") }
		out("Subject: " subj)
		out("Date: " d)
		out("Message-ID: " mid)
		if (rnd(2)) {
			out("In-Reply-To: <" (t - 3600) ".parent." hex(6) "@" pick(DOMS, nd) ">")
			out("References: <" (t - 7200) ".root." hex(6) "@" pick(DOMS, nd) ">")
			out("\t<" (t - 3600) ".parent." hex(6) "@" pick(DOMS, nd) ">")
		}
		if (rnd(3) == 0) out("X-Mailer: " pick(MUA, nm))
		out("MIME-Version: 1.0")
		if (ct == "") {
			out("Content-Type: text/plain; charset=utf-8; format=flowed")
			out("Content-Transfer-Encoding: 8bit")
		} else {
			out("Content-Type: multipart/mixed; boundary=\"" ct "\"")
		}
		out("")
	}
	# One message of about target bytes; an attachment takes share/4 of it.
	function message(i, t, target, share,   ct, k) {
		f = sprintf("%s/msg-%06d", dir, i); bytes = 0
		ct = share > 0 ? "=-bench-" hex(16) : ""
		header(i, t, ct)
		if (ct != "") {
			out("This is a multi-part message in MIME format.")
			out(""); out("--" ct)
			out("Content-Type: text/plain; charset=utf-8"); out("Content-Transfer-Encoding: 8bit"); out("")
		}
		out("Hello,"); out("")
		while (bytes < target * (4 - share) / 4) out(body_line())
		out(""); out("-- "); out(pick(FIRST, nf) " | Grüße aus dem Büro")
		if (ct != "") {
			out(""); out("--" ct)
			out("Content-Type: application/pdf; name=\"report-" i ".pdf\"")
			out("Content-Disposition: attachment; filename=\"report-" i ".pdf\"")
			out("Content-Transfer-Encoding: base64"); out("")
			# Lines from a pool: random per character would be slow for
			# 5 MiB, and no client cares whether the PDF is real.
			while (bytes < target - 80) out(POOL[1 + rnd(4096)])
			out(substr(POOL[1 + rnd(4096)], 1, 40) "==")
			out(""); out("--" ct "--")
		}
		close(f)
	}
	BEGIN {
		seed = 20240229
		B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
		# Random text to cut pieces from: a character at a time for each
		# message would make 100,000 messages slow.
		RHEX = ""; RB64 = ""
		for (k = 0; k < 1024; k++) {
			s64 = ""; s16 = ""
			for (j = 0; j < 64; j++) {
				s64 = s64 substr(B64, 1 + rnd(64), 1)
				s16 = s16 substr("0123456789ABCDEF", 1 + rnd(16), 1)
			}
			RB64 = RB64 s64; RHEX = RHEX s16
		}
		split("Thu Fri Sat Sun Mon Tue Wed", WD, " ")
		split("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec", MON, " ")
		nw = split("the of and to a in is it that for on with as was be by this are " \
			"from at or have not but an they which we will can all there been " \
			"release build server mailbox message patch review report draft meeting " \
			"schedule budget quarter results deadline naïve café résumé network " \
			"latency queue retry timeout config test failure fixed merged branch " \
			"customer invoice shipment warehouse contract proposal agenda minutes " \
			"please thanks regards tomorrow yesterday Monday Friday soon later " \
			"attached below above again still only also just very much more less", WORDS, " ")
		nf = split("Alice Bob Carol Dave Erin Frank Grace Heidi Ivan Judy Mallory Niaj " \
			"Olivia Peggy Rupert Sybil Trent Victor Walter Zoë", FIRST, " ")
		nl = split("Kowalski Smith Müller Rossi Dubois Novak Silva Jensen Tanaka Okafor " \
			"Larsen Ivanova Schmidt Garcia Brown Nakamura", LAST, " ")
		nd = split("example.org example.com example.net lists.example.org mail.example.com", DOMS, " ")
		ns = split("quarterly report draft|build failure on the release branch|meeting notes|" \
			"invoice for March|server migration plan|please review the patch|" \
			"holiday schedule|budget 2023|customer feedback|timeout in the mail queue", SUBJ, "|")
		nm = split("Mozilla Thunderbird 115.3|Evolution 3.46|Mutt 2.2.9|Claws Mail 4.1.1|Apple Mail (2.3731)", MUA, "|")
		for (k = 1; k <= 4096; k++) POOL[k] = b64(76)
		for (k = 1; k <= 8192; k++) BPOOL[k] = make_body_line()
		t = 1678000000
		for (i = 1; i <= n; i++) {
			t += 60 + rnd(1200)
			# One in four has an attachment; sizes spread 0.5x..1.5x.
			message(i, t, int(size * (500 + rnd(1001)) / 1000), rnd(4) == 0 ? 3 : 0)
		}
		for (j = 1; j <= big; j++) {
			t += 60 + rnd(1200)
			message(n + j, t, bigsize, 3.9)
		}
		close(index_file)
	}'
}

# ---- Measuring --------------------------------------------------------

# ns_to_s NANOSECONDS: seconds with 3 decimals.
ns_to_s() {
	printf '%d.%03d' $(($1 / 1000000000)) $(($1 / 1000000 % 1000))
}

# measure DIR IN OUT COMMAND...: runs COMMAND as $BENCH_USER, capped at $CAP
# seconds, with HOME=DIR, standard input from IN, standard output to OUT,
# standard error appended to DIR/log; sets M_RC, M_WALL (s) and M_RSS (KB).
# Run in the background and waited for, so that a signal to this script is
# handled at once (cleanup ends the client) rather than after the client
# finishes.
measure() {
	_m_dir=$1 _m_in=$2 _m_out=$3
	shift 3
	rm -f "$_m_dir/time.out"
	_m_t0=$(date +%s%N)
	# shellcheck disable=SC2086 # $RUNAS is a command and its arguments
	# TMPDIR too: the caller's may not be writable by the bench user
	# (valgrind's temporary files went nowhere, and no instructions
	# were counted).
	HOME=$_m_dir FETCHMAILHOME=$_m_dir TMPDIR=$_m_dir $RUNAS \
		timeout -k 10 "$CAP" /usr/bin/time -o "$_m_dir/time.out" -f '%e %M' \
		"$@" <"$_m_in" >>"$_m_out" 2>>"$_m_dir/log" &
	CHILD=$!
	wait "$CHILD"
	M_RC=$?
	CHILD=
	_m_t1=$(date +%s%N)
	M_WALL=$(ns_to_s $((_m_t1 - _m_t0)))
	# GNU time writes "Command exited with non-zero status N" first then.
	M_RSS=$(awk 'END { print $2 + 0 }' "$_m_dir/time.out" 2>/dev/null)
	[ -n "$M_RSS" ] || M_RSS=0
	[ "$M_RC" -eq 124 ] && echo "timed out after $CAP s" >>"$_m_dir/log"
	return 0
}

# count_delivered DIR: messages delivered into DIR (its Maildir's new/ and
# cur/, or the From_ lines of its mbox).
count_delivered() {
	if [ "$KIND" = mbox ]; then
		[ -s "$1/mbox" ] || { echo 0; return; }
		grep -c '^From ' "$1/mbox"
	else
		find "$1/Maildir/new" "$1/Maildir/cur" -type f 2>/dev/null | wc -l | tr -d ' '
	fi
}

# sums DIR...: the sorted SHA-256 sums of the regular files under DIR.
sums() {
	find "$@" -type f -exec sha256sum {} + | awk '{ print $1 }' | sort
}

# split_mbox MBOX DIR: one file per message of MBOX in DIR, as it was
# before it went into the mbox: without its From_ line and the blank line
# that ends it, with one ">" taken off each ">From " line (mboxrd and
# mboxo quoting; the generated messages have no ">From " line of their own).
split_mbox() {
	mkdir "$2" || return 1
	awk -v dir="$2" '
	function flush(   k) {
		# All but the last of the blank lines before a From_ line (or
		# the end) belong to the message.
		for (k = 1; k < blanks; k++) print "" > f
		blanks = 0
		close(f)
	}
	/^From / { if (f != "") flush(); n++; f = sprintf("%s/m%06d", dir, n); next }
	f == "" { junk++; next }
	$0 == "" { blanks++; next }
	{
		while (blanks > 0) { print "" > f; blanks-- }
		line = $0
		if (line ~ /^>+From /) line = substr(line, 2)
		print line > f
	}
	END { if (f != "") flush(); exit junk > 0 }' "$1"
}

# check DIR CLIENT: checks the delivery in DIR against the sources in $SRC;
# sets CHECK to "identical", "modified (+Field, ...)" or "no (why)" and
# returns 0 if that passes for CLIENT (popfetch: identical only).
check() {
	set -- "$1" "$2" "$1/Maildir/new" "$1/Maildir/cur"
	if [ "$KIND" = mbox ]; then
		rm -rf "$1/split"
		if ! split_mbox "$1/mbox" "$1/split"; then
			CHECK="no (text before the first From_ line)"
			return 1
		fi
		set -- "$1" "$2" "$1/split"
	fi
	_c_client=$2
	shift 2
	find "$@" -type f >"$WORK/delivered.list" 2>/dev/null
	xargs -r sha256sum <"$WORK/delivered.list" | awk '{ print $1 }' | sort >"$WORK/delivered.sums"
	if cmp -s "$WORK/delivered.sums" "$WORK/src.sums"; then
		CHECK=identical
		return 0
	fi
	CHECK=$(classify)
	case $CHECK in
	"modified ("*)
		[ "$_c_client" != popfetch ] && return 0 ;;
	esac
	return 1
}

# classify: reads $WORK/delivered.list, matches each file to its source by
# Message-ID; a file that is its source plus added header fields (or a
# From_ line) is "modified" if the added fields are trace fields only.
# Prints "modified (+Field, ...)" or "no (why)".
classify() {
	awk -v total="$MSGS" -v index_file="$SRC.index" '
	# Reads FILE into A[1..], returns the number of lines.
	function slurp(file, A,   k, line) {
		k = 0
		while ((getline line < file) > 0) A[++k] = line
		close(file)
		return k
	}
	# Groups the header lines of A[from..] into fields F[1..nf]; sets
	# BODY to the index of the blank line that ends the header.
	function fields(A, na, from, F,   k, nf) {
		nf = 0
		for (k = from; k <= na && A[k] != ""; k++)
			if (nf > 0 && A[k] ~ /^[ \t]/) F[nf] = F[nf] "\n" A[k]
			else F[++nf] = A[k]
		BODY = k
		return nf
	}
	function classify(file,   nd, ns, nfd, nfs, k, j, mid, from, db, sb, cnt, kept, nk, name, extra) {
		delete D; delete S; delete DF; delete SF; delete cnt; delete kept; delete extra
		nd = slurp(file, D)
		from = 1
		if (D[1] ~ /^From /) { extra["From_ line"]++; from = 2 }
		nfd = fields(D, nd, from, DF); db = BODY
		mid = ""
		for (k = 1; k <= nfd; k++)
			if (tolower(DF[k]) ~ /^message-id:/ && match(DF[k], /<[^>]*>/)) {
				mid = substr(DF[k], RSTART, RLENGTH); break
			}
		if (!(mid in SRCOF)) { unknown++; return }
		if (seen[mid]++) dup++
		ns = slurp(SRCOF[mid], S)
		nfs = fields(S, ns, 1, SF); sb = BODY
		for (k = 1; k <= nfs; k++) cnt[SF[k]]++
		nk = 0
		for (k = 1; k <= nfd; k++)
			if (cnt[DF[k]] > 0) { cnt[DF[k]]--; kept[++nk] = DF[k] }
			else {
				name = DF[k]; sub(/:.*/, "", name); sub(/\n.*/, "", name)
				extra[name ~ /^[!-9;-~]+$/ ? name : "?"]++
			}
		# A blank line added at the end (fdm does so in an mbox).
		if (nd - db == ns - sb + 1 && D[nd] == "") { nd--; extra["empty line at the end"]++ }
		if (nk != nfs || nd - db != ns - sb) { differ++; return }
		for (k = 1; k <= nk; k++) if (kept[k] != SF[k]) { differ++; return }
		for (j = 0; db + j <= nd; j++) if (D[db + j] != S[sb + j]) { differ++; return }
		for (name in extra) {
			if (tolower(name) !~ /^(received|return-path|delivered-to|x-original-to|from_ line|empty line at the end)$/) {
				other[name]++; differ++; return
			}
		}
		for (name in extra) added[name]++
	}
	BEGIN {
		while ((getline line < index_file) > 0) {
			split(line, P, "\t"); SRCOF[P[1]] = P[2]
		}
		while ((getline file) > 0) { files++; classify(file) }
		s = ""
		if (differ) s = s ", " differ " differ"
		if (unknown) s = s ", " unknown " unknown"
		if (dup) s = s ", " dup " duplicates"
		if (files - dup - unknown < total) s = s ", " (total - (files - dup - unknown)) " missing"
		for (name in other) s = s ", +" name
		a = ""
		for (name in added) a = a ", +" name (name ~ / / ? "" : ":")
		na = split(substr(a, 3), AL, ", ")
		for (i = 1; i <= na; i++) for (j = i + 1; j <= na; j++)
			if (AL[j] < AL[i]) { tmp = AL[i]; AL[i] = AL[j]; AL[j] = tmp }
		a = ""
		for (i = 1; i <= na; i++) a = a (i > 1 ? ", " : "") AL[i]
		# Same lines, other bytes (awk does not see a missing final
		# newline, a CR is part of a line though).
		if (s == "" && a == "") print "no (bytes differ)"
		else if (s == "") print "modified (" a ")"
		else print "no (" substr(s, 3) (a != "" ? "; " a : "") ")"
	}' <"$WORK/delivered.list"
}

# median FILE: the median of the numbers in FILE, one per line.
median() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END { if (NR == 0) print ""; else print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'
}

# ---- The limit -------------------------------------------------------

# limit_cmds FILE: the whole session's commands, CRLF, in FILE (0600: it
# holds the password).
limit_cmds() {
	(umask 077 && awk -v n="$MSGS" -v seen="$SEEN" -v pass="$DOVECOT_PASSWORD" -v user="$DOVECOT_USER" 'BEGIN {
		printf "USER %s\r\nPASS %s\r\n", user, pass
		if (seen) printf "UIDL\r\n"
		else for (i = 1; i <= n; i++) printf "RETR %d\r\n", i
		printf "QUIT\r\n"
	}' >"$1")
}

# The socat address of the server.
limit_addr() {
	if [ -n "$TLS" ]; then
		echo "OPENSSL:127.0.0.1:$PORT,cafile=$CERTS/ca.pem,verify=1"
	else
		echo "TCP:127.0.0.1:$PORT"
	fi
}
# The commands' end of file is ignored (ignoreeof): TLS has no half-close
# (socat would end the session with a close_notify), so socat keeps the
# connection open until dovecot closes it after QUIT, and then ends at once
# (-t 0).
run_limit() {
	measure "$1" "$1/cmds" "${2:-/dev/null}" socat -t 0 -b 65536 -,ignoreeof "$(limit_addr)"
}

# limit_check DIR: one untimed limit session into a file: every command
# answered, and for RETR at least the mailbox's bytes received.
limit_check() {
	: >"$1/reply"
	run_limit "$1" "$1/reply"
	[ "$M_RC" -eq 0 ] || { LIMIT_ERR="socat exited $M_RC: $(tail -n 1 "$1/log")"; return 1; }
	if [ -n "$SEEN" ]; then
		# The greeting, USER, PASS, UIDL and QUIT, and a line per message.
		_got=$(awk '/^[0-9]+ [^ ]+\r$/ { n++ } END { print n + 0 }' "$1/reply")
		_ok=$(grep -c '^+OK' "$1/reply")
		if [ "$_got" -ne "$MSGS" ] || [ "$_ok" -ne 5 ]; then
			LIMIT_ERR="UIDL listed $_got of $MSGS, $_ok +OK replies (want 5)"
			return 1
		fi
	else
		_ok=$(grep -c '^+OK' "$1/reply")
		_bytes=$(wc -c <"$1/reply")
		if [ "$_ok" -ne $((MSGS + 4)) ] || [ "$_bytes" -lt "$SRC_BYTES" ]; then
			LIMIT_ERR="$_ok +OK replies (want $((MSGS + 4))), $_bytes bytes (want more than $SRC_BYTES)"
			return 1
		fi
	fi
	rm -f "$1/reply"
	return 0
}

# floor_rss DIR: the median peak RSS (KB) of three rssfloor runs playing
# the limit's commands (DIR/cmds), each with a fresh state dir; sets
# FLOOR_RSS (empty if a run failed, FLOOR_ERR then says why).
floor_rss() {
	: >"$1/floor"
	FLOOR_RSS= FLOOR_ERR=
	for _i in 1 2 3; do
		rm -rf "$1/state" && mkdir -m 700 "$1/state" && chown "$BENCH_USER:" "$1/state" || return 1
		if [ -n "$TLS" ]; then
			measure "$1" "$1/cmds" /dev/null "$FLOOR" "$PORT" "$1/state" "$CERTS/ca.pem"
		else
			measure "$1" "$1/cmds" /dev/null "$FLOOR" "$PORT" "$1/state"
		fi
		if [ "$M_RC" -ne 0 ]; then
			FLOOR_ERR="rssfloor exited $M_RC: $(tail -n 1 "$1/log")"
			return 1
		fi
		echo "$M_RSS" >>"$1/floor"
	done
	rm -rf "$1/state"
	FLOOR_RSS=$(median "$1/floor")
}

# ---- The clients ------------------------------------------------------
#
# setup_X DIR writes X's config into DIR (which holds an empty Maildir/ or
# mbox); run_X DIR runs X once through measure; ok_X RC says whether exit
# status RC is success; version_X prints X's version; note_X how X is set
# up.  KIND (maildir or mbox), TLS (empty or yes), PORT and CERTS say what
# the current case wants.  WRAP (popfetch only) is a command that goes
# before the client: strace or valgrind for the counts.
WRAP=

setup_popfetch() {
	(umask 077 && printf '%s\n' "$DOVECOT_PASSWORD" >"$1/password")
}
run_popfetch() {
	_p_dir=$1
	if [ "$KIND" = mbox ]; then
		set -- --mbox "$_p_dir/mbox"
	else
		set -- --maildir "$_p_dir/Maildir"
	fi
	if [ -n "$TLS" ]; then
		set -- "$@" --tls=implicit --tls-trust-file "$CERTS/ca.pem"
	else
		set -- "$@" --no-tls
	fi
	# shellcheck disable=SC2086 # $WRAP is a command and its arguments
	measure "$_p_dir" /dev/null "$_p_dir/log" $WRAP "$POPFETCH" -q --no-received -P "$PORT" \
		-u "$DOVECOT_USER" --password-file "$_p_dir/password" \
		--state-dir "$_p_dir/state" "$@" 127.0.0.1
}
ok_popfetch() { [ "$1" -eq 0 ]; }
note_popfetch() {
	echo "--maildir or --mbox, UIDs in --state-dir, the default --batch, --no-received (as the peers are set up); --tls=implicit --tls-trust-file for tls, else --no-tls."
}
version_popfetch() { "$POPFETCH" --version | awk '{ print $2; exit }'; }

# mpop: keep on, only_new (UIDs in uidls_file), its own maildir or mbox
# delivery, no Received: header; "auth user" is USER/PASS, as popfetch
# does.
setup_mpop() {
	if [ "$KIND" = mbox ]; then _d="mbox $1/mbox"; else _d="maildir $1/Maildir"; fi
	if [ -n "$TLS" ]; then
		_t="tls on
tls_starttls off
tls_trust_file $CERTS/ca.pem"
	else
		_t="tls off"
	fi
	(umask 077 && cat >"$1/mpoprc" <<EOF
account bench
host 127.0.0.1
port $PORT
$_t
auth user
user $DOVECOT_USER
password "$DOVECOT_PASSWORD"
keep on
only_new on
uidls_file $1/uidls
received_header off
delivery $_d
EOF
	)
}
run_mpop() { measure "$1" /dev/null "$1/log" mpop -q -C "$1/mpoprc" bench; }
ok_mpop() { [ "$1" -eq 0 ]; }
note_mpop() {
	echo "delivery maildir/mbox, only_new + uidls_file, keep on, auth user, received_header off; tls on + tls_starttls off + tls_trust_file for tls."
}
version_mpop() { mpop --version | awk '{ print $3; exit }'; }

# fetchmail: keep, uidl (its UID tracking, in the idfile), invisible (no
# Received: header), and an MDA, since fetchmail cannot write a Maildir or
# an mbox itself: procmail with a one-line rc (a trailing slash makes
# DEFAULT a Maildir), a process per message.  sslproto '' turns off the
# STARTTLS attempt on the plaintext port.
setup_fetchmail() {
	# In -m mode procmail writes no From_ line of its own; -f- makes one
	# (needed for an mbox).
	if [ "$KIND" = mbox ]; then
		printf 'DEFAULT=%s/mbox\n' "$1" >"$1/procmailrc"
		_f=-f-
	else
		printf 'DEFAULT=%s/Maildir/\n' "$1" >"$1/procmailrc"
		_f=
	fi
	chmod 600 "$1/procmailrc"
	if [ -n "$TLS" ]; then
		# fetchmail matches the name it connects to against the
		# certificate's common name only, not its IP address entry.
		_t="ssl sslcertck sslcertfile \"$CERTS/ca.pem\" sslcommonname localhost"
	else
		_t="sslproto ''"
	fi
	(umask 077 && cat >"$1/fetchmailrc" <<EOF
set no syslog
set invisible
set idfile "$1/fetchids"
poll 127.0.0.1 protocol pop3 port $PORT uidl auth password
  user "$DOVECOT_USER" there with password "$DOVECOT_PASSWORD" is "$BENCH_USER" here
  keep
  $_t
  mda "$(command -v procmail) $_f -m $1/procmailrc"
EOF
	)
}
run_fetchmail() {
	measure "$1" /dev/null "$1/log" fetchmail -f "$1/fetchmailrc" --pidfile "$1/fetchmail.pid" 127.0.0.1
}
# 1 is "no new mail", the nothing-new answer.
ok_fetchmail() { [ "$1" -eq 0 ] || [ "$1" -eq 1 ]; }
note_fetchmail() {
	echo "uidl + idfile, keep, invisible; mda 'procmail -m RC' with DEFAULT=Maildir/ (for the mbox 'procmail -f- -m RC', DEFAULT=the mbox), a process per message; sslproto '' for plaintext, ssl + sslcertck + sslcertfile + sslcommonname localhost for tls (it does not match IP addresses)."
}
version_fetchmail() {
	fetchmail -V -f /dev/null 2>/dev/null |
		awk '/release/ { v = $NF; sub(/\+.*/, "", v); sub(/\.$/, "", v); print v; exit }'
}

# getmail6: SimplePOP3Retriever (USER/PASS; SimplePOP3SSLRetriever for
# tls), read_all = false (its UID tracking, in the oldmail file under
# --getmaildir), delete = false, Maildir or Mboxrd destination, no added
# header fields.
setup_getmail6() {
	mkdir "$1/getmail"
	if [ "$KIND" = mbox ]; then
		: >"$1/mbox"
		_d="type = Mboxrd
path = $1/mbox"
	else
		_d="type = Maildir
path = $1/Maildir/"
	fi
	if [ -n "$TLS" ]; then
		_r="type = SimplePOP3SSLRetriever
ca_certs = $CERTS/ca.pem"
	else
		_r="type = SimplePOP3Retriever"
	fi
	(umask 077 && cat >"$1/getmailrc" <<EOF
[retriever]
$_r
server = 127.0.0.1
port = $PORT
username = $DOVECOT_USER
password = $DOVECOT_PASSWORD

[destination]
$_d

[options]
verbose = 0
read_all = false
delete = false
received = false
delivered_to = false
EOF
	)
}
run_getmail6() {
	measure "$1" /dev/null "$1/log" getmail --rcfile="$1/getmailrc" --getmaildir="$1/getmail" --quiet
}
ok_getmail6() { [ "$1" -eq 0 ]; }
note_getmail6() {
	echo "SimplePOP3Retriever (SimplePOP3SSLRetriever + ca_certs for tls), Maildir or Mboxrd destination, read_all = false, delete = false, received = false, delivered_to = false."
}
version_getmail6() { getmail --version | awk '{ print $2; exit }'; }

# fdm: a pop3 (pop3s) account with keep and "new-only cache" (its UID
# tracking), a maildir or mbox action, no Received: header.  Its lock file
# is kept out of /var/db and $HOME.  For tls it verifies the certificate
# (verify-certificates) against the bench's CA, which it finds through
# OpenSSL's SSL_CERT_FILE.
setup_fdm() {
	if [ "$KIND" = mbox ]; then _a="mbox \"$1/mbox\""; else _a="maildir \"$1/Maildir\""; fi
	if [ -n "$TLS" ]; then _p=pop3s _v="set verify-certificates"; else _p=pop3 _v=; fi
	(umask 077 && cat >"$1/fdm.conf" <<EOF
set lock-file "$1/fdm.lock"
set no-received
$_v
account "bench" $_p server "127.0.0.1" port $PORT
	user "$DOVECOT_USER" pass "$DOVECOT_PASSWORD"
	new-only cache "$1/fdm.cache" keep
action "inbox" $_a
match all action "inbox"
EOF
	)
}
run_fdm() {
	SSL_CERT_FILE=$CERTS/ca.pem measure "$1" /dev/null "$1/log" fdm -q -f "$1/fdm.conf" fetch
}
ok_fdm() { [ "$1" -eq 0 ]; }
note_fdm() {
	echo "pop3 (pop3s + verify-certificates for tls) account with keep and new-only cache, maildir or mbox action, no-received."
}
version_fdm() {
	fdm -vvv -n -f /dev/null 2>&1 | awk '/^version is:/ { v = $4; sub(/,$/, "", v); print v; exit }'
}

# new_maildir DIR: an empty Maildir, private.
new_maildir() {
	mkdir -m 700 "$1" "$1/new" "$1/cur" "$1/tmp"
}

# client_dir DIR CLIENT: a fresh private dir with an empty Maildir and
# CLIENT's config, owned by $BENCH_USER.
client_dir() {
	rm -rf "$1"
	if ! mkdir -m 700 "$1" || ! new_maildir "$1/Maildir" ||
	   ! "setup_$2" "$1" || ! chown -R "$BENCH_USER:" "$1"; then
		die "cannot set up $1 for $2"
	fi
}

# spend DIR: puts a fetch run's directory aside, to be removed when the
# mailbox group is done.  Removing 10,000 files just before the next run
# would slow that run's file creation several times over: ext4 skips
# inodes freed in the last 30 s when it allocates one (recently_deleted()
# in its inode allocator), and walks past every one of them on each
# create.  No fetcher's user deletes 10,000 files a second before the
# fetch, so no run here follows a mass deletion.
SPENT=0
spend() {
	SPENT=$((SPENT + 1))
	mkdir -p "$WORK/spent" && mv "$1" "$WORK/spent/$SPENT" || rm -rf "$1"
}

# empty_target DIR: puts what was delivered into DIR aside (a new, empty
# Maildir; see spend: removing the 100,000 files of a preparing run slowed
# the next case's file creation), keeps the state.
empty_target() {
	[ -d "$1" ] || return 1
	if [ -d "$1/Maildir" ]; then
		SPENT=$((SPENT + 1))
		mkdir -p "$WORK/spent" && mv "$1/Maildir" "$WORK/spent/$SPENT" &&
			new_maildir "$1/Maildir" && chown -R "$BENCH_USER:" "$1/Maildir" ||
			return 1
	fi
	rm -rf "$1/split"
	if [ -e "$1/mbox" ]; then
		: >"$1/mbox"
	fi
	: >"$1/log"
}

# ---- The cases --------------------------------------------------------

# case_setup CASE: sets TITLE, KIND, TLS, SEEN, MSGS and GROUP (the mailbox
# it needs) for CASE.
case_setup() {
	KIND=maildir TLS='' SEEN=''
	case $1 in
	maildir) GROUP=small MSGS=$N_SMALL; TITLE="$(fmt_n "$MSGS") × 4 KB → Maildir" ;;
	mbox) GROUP=small MSGS=$N_SMALL KIND=mbox; TITLE="$(fmt_n "$MSGS") × 4 KB → mbox" ;;
	seen10k) GROUP=small MSGS=$N_SMALL SEEN=yes; TITLE="nothing new, $(fmt_n "$MSGS") seen" ;;
	big) GROUP=big MSGS=$N_BIG; TITLE="$(fmt_n "$MSGS") × 1 MB → Maildir" ;;
	seen100k) GROUP=many MSGS=$N_MANY SEEN=yes; TITLE="nothing new, $(fmt_n "$MSGS") seen" ;;
	tls) GROUP=tls MSGS=$N_TLS TLS=yes; TITLE="$(fmt_n "$MSGS") × 4 KB → Maildir, implicit TLS" ;;
	esac
}

# fmt_n N: N with thousands separators.
fmt_n() {
	awk -v n="$1" 'BEGIN { s = ""; while (length(n) > 3) { s = "," substr(n, length(n) - 2) s; n = substr(n, 1, length(n) - 3) } print n s }'
}

# group_start GROUP: generates the group's mailbox, starts a dovecot that
# serves it (with pop3s for tls), and warms it up.
group_start() {
	case $1 in
	small) generate "$N_SMALL" "$SIZE_SMALL" 0 0 ;;
	big) generate 0 0 "$N_BIG" "$SIZE_BIG" ;;
	many) generate "$N_MANY" "$SIZE_MANY" 0 0 ;;
	tls) generate "$N_TLS" "$SIZE_SMALL" 0 0 ;;
	esac || die "generating the $1 mailbox failed"
	sums "$SRC" >"$WORK/src.sums"
	SRC_BYTES=$(find "$SRC" -type f -exec cat {} + | wc -c)
	unset DOVECOT_EXTRA_CONF DOVECOT_SSL_CERT DOVECOT_SSL_KEY DOVECOT_POP3S DOVECOT_AUTH_MECHANISMS
	if [ "$1" = tls ]; then
		DOVECOT_SSL_CERT=$CERTS/server.pem DOVECOT_SSL_KEY=$CERTS/server.key DOVECOT_POP3S=yes
	fi
	rm -rf "$WORK/dovecot"
	dovecot_start "$WORK/dovecot" || die "dovecot did not start: ${DOVECOT_ERROR:-see above}"
	unset DOVECOT_SSL_CERT DOVECOT_SSL_KEY DOVECOT_POP3S
	PORT=$DOVECOT_PORT
	[ "$1" = tls ] && PORT=$DOVECOT_POP3S_PORT
	# Straight into new/, as hard links (a copy of 100,000 files is slow
	# and big); dovecot only ever renames them.  Nothing reads the Maildir
	# before the first session.
	if ! cp -al "$SRC/." "$DOVECOT_MAILDIR/new/" ||
	   ! chmod -R u=rwX,go= "$DOVECOT_MAILDIR/new" ||
	   ! chown -R --reference="$DOVECOT_MAILDIR" "$DOVECOT_MAILDIR/new"; then
		die "filling dovecot's Maildir failed"
	fi
	# The source files are now the mail user's; we read them as root, or
	# as that user.
}

# ---- Counting system calls and instructions --------------------------

# syscall_row CASE: one run of popfetch under strace -f -c, one under
# callgrind (or perf); appends a row to SYSROWS.
syscall_row() {
	_d=$WORK/count
	if [ -n "$SEEN" ]; then _d=$WORK/prep-popfetch; empty_target "$_d"; else spend "$_d" 2>/dev/null; client_dir "$_d" popfetch; fi
	rm -f "$WORK/strace.out"
	: >"$WORK/strace.out" && chown "$BENCH_USER:" "$WORK/strace.out"
	WRAP="strace -f -c -o $WORK/strace.out"
	run_popfetch "$_d"
	WRAP=
	_sys=
	if ! ok_popfetch "$M_RC"; then
		_sys="strace run failed (exit $M_RC)"
	elif [ -z "$SEEN" ] && [ "$(count_delivered "$_d")" -ne "$MSGS" ]; then
		_sys="strace run delivered $(count_delivered "$_d") of $MSGS"
	fi
	_instr=
	if [ -n "$CALLGRIND" ] && [ -z "$_sys" ]; then
		if [ -n "$SEEN" ]; then empty_target "$_d"; else spend "$_d"; client_dir "$_d" popfetch; fi
		case $INSTR in
		callgrind)
			WRAP="valgrind --tool=callgrind --callgrind-out-file=$_d/callgrind.out --log-file=$_d/valgrind.log"
			run_popfetch "$_d"
			WRAP=
			_instr=$(awk '/^(summary|totals):/ { v = $2 } END { print v }' "$_d/callgrind.out" 2>/dev/null) ;;
		perf)
			WRAP="perf stat -x, -o $_d/perf.out -e instructions:u"
			run_popfetch "$_d"
			WRAP=
			_instr=$(awk -F, '$3 ~ /^instructions/ { print $1 }' "$_d/perf.out" 2>/dev/null) ;;
		esac
		ok_popfetch "$M_RC" || _instr=
	fi
	if [ -n "$_sys" ]; then
		SYSROWS="$SYSROWS| $TITLE | $_sys | | | | | | | | | |
"
	else
		SYSROWS="$SYSROWS$(awk -v n="$MSGS" -v title="$TITLE" -v instr="$_instr" '
		# strace -c: "% time seconds usecs/call calls [errors] syscall";
		# the calls are the fourth field either way.
		NF >= 5 && $4 ~ /^[0-9]+$/ && $NF != "total" { c[$NF] += $4 }
		$NF == "total" { total = $4 }
		function per(x) { return sprintf("%.2f", x / n) }
		END {
			fs = c["fsync"] + c["fdatasync"] + c["syncfs"] + c["sync"]
			rn = c["rename"] + c["renameat"] + c["renameat2"]
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", title, n,
				per(fs), per(c["read"]), per(c["write"]), per(c["poll"] + c["ppoll"]),
				per(c["openat"] + c["open"]), per(rn), per(c["getpid"]), per(total),
				instr == "" ? "–" : sprintf("%.0f", instr / n)
		}' "$WORK/strace.out")
"
		# The other calls that matter, for the notes.
		SYSTOP="$SYSTOP- $TITLE: $(awk -v n="$MSGS" '
			NF >= 5 && $4 ~ /^[0-9]+$/ && $NF != "total" { print $4, $NF }' "$WORK/strace.out" |
			sort -rn | head -n 8 | awk -v n="$MSGS" '{ printf "%s%s %.2f", (NR > 1 ? ", " : ""), $2, $1 / n }')
"
	fi
	if [ -n "$COUNTS_DIR" ]; then
		cp "$WORK/strace.out" "$COUNTS_DIR/$CASE.strace" 2>/dev/null
		cp "$_d/callgrind.out" "$COUNTS_DIR/$CASE.callgrind" 2>/dev/null
	fi
	[ -n "$SEEN" ] || spend "$_d"
}

# ---- Running a case ---------------------------------------------------

FAILED=
FAILURES=
ROWS=
SYSROWS=
SYSTOP=
CHECKS=
SKIPS=

# fail_note TEXT [LOG]: records a failure; shows the end of LOG.
fail_note() {
	FAILED=yes
	if [ $# -ge 2 ] && [ -s "$2" ]; then
		tail -n 15 "$2" | sed 's/^/| /' >&2
	fi
	set -- "$1"
	FAILURES="$FAILURES- $*
"
	printf '%s: FAIL: %s\n' "$me" "$*" >&2
}

# run_case CASE
run_case() {
	CASE=$1
	case_setup "$1"
	printf '%s: case %s: %s\n' "$me" "$1" "$TITLE" >&2
	L=$WORK/limit
	rm -rf "$L" && mkdir -m 700 "$L" && limit_cmds "$L/cmds" && chown -R "$BENCH_USER:" "$L" ||
		die "cannot set up the limit's dir"
	if ! limit_check "$L"; then
		fail_note "$TITLE: the limit session: $LIMIT_ERR"
		ROWS="$ROWS| $TITLE | failed | |$(for c in $CLIENTS; do printf ' |'; done)
"
		return
	fi
	if floor_rss "$L"; then
		_floor=$(awk -v k="$FLOOR_RSS" 'BEGIN { printf "%.1f MiB", k / 1024 }')
	else
		fail_note "$TITLE: the RSS floor: $FLOOR_ERR" "$L/log"
		_floor=failed
	fi
	: >"$L/log"

	_ok_clients=
	for c in $CLIENTS; do
		: >"$WORK/t-$c" && : >"$WORK/r-$c" && : >"$WORK/m-$c"
		eval "ERR_$c="
		eval "CHK_$c="
		if [ -n "$SEEN" ]; then
			# One full run makes the state; its delivery is checked,
			# then removed.
			d=$WORK/prep-$c
			# A client that takes tens of ms a message (a process per
			# message) would take hours to prepare 100,000.  Never
			# popfetch: the case is about it.
			eval "_rate=\${RATE_$c:-}"
			if [ "$c" != popfetch ] && [ -n "$_rate" ] && awk -v r="$_rate" -v n="$MSGS" -v cap="$PREP_CAP" 'BEGIN { exit !(r * n > cap) }'; then
				_why=$(awk -v r="$_rate" -v n="$MSGS" 'BEGIN { printf "left out: its preparing run would take about %.0f min (%.1f ms a message)", r * n / 60, r * 1000 }')
				eval "ERR_$c=\"\$_why\""
				SKIPS="$SKIPS- $TITLE, $c: $_why; see --prep-cap.
"
				printf '%s: %s: %s %s\n' "$me" "$TITLE" "$c" "$_why" >&2
				continue
			fi
			client_dir "$d" "$c"
			printf '%s: %s: preparing %s\n' "$me" "$TITLE" "$c" >&2
			"run_$c" "$d"
			if ! "ok_$c" "$M_RC"; then
				eval "ERR_$c=\"preparing run exited $M_RC\""
				fail_note "$TITLE: $c: the preparing run exited $M_RC: $(tail -n 1 "$d/log")" "$d/log"
				continue
			fi
			if ! check "$d" "$c"; then
				eval "ERR_$c=\"preparing run: $CHECK\""
				fail_note "$TITLE: $c: the preparing run's delivery: $CHECK"
				continue
			fi
			eval "CHK_$c=\"\$CHECK\""
			empty_target "$d"
		fi
		_ok_clients="$_ok_clients $c"
	done
	: >"$WORK/t-limit"

	p=1
	while [ "$p" -le "$PAIRS" ]; do
		for c in $_ok_clients; do
			eval "_e=\$ERR_$c"
			[ -z "$_e" ] || continue
			printf '%s: %s: pair %d of %d, %s\n' "$me" "$TITLE" "$p" "$PAIRS" "$c" >&2
			run_limit "$L"
			if [ "$M_RC" -ne 0 ]; then
				fail_note "$TITLE: the limit run before $c, pair $p, exited $M_RC: $(tail -n 1 "$L/log")"
				continue
			fi
			_lim=$M_WALL
			echo "$_lim" >>"$WORK/t-limit"
			if [ -n "$SEEN" ]; then d=$WORK/prep-$c; else d=$WORK/run-$c; client_dir "$d" "$c"; fi
			"run_$c" "$d"
			_why=
			if ! "ok_$c" "$M_RC"; then
				_why="exited $M_RC: $(grep -v 'WARNING: Running as root' "$d/log" | tail -n 1)"
			elif [ -n "$SEEN" ]; then
				_n=$(count_delivered "$d")
				[ "$_n" -eq 0 ] || _why="delivered $_n, want none"
			elif ! check "$d" "$c"; then
				_why="delivery: $CHECK"
			else
				eval "_prev=\$CHK_$c"
				# Keep the first answer that is not "identical".
				[ -z "$_prev" ] || [ "$_prev" = identical ] && eval "CHK_$c=\"\$CHECK\""
			fi
			if [ -n "$_why" ]; then
				fail_note "$TITLE: $c, pair $p: $_why" "$d/log"
				eval "ERR_$c=\"\$_why\""
			else
				echo "$M_WALL" >>"$WORK/t-$c"
				echo "$M_RSS" >>"$WORK/m-$c"
				awk -v a="$M_WALL" -v b="$_lim" 'BEGIN { printf "%.6f\n", a / b }' >>"$WORK/r-$c"
			fi
			if [ -z "$SEEN" ]; then spend "$d"; else empty_target "$d"; fi
		done
		p=$((p + 1))
	done

	_row="| $TITLE | $(median "$WORK/t-limit" | awk '$1 != "" { printf "%.2f s", $1 }') | $_floor |"
	for c in $CLIENTS; do
		eval "_e=\${ERR_$c:-}"
		if [ -n "$_e" ]; then
			case $_e in
			"left out"*) _row="$_row $_e |" ;;
			*) _row="$_row failed: $_e |" ;;
			esac
		else
			_row="$_row $(printf '%s %s %s' "$(median "$WORK/t-$c")" "$(median "$WORK/r-$c")" "$(median "$WORK/m-$c")" |
				awk '{ printf "%.2f s, %.2f×, %.1f MiB", $1, $2, $3 / 1024 }') |"
			eval "_k=\${CHK_$c:-}"
			if [ -n "$SEEN" ]; then
				CHECKS="$CHECKS- $TITLE, $c: the preparing run's delivery $_k; each timed run delivered nothing.
"
			else
				CHECKS="$CHECKS- $TITLE, $c: $_k ($PAIRS of $PAIRS runs).
"
			fi
			# Its best speed so far, to judge a preparing run by.
			if [ -z "$SEEN" ]; then
				eval "_rate=\${RATE_$c:-}"
				eval "RATE_$c=\$(median \"\$WORK/t-\$c\" | awk -v n=\"\$MSGS\" -v r=\"\$_rate\" '{ v = \$1 / n; print (r != \"\" && r < v) ? r : v }')"
			fi
			# The spread of the ratios, for the details.
			DETAILS="$DETAILS| $TITLE | $c | $(sort -n "$WORK/t-$c" | tr '\n' ' ')| $(sort -n "$WORK/r-$c" | awk '{ printf "%.2f ", $1 }')|
"
		fi
	done
	ROWS="$ROWS$_row
"
	if [ -n "$COUNTS" ] && { [ -z "$SEEN" ] || [ -d "$WORK/prep-popfetch" ]; }; then
		printf '%s: %s: counting popfetch system calls%s\n' "$me" "$TITLE" \
			"${CALLGRIND:+ and instructions}" >&2
		syscall_row
	fi
	# The prepared state of a nothing-new case is not needed any more.
	for c in $CLIENTS; do rm -rf "$WORK/prep-$c"; done
}

# ---- The report ------------------------------------------------------

# report: the Markdown report of the cases done so far.
report() {
	_took=$(( $(date +%s) - T_START ))
	printf '# popfetch benchmark\n\n'
	printf 'popfetch %s (%s) against ' "$(version_popfetch)" "$POPFETCH"
	_first=yes
	for c in $CLIENTS; do
		[ "$c" = popfetch ] && continue
		v=$("version_$c" 2>/dev/null)
		printf '%s%s %s' "$([ -n "$_first" ] || echo ', ')" "$c" "${v:-unknown}"
		_first=
	done
	[ -n "$_first" ] && printf 'no peer'
	printf '; dovecot %s on 127.0.0.1, mail kept on the server.\n' \
		"$("${DOVECOT:-$(command -v dovecot || echo /usr/sbin/dovecot)}" --version 2>/dev/null |
			awk '{ print $1; exit }')"
	printf '%s, %s cores, load average %s at the start, %s at the end; %s; %d pair%s per client and case; took %d min.\n\n' \
		"$(uname -sr)" "$(nproc 2>/dev/null || echo '?')" "$LOAD0" \
		"$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" "$(date -u '+%Y-%m-%d %H:%M UTC')" \
		"$PAIRS" "$([ "$PAIRS" -eq 1 ] || echo s)" $(((_took + 30) / 60))
	printf 'Each cell: median wall time, median of the ratios to the limit run paired with each run, median peak RSS. RSS floor: the peak RSS of contrib/rssfloor.c (the limit session and one Berkeley DB commit on popfetch'"'"'s libraries; median of 3).\n\n'
	printf '| case | limit | RSS floor |'
	for c in $CLIENTS; do printf ' %s |' "$c"; done
	printf '\n|---|---:|---:|'
	for c in $CLIENTS; do printf -- '---:|'; done
	printf '\n%s' "$ROWS"
	if [ -n "$SYSROWS" ]; then
		printf '\nPer message, popfetch (one run under strace -f -c; instructions: user space, %s):\n\n' \
			"${INSTR:-not counted}"
		printf '| case | messages | fsync family | read | write | poll | openat | rename | getpid | all syscalls | instructions |\n'
		printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n'
		printf '%s' "$SYSROWS"
		printf '\nThe most frequent system calls per message:\n%s' "$SYSTOP"
	fi
	printf '\nThe limit: socat writing USER, PASS, RETR 1..N (or UIDL), QUIT at once, replies to /dev/null.\n'
	printf 'Clients run as %s with HOME in a private temp dir:\n' "$BENCH_USER"
	for c in $CLIENTS; do
		printf -- '- %s: %s\n' "$c" "$("note_$c")"
	done
	printf '\nChecks (against the generated messages, byte for byte):\n%s' "$CHECKS"
	if [ -n "$DETAILS" ]; then
		printf '\nEvery run (times in s, ratios to the paired limit run), sorted:\n\n| case | client | times | ratios |\n|---|---|---|---|\n%s' "$DETAILS"
	fi
	if [ -n "$SKIPS" ]; then
		printf '\nLeft out:\n%s' "$SKIPS"
	fi
	if [ -n "$FAILURES" ]; then
		printf '\nFailures:\n%s' "$FAILURES"
	fi
	if [ -n "$MISSING" ]; then
		printf '\nNot installed, skipped:%s\n' "$MISSING"
	fi
}

# save_report [partial]: writes the report to $WORK/report and to --out;
# after each case, so that a run cut short leaves what it measured.
save_report() {
	{
		report
		[ -z "${1:-}" ] || printf '\n(Partial: the run is not finished.)\n'
	} >"$WORK/report.new" && mv "$WORK/report.new" "$WORK/report"
	[ -z "$OUT" ] || cp "$WORK/report" "$OUT"
}

# ---- Main -------------------------------------------------------------

LOAD0=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
T_START=$(date +%s)
DETAILS=
CERTS=$WORK/certs
if in_list tls "$CASES"; then
	make_certs "$CERTS" >/dev/null || die "making the test certificates failed"
	# Readable by the clients and dovecot's unprivileged processes.
	chmod 0755 "$CERTS"
	chmod 0644 "$CERTS/server.key"
fi

for g in small big many tls; do
	_cs=
	for c in $ALL_CASES; do
		in_list "$c" "$CASES" || continue
		case_setup "$c"
		[ "$GROUP" = "$g" ] && _cs="$_cs $c"
	done
	[ -n "$_cs" ] || continue
	case_setup "${_cs# }"
	KIND=maildir SEEN=
	printf '%s: mailbox %s: generating\n' "$me" "$g" >&2
	group_start "$g"
	MSGS=$(find "$SRC" -type f | wc -l | tr -d ' ')
	# Warm-up, untimed: dovecot builds its index and cache (and the sizes
	# it reports) on the first session, and moves new/ to cur/; the page
	# cache fills too.  One pipelined session with every command the
	# clients use.
	w=$WORK/warmup
	rm -rf "$w" && mkdir -m 700 "$w" || die "cannot make $w"
	(umask 077 && awk -v n="$MSGS" -v pass="$DOVECOT_PASSWORD" -v user="$DOVECOT_USER" 'BEGIN {
		printf "USER %s\r\nPASS %s\r\nSTAT\r\nLIST\r\nUIDL\r\n", user, pass
		for (i = 1; i <= n; i++) printf "RETR %d\r\n", i
		printf "QUIT\r\n"
	}' >"$w/cmds") && chown -R "$BENCH_USER:" "$w" || die "cannot write $w/cmds"
	: >"$w/reply"
	run_limit "$w" "$w/reply"
	if [ "$M_RC" -ne 0 ] || [ "$(grep -c '^+OK' "$w/reply")" -ne $((MSGS + 7)) ]; then
		tail -n 5 "$w/log" "$w/reply" | sed 's/^/| /' >&2
		die "the warm-up session failed (exit $M_RC)"
	fi
	rm -rf "$w"
	for c in $_cs; do
		run_case "$c"
		save_report partial
	done
	dovecot_stop || die "could not stop dovecot"
	# Put aside, not removed: removing 100,000 files here would slow
	# the next group's file creation (see spend); the exit removes $WORK.
	mkdir -p "$WORK/trash/$g" &&
		mv "$SRC" "$SRC.index" "$WORK/dovecot" "$WORK/trash/$g/" ||
		die "cannot put the $g mailbox aside"
	[ -d "$WORK/spent" ] && mv "$WORK/spent" "$WORK/trash/$g/"
done
save_report

cat "$WORK/report"
[ -z "$FAILED" ]
