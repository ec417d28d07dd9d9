#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/t-mailutils.sh -- the interoperability matrix against mailutils.
IX_SERVER=mailutils
# shellcheck source=tests/interop/matrix.sh
. "${srcdir:-.}/tests/interop/matrix.sh"
