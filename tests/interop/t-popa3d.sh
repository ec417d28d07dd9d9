#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/t-popa3d.sh -- the interoperability matrix against popa3d.
IX_SERVER=popa3d
# shellcheck source=tests/interop/matrix.sh
. "${srcdir:-.}/tests/interop/matrix.sh"
