#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/t-dovecot.sh -- fetch mail over POP3 from a real (private) dovecot.
#
# Run from the build directory (automake sets srcdir).  Environment:
#   POPFETCH           the client to test (default ./src/popfetch)
#   DOVECOT            the dovecot binary (default: found in PATH or /usr/sbin)
#   POPFETCH_KEEP_TMP  if non-empty, keep the temp dirs for inspection
# Needs the Debian package dovecot-pop3d; as root also the system user
# popfetch-test (see tests/dovecot.sh).  Exit 0 pass, 1 fail.

set -u

srcdir=${srcdir:-.}
# shellcheck source=tests/lib.sh
. "$srcdir/tests/lib.sh"
# shellcheck source=tests/dovecot.sh
. "$srcdir/tests/dovecot.sh"
on_exit 'dovecot_stop || fail "dovecot processes were left running: ${DOVECOT_ERROR:-}"'

# ---------------------------------------------------------------- setup

if [ ! -f "$POPFETCH" ] || [ ! -x "$POPFETCH" ]; then
	bail "client $POPFETCH not found or not executable (build it first, or set POPFETCH)"
fi

# Separate dirs: the server's must be reachable by the unprivileged dovecot
# user when run as root (TESTDIR is 0755); the client's stays private.
dc_dir=$TESTDIR/dovecot
cl_dir=$TESTDIR/client
mkdir -m 0700 "$cl_dir" || bail "cannot create $cl_dir"

dovecot_start "$dc_dir" || bail "cannot start the test dovecot: ${DOVECOT_ERROR:-see above}"
ok "dovecot started on 127.0.0.1:$DOVECOT_PORT (pid $DOVECOT_PID)"

pwfile=$cl_dir/password
(umask 077 && printf '%s\n' "$DOVECOT_PASSWORD" >"$pwfile") || bail "cannot write $pwfile"
statedir=$cl_dir/state
mkdir -m 0700 "$statedir" || bail "cannot create $statedir"
local_md=$cl_dir/Maildir          # not created: the client must create it
src=$cl_dir/src
mkdir "$src" || bail "cannot create $src"

# ---------------------------------------------------------------- messages
# All with LF line endings, each ending in a newline, no NUL or CR bytes.

hdr() {  # hdr N SUBJECT
	printf 'Return-Path: <sender@example.org>\n'
	printf 'From: Sender <sender@example.org>\n'
	printf 'To: test@example.org\n'
	printf 'Subject: %s\n' "$2"
	printf 'Date: Mon, 01 Jan 2024 00:00:%02d +0000\n' "$1"
	printf 'Message-ID: <msg%d.popfetch-test@example.org>\n' "$1"
}

{
	hdr 1 'lines that start with dots'
	printf '\n.this line starts with a dot\n..this one with two dots\n'
	printf '...and this one with three\n. dot and space\nordinary line\n'
	printf '.\tdot and tab\n.end\n'
} >"$src/m1-leading-dots"

{
	hdr 2 'lines that are a single dot'
	printf '\nfirst line\n.\nafter the first lone dot\n\n.\n..\n'
	printf 'the body also ends with a lone dot:\n.\n'
} >"$src/m2-lone-dot"

# Every byte 0x80-0xff, a few control characters, UTF-8 and Latin-1 text.
allhigh=
i=128
while [ "$i" -le 255 ]; do
	allhigh="$allhigh\\$(printf '%03o' "$i")"
	i=$((i + 1))
done
{
	hdr 3 'eight-bit body'
	printf 'MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n'
	printf 'Content-Transfer-Encoding: 8bit\n\n'
	printf 'UTF-8: Gr\303\274\303\237e, \342\202\254, \346\227\245\346\234\254\350\252\236\n'
	printf 'Latin-1: \344\366\374\337\n'
	# shellcheck disable=SC2059 # the octal escapes are meant for printf
	printf "all high bytes: $allhigh\\n"
	printf 'controls: \001\002\033[0m\177 tab:\t:end\n'
	printf '.\377 dot then 0xff\n\377\376\375\n'
} >"$src/m3-8bit"

{
	hdr 4 'a 5000-byte line'
	printf '\nbefore\n'
	awk 'BEGIN { s = ""; while (length(s) < 5000) s = s "0123456789abcdefghijklmnopqrstuvwxyz"; print substr(s, 1, 5000) }'
	awk 'BEGIN { s = "."; while (length(s) < 4999) s = s "ABCDEFGHIJ.-"; print substr(s, 1, 4999) }'
	printf 'after\n'
} >"$src/m4-long-line"

