#!/bin/sh
# SPDX-License-Identifier: ISC
# The documentation and contrib/ files do what they say: popfetchrc(5)
# renders cleanly within 80 columns and documents exactly the config
# keywords; the example configs use only those keywords, correctly; the
# bash and zsh completions complete options, values and the accounts of a
# config file; the systemd units verify; the procmail recipe delivers.
. "$srcdir/tests/lib.sh"

S=$srcdir
MAN5=$S/man/popfetchrc.5
MAN1=$S/man/popfetch.1
EXAMPLE=$S/contrib/popfetch.conf.example
BASHCOMP=$S/contrib/bash_completion/popfetch
ZSHCOMP=$S/contrib/zsh/_popfetch
UNITS=$S/contrib/systemd

# The config file's keywords (issue 11). Flags take nothing, on or off.
FLAGS="no-tls stdout keep delete all copy received"
VALUES="host port user tls tls-trust-file tls-fingerprint tls-cert tls-key
auth password password-file password-cmd tunnel maildir mbox mda state-dir
timeout session-timeout max-size batch delete-after fetch-limit"
DELIVERIES="maildir mbox mda stdout"

words() {
	printf '%s\n' $* | sort
}

need() {
	command -v "$1" > /dev/null 2>&1 && return 0
	fail "$1 is not installed (apt-get install $2)"
	return 1
}

# --- the man pages ---------------------------------------------------------

# Each page as man shows it on an 80-column UTF-8 terminal, and the
# warnings of formatting it.
if need man man-db; then
	for page in "$MAN5" "$MAN1"; do
		name=$(basename "$page")
		MANWIDTH=80 LC_ALL=C.UTF-8 MAN_KEEP_FORMATTING= \
			man --warnings -l "$page" > "$TESTDIR/$name.txt" 2> "$TESTDIR/err"
		check "$name renders without warnings" test ! -s "$TESTDIR/err"
		width=$(LC_ALL=C.UTF-8 wc -L < "$TESTDIR/$name.txt")
		check "$name fits 80 columns (widest line $width)" \
			test "$(wc -l < "$TESTDIR/$name.txt")" -gt 50 -a "$width" -le 80
	done

	# What a reader pastes from popfetchrc(5): its EXAMPLE section, the
	# lines indented as a display, in plain ASCII.
	awk '/^[A-Z]/ { s = ($0 == "EXAMPLE") } \
		s && /^        / { sub(/^              /, ""); print; next } \
		s && /^$/ { print }' "$TESTDIR/popfetchrc.5.txt" > "$TESTDIR/man-example"
	check "popfetchrc(5) has an example with accounts" \
		grep -q '^account ' "$TESTDIR/man-example"
	check "the example of popfetchrc(5) is plain ASCII" \
		env LC_ALL=C awk '/[^\001-\177]/ { bad = 1 } END { exit bad }' \
		"$TESTDIR/man-example"
fi

# --- the keywords ----------------------------------------------------------

# The keywords popfetchrc(5) documents: the first word of each .TP (or
# .TQ) entry in KEYWORDS.
awk '/^\.SH / { k = ($2 == "KEYWORDS") } \
	k && prev ~ /^\.T[PQ]$/ { w = $2; gsub(/\\-/, "-", w); gsub(/"/, "", w); print w } \
	{ prev = $0 }' "$MAN5" | sort > "$TESTDIR/documented"
words $FLAGS $VALUES > "$TESTDIR/spec"
if cmp -s "$TESTDIR/documented" "$TESTDIR/spec"; then
	ok "popfetchrc(5) documents exactly the $(wc -l < "$TESTDIR/spec") config keywords"
else
	fail "popfetchrc(5) keywords differ from the config's (< documented, > config):"
	diff "$TESTDIR/documented" "$TESTDIR/spec" | grep '^[<>]' | sed 's/^/#   /'
fi

