#!/bin/sh
# contrib/bench.sh -- time popfetch against other POP3 fetchers.
#
# usage: contrib/bench.sh [--messages N] [--size BYTES] [--big N]
#                         [--reps N] [--out FILE]
#
# One private dovecot (tests/dovecot.sh) on 127.0.0.1 serves one generated
# mailbox to every client in turn: popfetch, fetchmail, mpop, getmail6, fdm.
# Each client, from a fresh temp dir each time, fetches every message in
# keep mode (nothing is deleted, so all clients see the same mailbox) into a
# local Maildir, with its UID tracking on, and is then run a second time,
# which must fetch nothing.  Per client it reports the median over --reps
# successful repetitions (default 3; a failed one is counted, reported and
# replaced, up to twice --reps runs in all) of:
#   first fetch s   wall time of the full fetch
#   second run s    wall time of the run that finds nothing new
#   max RSS KB      the larger of the two runs' max RSS, from GNU time's %M
#                   (the largest single process, children included: fdm's
#                   helper processes and fetchmail's MDA count)
#   delivered       files in the local Maildir (new/ and cur/)
#   identical       "yes" when the delivered files are byte-identical to
#                   the source messages (same multiset of SHA-256 sums);
#                   "modified (+Received, ...)" when each file is its source
#                   plus header fields the tool added; otherwise "no (...)".
#
# The mailbox is generated here, deterministically and without network:
# --messages (2000) messages of about --size (10240) bytes each with
# realistic headers (folded Received and DKIM-Signature fields, threading,
# lists, MIME), bodies with lines that start with "." (a lone ".", "..",
# ".hidden") to exercise POP3 dot-stuffing, lines that start with "From ",
# some base64 attachments, and --big (5) messages of 5 MiB.
#
# Fairness, per client (see also the notes printed under the table):
#  - All log in with USER/PASS over plaintext POP3 to 127.0.0.1, leave the
#    mail on the server and write into a Maildir on the same file system.
#    Passwords never go on a command line: popfetch reads a 0600 file, the
#    others read their 0600 rc files.
#  - Each tool runs with its defaults otherwise: where a tool adds a
#    Received: header (fetchmail, mpop, getmail6, fdm) or Delivered-To:/
#    Return-Path: (getmail6) by default, that is what its users get, and the
#    table says "modified".  The notes under the table name the settings
#    that turn this off.
#  - fetchmail has no Maildir delivery of its own: it hands each message to
#    an MDA.  It gets procmail with a Maildir rc: one exec per message that
#    writes the Maildir correctly (tmp/, fsync, link into new/), the usual
#    and the cheapest real MDA, so fetchmail pays for its design (a process
#    per message) and nothing more.  Without procmail, a small shell MDA
#    does the same with three processes.  Every client fsyncs each message.
#  - Run as root, the clients run as the unprivileged user popfetch-test
#    (which dovecot.sh makes): getmail6 refuses to deliver as root, and
#    nobody fetches mail as root.
#  - HOME is the run's temp dir, so no tool reads the user's own rc files,
#    ~/.netrc or state.
#  - The clients run one after the other, never two at once; nothing else
#    of this script runs while one is measured.
#  - Before the measurements, one untimed fetch warms dovecot's index and
#    cache files and the page cache, so the first client measured does not
#    pay for dovecot's first look at the mailbox.
#  - Wall time is taken with date +%s%N around "timeout 600 /usr/bin/time
#    CLIENT", so it includes about a millisecond for starting those two,
#    the same for every client; GNU time's own %e has only 10 ms steps.
#
# Requires: dovecot (dovecot-core, dovecot-pop3d), GNU time (package time),
# coreutils, awk, setpriv (util-linux) when run as root.  It installs
# nothing: a missing peer is reported and skipped.  Run as root, dovecot's
# processes run as the user popfetch-test (see tests/dovecot.sh).  Exits 0
# when every run of every installed client succeeded, 1 if any failed (the
# table still shows it), 2 on a usage or setup error.

set -u
# Byte semantics for awk, sort and the generated text.
LC_ALL=C
export LC_ALL

me=contrib/bench.sh
here=$(cd "$(dirname "$0")" && pwd -P) || exit 1
top=$(dirname "$here")
POPFETCH=${POPFETCH:-$top/src/popfetch}