{
	hdr 5 'about 300 KB'
	printf '\n'
	LC_ALL=C awk 'BEGIN {
		for (i = 1; i <= 4600; i++) {
			if (i % 101 == 0)      print "."
			else if (i % 97 == 0)  printf(".line %05d starts with a dot\n", i)
			else if (i % 89 == 0)  print ""
			else printf("line %05d: the quick brown fox jumps over the lazy dog 0123456789\n", i)
		}
	}'
} >"$src/m5-300k"

{
	hdr 6 'empty body'
	printf '\n'
} >"$src/m6-empty-body"

{
	hdr 7 'second batch'
	printf '\nFrom the start of a line\n>From quoted\n..\ntrailing spaces   \n'
	printf '\nlast line\n'
} >"$src/m7-from-line"

size5=$(wc -c <"$src/m5-300k")
if [ "$size5" -lt 250000 ] || [ "$size5" -gt 350000 ]; then
	bail "generated m5-300k has $size5 bytes, expected about 300 KB"
fi

# ---------------------------------------------------------------- helpers

# Print the names of the regular files directly in DIR, sorted, one a line.
list_files() {
	[ -d "$1" ] || return 0
	find "$1" -mindepth 1 -maxdepth 1 -type f -exec basename {} \; | LC_ALL=C sort
}

# run_popfetch STEP [OPTION...] -- run the client, fail (and stop) unless it
# exits 0.
run_popfetch() {
	step=$1
	shift
	out=$cl_dir/popfetch-$step.out
	timeout 120 "$POPFETCH" --no-received --no-tls -P "$DOVECOT_PORT" -u "$DOVECOT_USER" \
		--password-file "$pwfile" --state-dir "$statedir" \
		--maildir "$local_md" "$@" 127.0.0.1 </dev/null >"$out" 2>&1
	rc=$?
	if [ "$rc" -ne 0 ]; then
		if [ "$rc" -eq 124 ]; then
			fail "$step: popfetch${*:+ $*} did not finish within 120 s"
		else
			fail "$step: popfetch${*:+ $*} exited with status $rc, expected 0"
		fi
		note_file "popfetch output" "$out"
		note_file "dovecot log" "$DOVECOT_LOG"
		exit 1
	fi
	ok "$step: popfetch${*:+ $*} exited 0"
}

# check_maildir_shape STEP -- the local Maildir has tmp/ new/ cur/, and
# tmp/ and cur/ are empty.
check_maildir_shape() {
	for d in tmp new cur; do
		if [ ! -d "$local_md/$d" ]; then
			bail "$1: local Maildir has no $d/ directory ($local_md/$d)"
		fi
	done
	n=$(count_files "$local_md/tmp")
	[ "$n" -eq 0 ] || fail "$1: local Maildir tmp/ holds $n file(s) after a successful run, expected none"
	n=$(count_files "$local_md/cur")
	[ "$n" -eq 0 ] || fail "$1: local Maildir cur/ holds $n file(s), expected messages in new/ only"
}

# match_set STEP FILELIST SRCLIST -- both are files holding one path a line.
# Passes if each file is byte-identical to exactly one source message and
# every source message is matched once (a multiset match).
match_set() {
	step=$1
	used=" "
	bad=0
	unmatched_file=
	while IFS= read -r f; do
		found=
		i=0
		while IFS= read -r s; do
			i=$((i + 1))
			case $used in *" $i "*) continue ;; esac
			if cmp -s "$f" "$s"; then
				used="$used$i "
				found=$s
				break
			fi
		done <"$3"
		if [ -z "$found" ]; then
			fail "$step: local new/${f##*/} ($(wc -c <"$f") bytes) is identical to no expected message"
			bad=1
			unmatched_file=$f
		fi
	done <"$2"
	i=0
	unmatched_src=
	nsrc=0
	while IFS= read -r s; do
		i=$((i + 1))
		case $used in *" $i "*) continue ;; esac
		fail "$step: message ${s##*/} ($(wc -c <"$s") bytes) was not delivered intact"
		bad=1
		unmatched_src=$s
		nsrc=$((nsrc + 1))
	done <"$3"
	# One left on each side: show where they differ.
	if [ -n "$unmatched_file" ] && [ "$nsrc" -eq 1 ]; then
		printf '# cmp %s %s: %s\n' "${unmatched_src##*/}" "local:${unmatched_file##*/}" \
			"$(cmp "$unmatched_src" "$unmatched_file" 2>&1 | head -n 1)"
	fi
	[ "$bad" -eq 0 ] && ok "$step: $(wc -l <"$3" | tr -d ' ') messages delivered byte-identical"
}

# paths FILE... -- print the given paths one a line.
paths() {
	for p in "$@"; do
		printf '%s\n' "$p"
	done
}

server_count() {
	echo $(($(count_files "$DOVECOT_MAILDIR/new") + $(count_files "$DOVECOT_MAILDIR/cur")))
}

