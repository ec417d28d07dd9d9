#!/bin/sh
# SPDX-License-Identifier: ISC
# Runs popfetch under valgrind memcheck for the session tests: any error or
# definite leak makes the run exit 99, which fails the test that ran it.
# Usage: POPFETCH="tests/valgrind.sh" with POPFETCH_REAL set to the binary.
exec valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	"${POPFETCH_REAL:?}" "$@"
