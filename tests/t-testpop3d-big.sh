#!/bin/bash
# SPDX-License-Identifier: ISC
# tests/t-testpop3d-big.sh -- testpop3d's listing of a million messages
# (make check-slow): sent in pieces, fast, in bounded memory, exactly. The
# setup and the check are t-testpop3d.sh's; this runs only that part.
TESTPOP3D_PART=big
. "${srcdir:-$(dirname "$0")/..}/tests/t-testpop3d.sh"