# ---------------------------------------------------------------- 1: first fetch

for m in m1-leading-dots m2-lone-dot m3-8bit m4-long-line m5-300k; do
	dovecot_add_msg "$src/$m" || bail "cannot add $m to the server Maildir: ${DOVECOT_ERROR:-}"
done
n=$(server_count)
[ "$n" -eq 5 ] || bail "setup: server Maildir holds $n messages, expected 5"

run_popfetch fetch1
check_maildir_shape fetch1
n=$(count_files "$local_md/new")
if [ "$n" -eq 5 ]; then
	ok "fetch1: 5 files in the local new/"
else
	fail "fetch1: $n files in the local new/, expected 5"
fi
list_files "$local_md/new" >"$cl_dir/list1"
sed "s|^|$local_md/new/|" "$cl_dir/list1" >"$cl_dir/files1"
paths "$src/m1-leading-dots" "$src/m2-lone-dot" "$src/m3-8bit" "$src/m4-long-line" \
	"$src/m5-300k" >"$cl_dir/src5"
match_set fetch1 "$cl_dir/files1" "$cl_dir/src5"
n=$(server_count)
if [ "$n" -eq 5 ]; then
	ok "fetch1: the 5 messages are still on the server (default is keep)"
else
	fail "fetch1: the server holds $n messages after a fetch without --delete, expected 5"
fi
[ "$FAILED" -eq 0 ] || exit 1

# ---------------------------------------------------------------- 2: nothing new

run_popfetch fetch2
check_maildir_shape fetch2
list_files "$local_md/new" >"$cl_dir/list2"
n=$(wc -l <"$cl_dir/list2" | tr -d ' ')
if [ "$n" -eq 5 ] && cmp -s "$cl_dir/list1" "$cl_dir/list2"; then
	ok "fetch2: fetching again delivered nothing new"
else
	fail "fetch2: fetching again changed the local new/ ($n files, expected the same 5)"
fi
[ "$FAILED" -eq 0 ] || exit 1

# ---------------------------------------------------------------- 3: two more

dovecot_add_msg "$src/m6-empty-body" || bail "cannot add m6-empty-body to the server Maildir"
dovecot_add_msg "$src/m7-from-line" || bail "cannot add m7-from-line to the server Maildir"

run_popfetch fetch3
check_maildir_shape fetch3
list_files "$local_md/new" >"$cl_dir/list3"
LC_ALL=C comm -13 "$cl_dir/list1" "$cl_dir/list3" >"$cl_dir/new3"
LC_ALL=C comm -23 "$cl_dir/list1" "$cl_dir/list3" >"$cl_dir/gone3"
n=$(wc -l <"$cl_dir/new3" | tr -d ' ')
if [ "$n" -eq 2 ]; then
	ok "fetch3: exactly 2 new files in the local new/"
else
	fail "fetch3: $n new files in the local new/, expected 2"
fi
if [ -s "$cl_dir/gone3" ]; then
	fail "fetch3: files fetched before disappeared from the local new/: $(tr '\n' ' ' <"$cl_dir/gone3")"
fi
sed "s|^|$local_md/new/|" "$cl_dir/new3" >"$cl_dir/files3"
paths "$src/m6-empty-body" "$src/m7-from-line" >"$cl_dir/src2"
match_set fetch3 "$cl_dir/files3" "$cl_dir/src2"
n=$(server_count)
if [ "$n" -eq 7 ]; then
	ok "fetch3: the 7 messages are still on the server (default is keep)"
else
	fail "fetch3: the server holds $n messages after a fetch without --delete, expected 7"
fi
[ "$FAILED" -eq 0 ] || exit 1

# ---------------------------------------------------------------- 4: --delete

run_popfetch delete --delete
check_maildir_shape delete
n=$(server_count)
if [ "$n" -eq 0 ]; then
	ok "delete: the server Maildir (new/ and cur/) is empty"
else
	fail "delete: the server Maildir still holds $n message file(s) after --delete, expected none"
fi
list_files "$local_md/new" >"$cl_dir/list4"
n=$(wc -l <"$cl_dir/list4" | tr -d ' ')
if [ "$n" -eq 7 ] && cmp -s "$cl_dir/list3" "$cl_dir/list4"; then
	ok "delete: the local new/ still holds the same 7 files (no duplicates)"
else
	fail "delete: the local new/ holds $n files, expected the same 7 as before"
fi
sed "s|^|$local_md/new/|" "$cl_dir/list4" >"$cl_dir/files4"
cat "$cl_dir/src5" "$cl_dir/src2" >"$cl_dir/src7"
match_set delete "$cl_dir/files4" "$cl_dir/src7"

[ "$FAILED" -eq 0 ] || exit 1
finish
