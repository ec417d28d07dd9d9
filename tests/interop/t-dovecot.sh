#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/t-dovecot.sh -- the interoperability matrix against dovecot.
IX_SERVER=dovecot
# shellcheck source=tests/interop/matrix.sh
. "${srcdir:-.}/tests/interop/matrix.sh"
