#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/setup.sh -- fetch and unpack the real POP3 servers of the
# interoperability tests (tests/interop/t-*.sh) into a private tree.
#
#   sh tests/interop/setup.sh DIR [SERVER...]
#
# SERVER is one of cyrus courier mailutils popa3d solid (default: all).
# For each, the server's own Debian packages are downloaded into DIR/debs
# (apt-get download) and unpacked into DIR/root/SERVER (dpkg-deb -x); they
# are never installed: most of them conflict with dovecot-pop3d (Conflicts:
# pop3-server), which the rest of the suite needs.  What the unpacked
# binaries link against (their "lib*" dependencies) and the tools the tests
# use (socat, openssl, db-util, sasl2-bin) are installed with apt-get, only
# those that are missing, and only as root.  Every binary is then checked
# with ldd (again whenever something was unpacked or installed).
# Idempotent and fast: a server already unpacked (DIR/root/SERVER/.done
# names the same .deb files) costs no more than one dpkg-query in all.  Prints one line per
# server; on failure says what to do and exits 1.

set -u
export DEBIAN_FRONTEND=noninteractive LC_ALL=C

die() {
	printf 'interop setup: %s\n' "$*" >&2
	exit 1
}

[ $# -ge 1 ] || die "usage: setup.sh DIR [cyrus|courier|mailutils|popa3d|solid ...]"
IX=$1
shift
[ $# -gt 0 ] || set -- cyrus courier mailutils popa3d solid

# The packages unpacked for each server (never installed).
pkgs_of() {
	case $1 in
	cyrus)     echo cyrus-common cyrus-pop3d ;;
	courier)   echo courier-base courier-pop courier-authlib courier-authdaemon courier-authlib-userdb ;;
	mailutils) echo mailutils-pop3d ;;
	popa3d)    echo popa3d ;;
	solid)     echo solid-pop3d ;;
	*)         die "unknown server '$1' (cyrus courier mailutils popa3d solid)" ;;
	esac
}

# The binaries each must be able to load (relative to its root).
bins_of() {
	case $1 in
	cyrus)     echo usr/lib/cyrus/bin/master usr/lib/cyrus/bin/pop3d usr/lib/cyrus/bin/lmtpd usr/lib/cyrus/bin/deliver usr/lib/cyrus/bin/mbpath ;;
	courier)   echo usr/sbin/couriertcpd usr/lib/courier/courier/courierpop3login usr/lib/courier/courier/courierpop3d usr/lib/courier/courier-authlib/authdaemond usr/lib/courier/courier/makedatprog usr/sbin/userdbpw usr/bin/couriertls usr/lib/courier-authlib/libauthuserdb.so ;;
	mailutils) echo usr/sbin/pop3d ;;
	popa3d)    echo usr/sbin/popa3d ;;
	solid)     echo usr/sbin/solid-pop3d ;;
	esac
}

# Tools the tests themselves need.
TOOLS="socat openssl db-util sasl2-bin libpam-modules"

mkdir -p "$IX/debs" "$IX/root" || die "cannot create $IX"
IX=$(cd "$IX" && pwd -P) || exit 1


updated=
apt_update() {
	[ -n "$updated" ] && return 0
	updated=1
	apt-get update -qq >"$IX/apt-update.log" 2>&1
}

# download PKG: DIR/debs/PKG_*.deb, downloaded unless there.
download() {
	set -- "$1" "$IX"/debs/"$1"_*.deb
	[ -f "$2" ] && return 0
	(cd "$IX/debs" && apt-get download "$1" >"$IX/download.log" 2>&1) && return 0
	apt_update
	(cd "$IX/debs" && apt-get download "$1" >"$IX/download.log" 2>&1) ||
		{ cat "$IX/download.log" >&2; die "apt-get download $1 failed (network? run apt-get update)"; }
}

deb_of() {
	for _f in "$IX"/debs/"$1"_*.deb; do echo "$_f"; done
}

wanted=
want() {  # want PKG: to be installed if it is not (checked at the end)
	wanted="$wanted $1"
}

for t in $TOOLS; do want "$t"; done
for s in "$@"; do
	debs=
	for p in $(pkgs_of "$s"); do
		download "$p"
		debs="$debs $(deb_of "$p")"
	done
	# The library dependencies of the unpacked packages (first choice of
	# each alternative), without the packages unpacked themselves.
	for d in $debs; do
		dpkg-deb -f "$d" Depends | tr ',' '\n' | sed 's/|.*//; s/(.*//; s/:any//; s/[[:space:]]//g' |
		while read -r dep; do
			case $dep in lib*) ;; *) continue ;; esac
			case " $(pkgs_of "$s") " in *" $dep "*) continue ;; esac
			echo "$dep"
		done
	done >"$IX/deps-$s"
	for dep in $(sort -u "$IX/deps-$s"); do want "$dep"; done
	stamp=$IX/root/$s/.done
	if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$(echo $debs)" ]; then
		rm -rf "$IX/root/$s"
		mkdir -p "$IX/root/$s" || die "cannot create $IX/root/$s"
		for d in $debs; do
			dpkg-deb -x "$d" "$IX/root/$s" || die "dpkg-deb -x $d failed"
		done
		echo $debs >"$stamp"
		rm -f "$IX/root/$s.ldd-ok"
	fi
done

# One dpkg-query for all of them: the ones not installed.
wanted=$(echo $wanted | tr ' ' '\n' | sort -u)
# shellcheck disable=SC2086
have=$(dpkg-query -W -f='${Package} ${Status}\n' $wanted 2>/dev/null | awk '/ installed$/ { print $1 }')
need=
for p in $wanted; do
	echo "$have" | grep -qx "$p" || need="$need $p"
done
if [ -n "$need" ]; then
	[ "$(id -u)" -eq 0 ] ||
		die "missing packages:$need; install them (as root: apt-get install --no-install-recommends$need)"
	echo "interop setup: apt-get install$need"
	apt-get install -y -qq --no-install-recommends $need >"$IX/apt.log" 2>&1 || {
		apt_update
		apt-get install -y -qq --no-install-recommends $need >"$IX/apt.log" 2>&1 ||
			{ tail -20 "$IX/apt.log" >&2; die "apt-get install$need failed"; }
	}
fi

for s in "$@"; do
	R=$IX/root/$s
	[ -f "$R.ldd-ok" ] && [ -z "$need" ] && {
		echo "interop setup: $s ready in $R"
		continue
	}
	LD=$R/usr/lib:$R/usr/lib/x86_64-linux-gnu:$R/usr/lib/courier-authlib
	for b in $(bins_of "$s"); do
		[ -f "$R/$b" ] || die "$s: $R/$b is missing from the unpacked packages"
		miss=$(LD_LIBRARY_PATH=$LD ldd "$R/$b" 2>&1 | grep 'not found') &&
			die "$s: $b cannot load:$(echo "$miss" | awk '{printf " %s", $1}'); install the library packages that provide them"
	done
	: >"$R.ldd-ok"
	echo "interop setup: $s ready in $R ($(sed 's|[^ ]*/||g' "$R/.done"))"
done
exit 0