MESSAGES=2000
SIZE=10240
BIG=5
BIG_SIZE=$((5 * 1024 * 1024))
REPS=3
OUT=
CAP=600		# seconds, per client run

usage() {
	cat <<EOF
usage: $me [--messages N] [--size BYTES] [--big N] [--reps N] [--out FILE]
  --messages N   ordinary messages in the mailbox (default $MESSAGES)
  --size BYTES   their mean size (default $SIZE; each is 0.5x..1.5x)
  --big N        extra messages of 5 MiB each (default $BIG)
  --reps N       repetitions per client, the median is reported (default $REPS)
  --out FILE     also write the results table to FILE
EOF
}

die() {
	printf '%s: %s\n' "$me" "$*" >&2
	exit 2
}

is_count() {
	case $1 in '' | *[!0-9]*) return 1 ;; esac
	return 0
}

while [ $# -gt 0 ]; do
	case $1 in
	--messages | --size | --big | --reps | --out)
		[ $# -ge 2 ] || die "$1 needs a value"
		case $1 in
		--messages) MESSAGES=$2 ;;
		--size) SIZE=$2 ;;
		--big) BIG=$2 ;;
		--reps) REPS=$2 ;;
		--out) OUT=$2 ;;
		esac
		shift 2 ;;
	-h | --help) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
is_count "$MESSAGES" || die "--messages wants a number"
if ! is_count "$SIZE" || [ "$SIZE" -lt 512 ]; then
	die "--size wants a number of bytes, at least 512"
fi
is_count "$BIG" || die "--big wants a number"
if ! is_count "$REPS" || [ "$REPS" -lt 1 ]; then
	die "--reps wants a number, at least 1"
fi
[ $((MESSAGES + BIG)) -ge 1 ] || die "the mailbox would be empty"
if [ -n "$OUT" ]; then
	# Fail now rather than after the long run.
	: >>"$OUT" || die "cannot write $OUT"
fi

# ---- Prerequisites ----------------------------------------------------

[ -x "$POPFETCH" ] || die "$POPFETCH is not built: run make in $top"
# GNU time: BusyBox's and the shell keyword know no -f/-o.
if [ ! -x /usr/bin/time ] || ! /usr/bin/time -f '%M' -o /dev/null true 2>/dev/null; then
	die "GNU time is missing: apt-get install -y time"
fi
command -v timeout >/dev/null 2>&1 || die "timeout (coreutils) is missing"
command -v sha256sum >/dev/null 2>&1 || die "sha256sum (coreutils) is missing"

# The peers, in table order after popfetch.  "name:command".
PEERS="fetchmail:fetchmail mpop:mpop getmail6:getmail fdm:fdm"
CLIENTS=popfetch
MISSING=
for p in $PEERS; do
	if command -v "${p#*:}" >/dev/null 2>&1; then
		CLIENTS="$CLIENTS ${p%%:*}"
	else
		MISSING="$MISSING ${p%%:*}"
		printf '%s: %s is not installed (Debian package %s); skipping it\n' \
			"$me" "${p#*:}" "${p%%:*}" >&2
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
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

WORK=$(mktemp -d "${TMPDIR:-/tmp}/popfetch-bench.XXXXXX") || exit 1
# Run as root, dovecot's unprivileged user must reach its dir below here.
chmod 0711 "$WORK"
SRC=$WORK/src		# the generated messages, the reference
mkdir "$SRC"

# ---- The mailbox ------------------------------------------------------

