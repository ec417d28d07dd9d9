#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/t-solid.sh -- the interoperability matrix against solid.
IX_SERVER=solid
# shellcheck source=tests/interop/matrix.sh
. "${srcdir:-.}/tests/interop/matrix.sh"
