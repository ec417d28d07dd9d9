#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/t-cyrus.sh -- the interoperability matrix against cyrus.
IX_SERVER=cyrus
# shellcheck source=tests/interop/matrix.sh
. "${srcdir:-.}/tests/interop/matrix.sh"
