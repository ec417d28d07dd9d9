#!/bin/sh
# SPDX-License-Identifier: ISC
# tests/interop/t-courier.sh -- the interoperability matrix against courier.
IX_SERVER=courier
# shellcheck source=tests/interop/matrix.sh
. "${srcdir:-.}/tests/interop/matrix.sh"
