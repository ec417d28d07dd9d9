#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/t-tls-race.sh -- the STLS session-ticket race against a real dovecot
# (make check-slow): dovecot's TLS 1.3 session tickets arrive right after
# the STLS handshake, before popfetch sends CAPA; strace slows popfetch's
# poll() so that they always do. The setup and the check are t-tls.sh's
# (see its header); this runs only that part of it.
TLS_PART=race
. "${srcdir:-.}/tests/t-tls.sh"
