#!/usr/bin/env bash
# baseline.sh check|update LIB - libevsig's ABI against the committed baseline
#
#   check   dumps LIB's ABI and compares it with abi/libevsig.so.0.abi:
#           exit 0 when they match or LIB only adds functions (abidiff lists
#           them), 1 on any other change -- a function removed or moved to
#           another version node (abidiff's "incompatible" bit, 8), or a
#           public type or signature changed (its "change" bit, 4, which
#           includes harmless-looking ones such as a field in padding: a
#           human decides, by updating the baseline on purpose).
#   update  rewrites the baseline from LIB (see CONTRIBUTING.md, "ABI").
#
# Both sides are dumped the same way (abidw from Debian's abigail-tools,
# from LIB's DWARF, so LIB needs debug info: meson's default debug and
# debugoptimized builds have it): only what include/ declares
# (--drop-private-types, --exported-interfaces-only), no source locations,
# no paths, hashed type ids. With gcc the dump is then byte for byte the
# same at any -O level and in any build directory, so a baseline
# regenerated with no ABI change is the one committed; clang's dump orders
# things its own way but compares equal. Comparing two dumps, not
# the baseline with the binary, matters: abidiff --headers-dir2 would
# filter out every public type of a baseline without locations as private.
#
# Without abidw, or with a LIB that has no debug info, check skips (exit 77,
# meson's skip) unless EVSIG_ABI_REQUIRED=1, as in .ci/run.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
headers=$(dirname "$here")/include
baseline=$here/libevsig.so.0.abi

if [ $# -ne 2 ] || { [ "$1" != check ] && [ "$1" != update ]; }; then
    echo "usage: $0 check|update LIB" >&2
    exit 2
fi
mode=$1 lib=$2

skip() {
    echo "$*"
    if [ "$mode" = update ] || [ "${EVSIG_ABI_REQUIRED:-0}" = 1 ]; then
        exit 1
    fi
    echo "skipped (EVSIG_ABI_REQUIRED=1 makes this an error)"
    exit 77
}
if ! command -v abidw >/dev/null || ! command -v abidiff >/dev/null; then
    skip "abidw/abidiff not found (Debian: apt-get install abigail-tools)"
fi
readelf -S "$lib" | grep -q '\.debug_info' ||
    skip "$lib has no debug info (build with -g: --buildtype=debug or debugoptimized)"

dump() {   # dump LIB OUT
    abidw --headers-dir "$headers" --drop-private-types --exported-interfaces-only \
        --drop-undefined-syms --no-show-locs --no-comp-dir-path \
        --no-corpus-path --no-elf-needed --type-id-style hash \
        --out-file "$2" "$1"
    # Translation units are named by their path from the build directory:
    # keep only the part under the source tree.
    sed -i "s|path='[^']*/src/|path='src/|" "$2"
}

if [ "$mode" = update ]; then
    dump "$lib" "$baseline"
    echo "wrote $baseline from $lib"
    exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dump "$lib" "$tmp/new.abi"
rc=0
abidiff "$baseline" "$tmp/new.abi" >"$tmp/report" || rc=$?
cat "$tmp/report"
if [ "$rc" = 0 ]; then
    if grep -q '[1-9][0-9]* Added function' "$tmp/report"; then
        echo "ok: compatible with the baseline; the functions above are new" \
             "(the baseline takes them when their release is made)"
    else
        echo "ok: the ABI is the baseline's"
    fi
    exit 0
fi
if ((rc & 3)); then
    echo "FAIL: abidiff failed (exit $rc)"
elif ((rc & 8)); then
    echo "FAIL: incompatible ABI change, above (a function removed or moved to another node, the soname)"
else
    echo "FAIL: ABI change, above (a public type or a function's signature)"
fi
echo "If the change is meant, update the baseline on purpose: CONTRIBUTING.md, \"ABI\"."
exit 1