# Writes $SRC/msg-NNNNNN and $SRC.index ("Message-ID<TAB>path" per line).
# A Park-Miller generator with a fixed seed, not awk's rand(), so that mawk
# and gawk make the same mailbox.
generate() {
	awk -v n="$MESSAGES" -v size="$SIZE" -v big="$BIG" -v bigsize="$BIG_SIZE" \
	    -v dir="$SRC" -v index_file="$SRC.index" '
	function rnd(k) { seed = (seed * 16807) % 2147483647; return seed % k }
	function pick(a, k) { return a[1 + rnd(k)] }
	function hex(k,   s) { s = ""; while (k-- > 0) s = s substr("0123456789ABCDEF", 1 + rnd(16), 1); return s }
	function b64(k,   s) { s = ""; while (k-- > 0) s = s substr(B64, 1 + rnd(64), 1); return s }
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
	function body_line(   r) {
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

# measure DIR COMMAND...: runs COMMAND as $BENCH_USER, capped at $CAP
# seconds, with HOME=DIR and its output in DIR/log; sets M_RC, M_WALL (s)
# and M_RSS (KB).  Run in the background and waited for, so that a signal
# to this script is handled at once (cleanup ends the client) rather than
# after the client finishes.
measure() {
	_m_dir=$1
	shift
	_m_t0=$(date +%s%N)
	# shellcheck disable=SC2086 # $RUNAS is a command and its arguments
	HOME=$_m_dir FETCHMAILHOME=$_m_dir $RUNAS \
		timeout -k 10 "$CAP" /usr/bin/time -o "$_m_dir/time.out" -f '%e %M' \
		"$@" </dev/null >>"$_m_dir/log" 2>&1 &
	CHILD=$!
	wait "$CHILD"
	M_RC=$?
	CHILD=
	_m_t1=$(date +%s%N)
	M_WALL=$(ns_to_s $((_m_t1 - _m_t0)))
	# GNU time writes "Command exited with non-zero status N" first then.
	M_RSS=$(awk 'END { print $2 + 0 }' "$_m_dir/time.out" 2>/dev/null)
	[ "$M_RC" -eq 124 ] && echo "timed out after $CAP s" >>"$_m_dir/log"
}

# count_delivered MAILDIR: messages in new/ and cur/.
count_delivered() {
	find "$1/new" "$1/cur" -type f 2>/dev/null | wc -l | tr -d ' '
}

# sums DIR...: the sorted SHA-256 sums of the regular files under DIR.
sums() {
	find "$@" -type f -exec sha256sum {} + | awk '{ print $1 }' | sort
}

# identity MAILDIR: prints "yes", "modified (+Field, ...)" or "no (...)".
# "yes" needs the delivered files to be exactly the source messages, as a
# multiset.  Otherwise each delivered file is matched to its source by
# Message-ID: a file that is its source plus added header fields (or a
# From_ line) counts as modified, anything else as differing.
identity() {
	find "$1/new" "$1/cur" -type f >"$WORK/delivered.list" 2>/dev/null
	sums "$1/new" "$1/cur" 2>/dev/null >"$WORK/delivered.sums"
	if cmp -s "$WORK/delivered.sums" "$WORK/src.sums"; then
		echo yes
		return
	fi
	awk -v total="$((MESSAGES + BIG))" -v index_file="$SRC.index" '
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
	# Counts FILE as the same as its source, modified (the names of the
	# added fields go into added[]) or differing.
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
		# Keep the fields the source has (as many times as it has them);
		# the rest were added by the tool.
		nk = 0
		for (k = 1; k <= nfd; k++)
			if (cnt[DF[k]] > 0) { cnt[DF[k]]--; kept[++nk] = DF[k] }
			else {
				name = DF[k]; sub(/:.*/, "", name); sub(/\n.*/, "", name)
				extra[name ~ /^[!-9;-~]+$/ ? name : "?"]++
			}
		if (nk != nfs || nd - db != ns - sb) { differ++; return }
		for (k = 1; k <= nk; k++) if (kept[k] != SF[k]) { differ++; return }
		for (j = 0; db + j <= nd; j++) if (D[db + j] != S[sb + j]) { differ++; return }
		# Only now, so that a file that differs anyway (say, CRLF line
		# ends: no blank line ends its header) names no fields.
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
		a = ""
		for (name in added) a = a ", +" name
		# for-in order is unspecified: sort the few names.
		na = split(substr(a, 3), AL, ", ")
		for (i = 1; i <= na; i++) for (j = i + 1; j <= na; j++)
			if (AL[j] < AL[i]) { tmp = AL[i]; AL[i] = AL[j]; AL[j] = tmp }
		a = ""
		for (i = 1; i <= na; i++) a = a (i > 1 ? ", " : "") AL[i]
		# Same lines, other bytes: awk does not see a missing final newline.
		if (s == "" && a == "") print "no (bytes differ)"
		else if (s == "") print "modified (" a ")"
		else print "no (" substr(s, 3) (a != "" ? "; " a : "") ")"
	}' <"$WORK/delivered.list"
}

# median FILE FORMAT: the median of the numbers in FILE, one per line,
# printed with the printf FORMAT.
median() {
	sort -n "$1" | awk -v fmt="$2\n" '{ v[NR] = $1 }
		END { printf fmt, NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ---- The clients ------------------------------------------------------
#
# setup_X DIR writes X's config into DIR (which holds an empty Maildir/);
# run_X DIR runs X once through measure; ok_X RC says whether exit status
# RC is success; version_X prints X's version; note_X how X is set up.

setup_popfetch() {
	printf '%s\n' "$DOVECOT_PASSWORD" >"$1/password"
	chmod 600 "$1/password"
}
run_popfetch() {
	measure "$1" "$POPFETCH" --no-tls -q -P "$DOVECOT_PORT" -u "$DOVECOT_USER" \
		--password-file "$1/password" --state-dir "$1/state" \
		--maildir "$1/Maildir" 127.0.0.1
}
ok_popfetch() { [ "$1" -eq 0 ]; }
note_popfetch() {
	echo "--maildir; UIDs in --state-dir; default --batch 64; fsyncs each message, and tmp/ and new/ per batch."
}
version_popfetch() { "$POPFETCH" --version | awk '{ print $2; exit }'; }

# fetchmail: keep, uidl (its UID tracking for POP3, in the idfile), and an
# MDA, since fetchmail cannot write a Maildir itself.  The MDA is procmail
# with a one-line rc that delivers into the Maildir: one process per
# message, which writes in tmp/, fsyncs, and links into new/, as a Maildir
# wants.  Without procmail, a shell script does the same with three
# processes per message (sh, dd, mv).  sslproto '' turns off the STARTTLS
# attempt that fetchmail 6.4 makes by default (and that fails on this
# plaintext server).  "is USER here" is required syntax; with an MDA the
# local name only names the process owner.
FETCHMAIL_MDA=shell
command -v procmail >/dev/null 2>&1 && FETCHMAIL_MDA=procmail
setup_fetchmail() {
	if [ "$FETCHMAIL_MDA" = procmail ]; then
		# A trailing slash makes DEFAULT a Maildir.
		printf 'DEFAULT=%s/Maildir/\n' "$1" >"$1/procmailrc"
		chmod 600 "$1/procmailrc"
		_mda="$(command -v procmail) -m $1/procmailrc"
	else
		cat >"$1/mda" <<'EOF'
#!/bin/sh
# The benchmark's MDA for fetchmail: one message on stdin into Maildir $1,
# written in tmp/ and fsynced (as the other clients do), then renamed into
# new/.  dd rather than cat: the same one process, plus the fsync.  The
# name is this process's pid, unique among the MDAs of one run; excl and
# mv -n guard against reuse.  75 (EX_TEMPFAIL) keeps the message unseen.
umask 077
n=fetchmail.$$.bench
dd of="$1/tmp/$n" bs=65536 conv=excl,fsync status=none || exit 75
mv -n "$1/tmp/$n" "$1/new/$n" || exit 75
if [ -e "$1/tmp/$n" ]; then rm -f "$1/tmp/$n"; exit 75; fi
EOF
		chmod 755 "$1/mda"
		_mda="$1/mda $1/Maildir"
	fi
	cat >"$1/fetchmailrc" <<EOF
set no syslog
set idfile "$1/fetchids"
poll 127.0.0.1 protocol pop3 port $DOVECOT_PORT uidl auth password
  user "$DOVECOT_USER" there with password "$DOVECOT_PASSWORD" is "$BENCH_USER" here
  keep
  sslproto ''
  mda "$_mda"
EOF
	chmod 600 "$1/fetchmailrc"
}
run_fetchmail() {
	measure "$1" fetchmail -f "$1/fetchmailrc" --pidfile "$1/fetchmail.pid" 127.0.0.1
}
# 1 is "no new mail", the second run's answer.
ok_fetchmail() { [ "$1" -eq 0 ] || [ "$1" -eq 1 ]; }
note_fetchmail() {
	if [ "$FETCHMAIL_MDA" = procmail ]; then
		printf '%s' "uidl + idfile, keep, sslproto ''; mda 'procmail -m RC' with DEFAULT=Maildir/ (fsyncs each message), a process per message"
	else
		printf '%s' "uidl + idfile, keep, sslproto ''; mda: a shell script (dd conv=fsync into tmp/, mv into new/; procmail is not installed), 3 processes per message"
	fi
	echo "; adds Received: unless 'invisible'."
}
version_fetchmail() {
	fetchmail -V -f /dev/null 2>/dev/null |
		awk '/release/ { v = $NF; sub(/\+.*/, "", v); sub(/\.$/, "", v); print v; exit }'
}

# mpop: keep on, only_new (UIDs in uidls_file), its own maildir delivery.
# "auth user" is USER/PASS, as popfetch does.
setup_mpop() {
	cat >"$1/mpoprc" <<EOF
account bench
host 127.0.0.1
port $DOVECOT_PORT
tls off
auth user
user $DOVECOT_USER
password "$DOVECOT_PASSWORD"
keep on
only_new on
uidls_file $1/uidls
delivery maildir $1/Maildir
EOF
	chmod 600 "$1/mpoprc"
}
run_mpop() { measure "$1" mpop -q -C "$1/mpoprc" bench; }
ok_mpop() { [ "$1" -eq 0 ]; }
note_mpop() {
	echo "delivery maildir, only_new + uidls_file, keep on, auth user; adds Received: unless 'received_header off'."
}
version_mpop() { mpop --version | awk '{ print $3; exit }'; }

# getmail6: SimplePOP3Retriever (USER/PASS), read_all = false (its UID
# tracking, in the oldmail file under --getmaildir; the default true would
# fetch everything every time), delete = false, Maildir destination.
setup_getmail6() {
	mkdir "$1/getmail"
	cat >"$1/getmailrc" <<EOF
[retriever]
type = SimplePOP3Retriever
server = 127.0.0.1
port = $DOVECOT_PORT
username = $DOVECOT_USER
password = $DOVECOT_PASSWORD

[destination]
type = Maildir
path = $1/Maildir/

[options]
verbose = 0
read_all = false
delete = false
EOF
	chmod 600 "$1/getmailrc"
}
run_getmail6() {
	measure "$1" getmail --rcfile="$1/getmailrc" --getmaildir="$1/getmail" --quiet
}
ok_getmail6() { [ "$1" -eq 0 ]; }
note_getmail6() {
	echo "SimplePOP3Retriever, Maildir destination, read_all = false, delete = false; a delivery process per message; adds Delivered-To: and Received: unless 'delivered_to = false', 'received = false'."
}
version_getmail6() { getmail --version | awk '{ print $2; exit }'; }

# fdm: a pop3 account with keep and "new-only cache" (its UID tracking), a
# maildir action.  Its lock file is kept out of /var/db and $HOME.
setup_fdm() {
	cat >"$1/fdm.conf" <<EOF
set lock-file "$1/fdm.lock"
account "bench" pop3 server "127.0.0.1" port $DOVECOT_PORT
	user "$DOVECOT_USER" pass "$DOVECOT_PASSWORD"
	new-only cache "$1/fdm.cache" keep
action "inbox" maildir "$1/Maildir"
match all action "inbox"
EOF
	chmod 600 "$1/fdm.conf"
}
run_fdm() { measure "$1" fdm -q -f "$1/fdm.conf" fetch; }
ok_fdm() { [ "$1" -eq 0 ]; }
note_fdm() {
	echo "pop3 account with keep and new-only cache, maildir action; a delivery process per message; adds Received: unless 'set no-received'."
}
version_fdm() {
	fdm -vvv -n -f /dev/null 2>&1 | awk '/^version is:/ { v = $4; sub(/,$/, "", v); print v; exit }'
}

# client_dir DIR CLIENT: a fresh private dir with an empty Maildir and
# CLIENT's config, owned by $BENCH_USER.  Private modes, as the tools
# expect (fdm warns about a Maildir that others can read).
client_dir() {
	if ! mkdir -m 700 "$1" "$1/Maildir" "$1/Maildir/new" "$1/Maildir/cur" "$1/Maildir/tmp" ||
	   ! "setup_$2" "$1" || ! chown -R "$BENCH_USER:" "$1"; then
		die "cannot set up $1 for $2"
	fi
}

# ---- Main -------------------------------------------------------------

LOAD0=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)
printf '%s: generating %d messages of ~%d bytes and %d of %d bytes\n' \
	"$me" "$MESSAGES" "$SIZE" "$BIG" "$BIG_SIZE" >&2
generate || die "generating the mailbox failed"
sums "$SRC" >"$WORK/src.sums"
TOTAL=$((MESSAGES + BIG))
MBYTES=$(du -sk "$SRC" | awk '{ printf "%.1f", $1 / 1024 }')

# The same plain server for everyone: none of dovecot.sh's optional
# settings (TLS, other auth mechanisms, extra config) from the caller's
# environment.  DOVECOT, the binary, may stay.
unset DOVECOT_EXTRA_CONF DOVECOT_SSL_CERT DOVECOT_SSL_KEY DOVECOT_POP3S DOVECOT_AUTH_MECHANISMS
dovecot_start "$WORK/dovecot" || die "dovecot did not start: ${DOVECOT_ERROR:-see above}"

# Who runs the clients.  As root: the unprivileged user that dovecot_start
# has just made sure exists (popfetch-test), through setpriv, which execs
# and so adds no process.  Root would not be a fair or usual setting:
# getmail6 refuses to deliver as root, fdm and fetchmail change behaviour.
BENCH_USER=$(id -un)
RUNAS=
if [ "$(id -u)" -eq 0 ]; then
	command -v setpriv >/dev/null 2>&1 || die "setpriv (util-linux) is missing"
	BENCH_USER=popfetch-test
	RUNAS="setpriv --reuid=$(id -u "$BENCH_USER") --regid=$(id -g "$BENCH_USER") --clear-groups"
fi
# Straight into new/, all at once: dovecot_add_msg forks five processes per
# message, which adds up for thousands.  Nothing reads the Maildir before
# the first session, so there is no reader to see half-written files.  The
# files get the Maildir's owner and mode 0600, as dovecot_add_msg does.
if ! cp -R "$SRC/." "$DOVECOT_MAILDIR/new/" ||
   ! chmod -R u=rwX,go= "$DOVECOT_MAILDIR/new" ||
   ! chown -R --reference="$DOVECOT_MAILDIR" "$DOVECOT_MAILDIR/new"; then
	die "filling dovecot's Maildir failed"
fi

# An untimed fetch: dovecot builds its index and cache (and the message
# sizes POP3 reports) on its first session; the page cache fills too.
w=$WORK/warmup
client_dir "$w" popfetch
run_popfetch "$w"
if [ "$M_RC" -ne 0 ] || [ "$(count_delivered "$w/Maildir")" -ne "$TOTAL" ]; then
	sed 's/^/| /' "$w/log" >&2
	die "the warm-up fetch with popfetch failed (exit $M_RC)"
fi
rm -rf "$w"

# one_rep DIR CLIENT: the first and the second run in DIR and the checks.
# Appends the numbers to the $WORK files, or sets REP_ERR to why not.
one_rep() {
	REP_ERR=
	"run_$2" "$1"
	if ! "ok_$2" "$M_RC"; then
		REP_ERR="first run exited $M_RC"
		return
	fi
	_first=$M_WALL
	_rss=$M_RSS
	_n1=$(count_delivered "$1/Maildir")

	"run_$2" "$1"
	if ! "ok_$2" "$M_RC"; then
		REP_ERR="second run exited $M_RC"
		return
	fi
	[ "$M_RSS" -gt "$_rss" ] && _rss=$M_RSS
	_n2=$(count_delivered "$1/Maildir")
	if [ "$_n2" -ne "$_n1" ]; then
		REP_ERR="second run delivered $((_n2 - _n1)) more"
		return
	fi

	echo "$_first" >>"$WORK/first"
	echo "$M_WALL" >>"$WORK/second"
	echo "$_rss" >>"$WORK/rss"
	echo "$_n1" >>"$WORK/count"
	# The same for every repetition unless something is wrong; keep the
	# first answer that is not "yes".
	_i=$(identity "$1/Maildir")
	if [ -z "$IDENT" ] || [ "$IDENT" = yes ]; then
		IDENT=$_i
	fi
}

FAILED=
FAILURES=
ROWS=
for c in $CLIENTS; do
	v=$("version_$c" 2>/dev/null)
	[ -n "$v" ] || v=unknown
	: >"$WORK/first" && : >"$WORK/second" && : >"$WORK/rss" && : >"$WORK/count"
	IDENT=
	nok=0
	nfail=0
	r=1
	# A failed run is reported, not hidden (the row counts them, the notes
	# say how they failed), and another is tried in its place, so that a
	# tool that fails now and then still gets --reps measured runs; at
	# most 2 x --reps runs in all.
	while [ "$nok" -lt "$REPS" ] && [ "$r" -le $((2 * REPS)) ]; do
		printf '%s: %s, run %d (%d of %d done)\n' "$me" "$c" "$r" "$nok" "$REPS" >&2
		# Fresh local state every time: config, UID store, Maildir.
		d=$WORK/run-$c-$r
		client_dir "$d" "$c"
		one_rep "$d" "$c"
		if [ -n "$REP_ERR" ]; then
			nfail=$((nfail + 1))
			printf '%s: %s, run %d: %s; its output:\n' "$me" "$c" "$r" "$REP_ERR" >&2
			tail -n 20 "$d/log" | sed 's/^/| /' >&2
			FAILURES="$FAILURES- $c, run $r: $REP_ERR: $(grep -v 'WARNING: Running as root' "$d/log" | tail -n 1)
"
		else
			nok=$((nok + 1))
		fi
		rm -rf "$d"
		r=$((r + 1))
	done
	name=$c
	if [ "$nfail" -gt 0 ]; then
		FAILED="$FAILED $c"
		name="$c ($nfail of $((r - 1)) runs failed)"
	fi
	if [ "$nok" -eq 0 ]; then
		ROWS="$ROWS| $name | $v | failed | failed | | | |
"
	else
		ROWS="$ROWS| $name | $v | $(median "$WORK/first" %.3f) | $(median "$WORK/second" %.3f) | $(median "$WORK/rss" %.0f) | $(median "$WORK/count" %.0f) | $IDENT |
"
	fi
done

{
	printf 'Mailbox: %d messages (%d of ~%d bytes, %d of %d bytes), %s MiB; ' \
		"$TOTAL" "$MESSAGES" "$SIZE" "$BIG" "$BIG_SIZE" "$MBYTES"
	printf 'dovecot %s on 127.0.0.1, plaintext POP3, keep mode.\n' \
		"$("${DOVECOT:-$(command -v dovecot || echo /usr/sbin/dovecot)}" --version 2>/dev/null |
			awk '{ print $1; exit }')"
	# The load average tells a reader whether something else competed
	# for the CPUs while this ran.
	printf 'Median of %d successful runs each; %s, %s cores, load average %s at the start, %s at the end; %s.\n\n' \
		"$REPS" "$(uname -sr)" "$(nproc 2>/dev/null || echo '?')" "$LOAD0" \
		"$(cut -d' ' -f1 /proc/loadavg 2>/dev/null)" "$(date -u '+%Y-%m-%d %H:%M UTC')"
	echo '| client | version | first fetch s | second run s | max RSS KB | delivered | identical |'
	echo '|---|---|---:|---:|---:|---:|---|'
	printf '%s' "$ROWS"
	printf '\nEach client: USER/PASS in plaintext, keep mode, its UID tracking on, a fresh Maildir\n'
	printf 'in %s, run as %s.\n' "${TMPDIR:-/tmp}" "$BENCH_USER"
	for c in $CLIENTS; do
		printf -- '- %s: %s\n' "$c" "$("note_$c")"
	done
	if [ -n "$FAILURES" ]; then
		printf '\nFailed runs (the medians above are of the runs that succeeded):\n%s' "$FAILURES"
	fi
	if [ -n "$MISSING" ]; then
		printf '\nNot installed, skipped:%s\n' "$MISSING"
	fi
} >"$WORK/table"

cat "$WORK/table"
[ -n "$OUT" ] && cp "$WORK/table" "$OUT"
[ -z "$FAILED" ]
