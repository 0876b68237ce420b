#!/bin/sh
# Fails, listing the files, when a C source is not formatted as .clang-format says.
cd "${1:-.}" || exit 2
status=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*'); do
    if ! clang-format --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not formatted: $f (run: clang-format -i $f)"
        status=1
    fi
done
exit $status