# lint FILE: checks a config as popfetchrc(5) describes it: sections,
# known keywords, flags and values, quoting, one delivery per section,
# unique accounts, each with a host and a delivery. A # inside an
# unquoted value is legal but in an example it is a misplaced comment.
lint() {
	awk -v flags=" $(echo $FLAGS) " -v values=" $(echo $VALUES) " \
	    -v deliveries=" $DELIVERIES " '
	function err(m) { printf "#   %s:%d: %s\n", FILENAME, FNR, m; bad = 1 }
	{
		sub(/\r$/, "")
		line = $0
		sub(/^[ \t]+/, "", line)
		sub(/[ \t]+$/, "", line)
	}
	line == "" || line ~ /^#/ { next }
	{
		kw = line
		sub(/[ \t].*/, "", kw)
		val = substr(line, length(kw) + 1)
		sub(/^[ \t]+/, "", val)
	}
	kw == "defaults" {
		if (val != "") err("defaults takes no value")
		sect = "defaults"; ndeliv = 0; next
	}
	kw == "account" {
		if (val == "" || val ~ /[ \t]/) err("bad account name")
		if (val in seen) {
			err("account " val " appears twice")
			sect = "(again)"; ndeliv = 0; next
		}
		seen[val] = 1; order[++n] = val; line_of[val] = FNR
		hashost[val] = dhost; hasdeliv[val] = ddeliv
		sect = val; ndeliv = 0; next
	}
	sect == "" { err("a setting before the first section") }
	index(flags, " " kw " ") {
		if (val != "" && val != "on" && val != "off")
			err(kw " takes nothing, on or off")
	}
	index(values, " " kw " ") {
		if (val == "") err(kw " needs a value")
		if (val ~ /^"/) {
			if (val !~ /^"([^"\\]|\\["\\])*"[ \t]*(#.*)?$/)
				err("bad quoting")
		} else if (index(val, "#")) {
			err("a # inside a value (comments go on their own lines)")
		}
	}
	!index(flags, " " kw " ") && !index(values, " " kw " ") {
		err("unknown keyword " kw); next
	}
	index(deliveries, " " kw " ") {
		if (ndeliv++) err("a second delivery in one section")
		if (sect == "defaults") ddeliv = 1; else hasdeliv[sect] = 1
	}
	kw == "host" { if (sect == "defaults") dhost = 1; else hashost[sect] = 1 }
	END {
		if (n == 0) { print "#   no account"; exit 1 }
		for (i = 1; i <= n; i++) {
			a = order[i]
			if (!hashost[a]) { FNR = line_of[a]; err("account " a " has no host") }
			if (!hasdeliv[a]) { FNR = line_of[a]; err("account " a " has no delivery") }
		}
		exit bad
	}' "$1"
}

# The lint itself must catch a broken config.
cat > "$TESTDIR/bad.conf" <<'EOF'
timeout 5
account a
    host h
    maildir ~/M
    mbox ~/m
    delete yes
    mda procmail # sort it
    colour red
account a
    port
account b
    mda "unterminated
EOF
lint "$TESTDIR/bad.conf" > "$TESTDIR/lint" 2>&1
lines=$(sed -n 's/^#   [^:]*:\([0-9]*\):.*/\1/p' "$TESTDIR/lint" | sort -n | tr '\n' ' ')
check "the config lint finds the faults of a bad config (lines $lines)" \
	test "$lines" = "1 5 6 7 7 8 9 10 11 12 "

for f in "$EXAMPLE" "$TESTDIR/man-example"; do
	[ -f "$f" ] || continue
	if lint "$f" > "$TESTDIR/lint" 2>&1; then
		ok "$(basename "$f") is a valid config ($(grep -c '^[ 	]*account ' "$f") accounts)"
	else
		fail "$(basename "$f") is not a valid config:"
		cat "$TESTDIR/lint"
	fi
done
for kw in maildir mbox mda password-cmd delete; do
	check "popfetch.conf.example shows $kw" \
		grep -Eq "^[[:blank:]]*$kw([[:blank:]]|\$)" "$EXAMPLE"
done
check "popfetch.conf.example passes %F to procmail" \
	grep -q '^[ 	]*mda procmail .*%F' "$EXAMPLE"
check "popfetch.conf.example has an OAuth 2.0 account" \
	grep -q '^[ 	]*auth xoauth2' "$EXAMPLE"

# --- the options the completions know ----------------------------------------

if "$POPFETCH" --help > "$TESTDIR/help" 2>&1; then
	# The options column: what an indented line starting with - holds
	# before the gap in front of its description.
	sed -n 's/^ *\(-.*\)/\1/p' "$TESTDIR/help" | sed 's/  .*//' |
		grep -o -- '--[a-z][a-z-]*' | sort -u > "$TESTDIR/helpopts"
	for comp in "$BASHCOMP" "$ZSHCOMP"; do
		missing=$(while read -r o; do
			grep -q -e "$o[]=[:space:]'\"[},]" -e "$o\$" "$comp" || printf '%s ' "$o"
		done < "$TESTDIR/helpopts")
		check "$(basename "$comp") knows every option of popfetch --help${missing:+ (missing: $missing)}" \
			test -z "$missing" -a -s "$TESTDIR/helpopts"
	done
else
	fail "popfetch --help failed"
fi

# A config file for the completions: accounts indented or not, with CRLF,
# quoted, after a commented one; and another file for -C.
mkdir -p "$TESTDIR/cfg/popfetch" "$TESTDIR/dirs/Maildir" "$TESTDIR/dirs/Mdir2"
: > "$TESTDIR/dirs/Mfile"
printf '# account fake\ndefaults\n    timeout 3\naccount work\n\taccount2 x\n  account   home\r\naccount "quoted"\n  host h\naccount last' \
	> "$TESTDIR/cfg/popfetch/config"
printf 'defaults\naccount other\n' > "$TESTDIR/other.conf"
: > "$TESTDIR/hosts"

# --- bash ----------------------------------------------------------------

cat > "$TESTDIR/bashcomp" <<'EOF'
. "$BASHCOMP" || exit 1
complete -p popfetch || exit 1
# comp LINE: the replies for the cursor at the end of LINE, as readline
# would ask with the default COMP_WORDBREAKS: "N:" and then "N:REPLY"
# for each, N counting the calls.
n=0
comp() {
	COMP_LINE=$1
	COMP_POINT=${#1}
	COMP_WORDS=()
	COMP_CWORD=0
	COMPREPLY=()
	_popfetch
	n=$((n + 1))
	echo "$n:"
	printf "$n:%s\\n" "${COMPREPLY[@]}"
}
D=$TESTDIR/dirs
comp 'popfetch '
comp 'popfetch w'
comp "popfetch -C $TESTDIR/other.conf "
comp "popfetch --config=$TESTDIR/other.conf -q "
comp "popfetch -C$TESTDIR/other.conf "
comp 'popfetch --auth '
comp 'popfetch --auth=scr'
comp 'popfetch -q --tls='
comp 'popfetch --import-uids '
comp "popfetch --import-uids=mpop:$D/M"
comp "popfetch --maildir $D/M"
comp "popfetch --mbox $D/M"
comp 'popfetch --password-f'
comp 'popfetch --port '
EOF
if need bash bash; then
	TESTDIR=$TESTDIR BASHCOMP=$BASHCOMP XDG_CONFIG_HOME=$TESTDIR/cfg \
	    HOSTFILE=$TESTDIR/hosts HOME=$TESTDIR \
	    bash --norc --noprofile "$TESTDIR/bashcomp" > "$TESTDIR/bashout" 2> "$TESTDIR/err"
	check "bash completion loads in bash --norc" \
		grep -q '^complete -F _popfetch popfetch$' "$TESTDIR/bashout"
	# One line per call: its replies sorted, separated by spaces.
	grep '^[0-9]*:' "$TESTDIR/bashout" | sort -t: -k1,1n -k2 |
		awk -F: '{ r = substr($0, length($1) + 2) } \
		$1 != last { if (NR > 1) print line; line = ""; last = $1 } \
		r != "" { line = line (line == "" ? "" : " ") r } \
		END { print line }' > "$TESTDIR/bashlines"
	D=$TESTDIR/dirs
	n=0
	expect_comp() {
		n=$((n + 1))
		got=$(sed -n "${n}p" "$TESTDIR/bashlines")
		if [ "$got" = "$2" ]; then
			ok "bash: $1"
		else
			fail "bash: $1: got \"$got\", expected \"$2\""
		fi
	}
	expect_comp "the accounts of \$XDG_CONFIG_HOME/popfetch/config" "home last quoted work"
	expect_comp "an account by its prefix" "work"
	expect_comp "the accounts of -C FILE" "other"
	expect_comp "the accounts of --config=FILE" "other"
	expect_comp "the accounts of -CFILE" "other"
	expect_comp "--auth methods" "apop cram-md5 login oauthbearer plain scram-sha-1 scram-sha-256 user xoauth2"
	expect_comp "--auth=scr" "scram-sha-1 scram-sha-256"
	expect_comp "--tls=" "implicit starttls"
	expect_comp "--import-uids formats" "fetchmail: getmail: mpop:"
	expect_comp "--import-uids=mpop:FILE (after readline's ':')" "$D/Maildir $D/Mdir2 $D/Mfile"
	expect_comp "--maildir completes directories only" "$D/Maildir $D/Mdir2"
	expect_comp "--mbox completes files" "$D/Maildir $D/Mdir2 $D/Mfile"
	expect_comp "an option by its prefix" "--password-fd --password-file"
	expect_comp "nothing for a number" ""
fi

# --- zsh -----------------------------------------------------------------

if need zsh zsh; then
	check "the zsh completion parses (zsh -n)" zsh -n "$ZSHCOMP"

	# Drives an interactive zsh on a pseudo-terminal (zsh/zpty): for each
	# line, presses Tab and records every match added, then waits for a
	# file the shell writes after it (no fixed sleep; 5 s at most).
	cat > "$TESTDIR/zcomp.zsh" <<'EOF'
zmodload zsh/zpty || exit 1
T=$1; shift
# wait_for FILE: reads what the shell prints until FILE exists (5 s at most).
wait_for() {
	local l
	integer tries
	for (( tries = 0; tries < 100; tries++ )); do
		while zpty -r -t z l; do :; done
		[[ -e $1 ]] && return 0
		sleep 0.05
	done
	return 1
}
zpty z zsh -f -i || exit 1
# compinit reads the first line of every function in $fpath (seconds on a
# slow file system): let it see only the completion system's core and
# _popfetch, and autoload the helpers (_files, _hosts, ...) by name.
zpty -w z "PROMPT= RPROMPT=; local -a more names
more=(\${(M)fpath:#*/Completion/(Unix|Zsh)})
fpath=(${(q)ZSHDIR} \${(M)fpath:#*/Completion(|/Base)})
autoload -Uz compinit; compinit -u -D; fpath+=(\$more)
names=(\${^more}/_*(N:t)); autoload -Uz -- \${names:#*.zwc}
compadd() { if (( \${@[(I)-[OAD]*]} )); then builtin compadd \"\$@\"; return; fi; local -a m; builtin compadd -O m \"\$@\"; print -r -l -- \$m >> \$OUT; builtin compadd \"\$@\"; }
: > $T/z0.done"
wait_for $T/z0.done || exit 1
integer i=0
for line in "$@"; do
	(( i++ ))
	zpty -w z "OUT=$T/z$i.out; : > \$OUT"
	zpty -n -w z "$line"$'\t'
	zpty -w z $'\C-u'": > $T/z$i.done"
	wait_for $T/z$i.done || break
done
zpty -d z
EOF
	ZSHDIR=$(dirname "$ZSHCOMP") XDG_CONFIG_HOME=$TESTDIR/cfg \
	    HOME=$TESTDIR HOSTFILE=$TESTDIR/hosts \
	    zsh -f "$TESTDIR/zcomp.zsh" "$TESTDIR" \
	    'popfetch ' "popfetch -C $TESTDIR/other.conf " 'popfetch --auth=' \
	    'popfetch --import-uids=' 'popfetch --fetch-l' \
	    > /dev/null 2> "$TESTDIR/err"
	zmatch() {
		if [ -e "$TESTDIR/z$1.done" ] && grep -qx -- "$3" "$TESTDIR/z$1.out"; then
			ok "zsh: $2"
		else
			fail "zsh: $2: no \"$3\" among: $(tr '\n' ' ' < "$TESTDIR/z$1.out" 2>/dev/null)"
		fi
	}
	znomatch() {
		if [ -e "$TESTDIR/z$1.done" ] && ! grep -qx -- "$3" "$TESTDIR/z$1.out"; then
			ok "zsh: $2"
		else
			fail "zsh: $2"
		fi
	}
	zmatch 1 "the accounts of \$XDG_CONFIG_HOME/popfetch/config" work
	zmatch 1 "a quoted account name" quoted
	zmatch 1 "a CRLF line's account name" home
	znomatch 1 "not a commented account" fake
	zmatch 2 "the accounts of -C FILE" other
	znomatch 2 "only those with -C FILE" work
	zmatch 3 "--auth= methods" scram-sha-256
	zmatch 4 "--import-uids formats" fetchmail
	zmatch 5 "an option by its prefix" --fetch-limit
fi

# --- systemd -------------------------------------------------------------

check "popfetch.service runs 'popfetch -q' once" \
	grep -qx 'ExecStart=popfetch -q' "$UNITS/popfetch.service"
check "popfetch.service is Type=oneshot" grep -qx 'Type=oneshot' "$UNITS/popfetch.service"
check "popfetch.service leaves the home directory writable" \
	env LC_ALL=C awk '/^(ProtectHome|ProtectSystem|ReadOnlyPaths|ReadWritePaths|InaccessiblePaths|PrivateUsers|TemporaryFileSystem)=/ { bad = 1 } END { exit bad }' \
	"$UNITS/popfetch.service"
check "popfetch.timer is Persistent=true" grep -qx 'Persistent=true' "$UNITS/popfetch.timer"
docs=$(sed -n 's/^Documentation=//p' "$UNITS/popfetch.service" "$UNITS/popfetch.timer" |
	tr ' ' '\n' | sed -n 's/^man:\(.*\)(\([0-9]\))$/\1.\2/p' | sort -u | tr '\n' ' ')
check "the units' Documentation= names the man pages ($docs)" \
	test "$docs" = "popfetch.1 popfetchrc.5 " -a -f "$MAN1" -a -f "$MAN5"
if command -v systemd-analyze > /dev/null 2>&1; then
	cal=$(sed -n 's/^OnCalendar=//p' "$UNITS/popfetch.timer")
	check "popfetch.timer fires every 10 minutes ($cal)" \
		sh -c 'systemd-analyze calendar "$1" 2>/dev/null | grep -q "Normalized form: \*-\*-\* \*:00/10:00$"' sh "$cal"

	# verify wants ExecStart to exist: the built popfetch. (Looking up
	# the Documentation= pages costs a second; they are checked below.)
	mkdir -p "$TESTDIR/units" "$TESTDIR/run"
	chmod 700 "$TESTDIR/run"
	cp "$UNITS/popfetch.timer" "$TESTDIR/units/"
	sed "s|^ExecStart=popfetch |ExecStart=$(cd "$(dirname "$POPFETCH")" && pwd)/$(basename "$POPFETCH") |" \
		"$UNITS/popfetch.service" > "$TESTDIR/units/popfetch.service"
	rc=0
	XDG_RUNTIME_DIR=$TESTDIR/run systemd-analyze verify --user --man=no \
		"$TESTDIR/units/popfetch.timer" "$TESTDIR/units/popfetch.service" \
		> "$TESTDIR/err" 2>&1 || rc=$?
	check "systemd-analyze verify accepts the units (exit $rc, quiet)" \
		test "$rc" -eq 0 -a ! -s "$TESTDIR/err"
	# ... and would catch a mistake.
	sed 's/^Persistent=/Persistant=/' "$UNITS/popfetch.timer" > "$TESTDIR/units/popfetch.timer"
	XDG_RUNTIME_DIR=$TESTDIR/run systemd-analyze verify --user --man=no \
		"$TESTDIR/units/popfetch.timer" "$TESTDIR/units/popfetch.service" \
		> "$TESTDIR/err2" 2>&1
	check "systemd-analyze verify flags a misspelt key" grep -q Persistant "$TESTDIR/err2"
else
	echo "note: systemd-analyze is not installed; the units were not verified"
fi

# --- cron ----------------------------------------------------------------

grep -v -e '^#' -e '^[[:space:]]*$' "$S/contrib/popfetch.cron" > "$TESTDIR/cron"
check "popfetch.cron has one entry, every 10 minutes, for all accounts" \
	test "$(cat "$TESTDIR/cron")" = '*/10 * * * * popfetch -q'

# --- procmail ------------------------------------------------------------

check "procmail-example.sh is valid sh" sh -n "$S/contrib/procmail-example.sh"
if need procmail procmail; then
	H=$TESTDIR/phome
	mkdir -p "$H/Maildir"
	sh "$S/contrib/procmail-example.sh" > "$H/.procmailrc"
	printf 'From: a@example.org\nX-Spam-Flag: YES\nSubject: spam\n\nb\n' > "$TESTDIR/m1"
	printf 'From: a@example.org\nList-Id: Users <popfetch-users.lists.example.org>\nSubject: list\n\nb\n' > "$TESTDIR/m2"
	printf 'From: a@example.org\nSubject: plain\n\nb\n' > "$TESTDIR/m3"
	rc=0
	for m in m1 m2 m3; do
		procmail -f a@example.org HOME="$H" "$H/.procmailrc" < "$TESTDIR/$m" || rc=$?
	done
	check "procmail accepts the example recipe (exit $rc)" test "$rc" -eq 0
	check "the recipe files flagged spam in .Junk" grep -q 'Subject: spam' "$H"/Maildir/.Junk/new/*
	check "the recipe files the list in .lists.popfetch" grep -q 'Subject: list' "$H"/Maildir/.lists.popfetch/new/*
	check "the rest goes to the inbox" test "$(cat "$H"/Maildir/new/* | grep -c '^Subject:')" -eq 1 -a \
		"$(grep -h '^Subject:' "$H"/Maildir/new/* 2>/dev/null)" = 'Subject: plain'
fi

finish
