#!/usr/bin/env bash
# check-exports.sh LIB HEADER SYMFILE SONAME - the shared library exports
# exactly what evsig.h declares, each name in its version node.
#
#   1. LIB's DT_SONAME is SONAME (libevsig.so.0 for every 0.x release).
#   2. The functions declared in HEADER (every `evsig_name(` outside a
#      comment), the names in SYMFILE's version nodes and the symbols LIB
#      defines and exports (GLOBAL or WEAK, not the nodes' own ABS symbols)
#      are one set: nothing undocumented leaks, nothing documented is
#      missing, the version script holds no stale name.
#   3. Each exported symbol carries, as its default version (name@@NODE),
#      the node SYMFILE puts it in.
#
# Run by `meson test` (suite abi) on the build's shared library; readelf
# comes with binutils, which the compiler needs anyway.
set -euo pipefail

if [ $# -ne 4 ]; then
    echo "usage: $0 LIB HEADER SYMFILE SONAME" >&2
    exit 2
fi
lib=$1 header=$2 symfile=$3 soname=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# 1. The soname.
got=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]$/\1/p')
if [ "$got" = "$soname" ]; then
    echo "ok: SONAME $got"
else
    echo "FAIL: SONAME is '${got:-none}', expected $soname"
    fail=1
fi

# 2. Three lists of "name node" (the header's with no node).
perl -0777 -pe 's{/\*.*?\*/}{}gs' "$header" |
    grep -oE '\bevsig_[a-z0-9_]+ *\(' | tr -d ' (' | sort -u >"$tmp/header"
perl -0777 -ne 's{/\*.*?\*/}{}gs;
    while (/\b(EVSIG_[0-9]+\.[0-9]+)\s*\{(.*?)\}/gs) {
        my ($node, $body) = ($1, $2);
        $body =~ s/\blocal:.*//s;
        print "$1 $node\n" while $body =~ /\b(evsig_[a-z0-9_]+)\s*;/g;
    }' "$symfile" | sort >"$tmp/sym"
readelf --dyn-syms -W "$lib" |
    awk '$5 == "GLOBAL" || $5 == "WEAK" { if ($7 != "UND" && $7 != "ABS") print $8 }' |
    sed 's/@@\{0,1\}/ /' | sort >"$tmp/exported"

compare() {   # compare WHAT LIST_A NAME_A LIST_B NAME_B (sorted lists)
    if cmp -s "$2" "$4"; then
        echo "ok: $1 ($(wc -l <"$2") names)"
    else
        echo "FAIL: $1:"
        comm -23 "$2" "$4" | sed "s|^|  only in $3: |"
        comm -13 "$2" "$4" | sed "s|^|  only in $5: |"
        fail=1
    fi
}
cut -d' ' -f1 "$tmp/sym" | sort >"$tmp/sym-names"
cut -d' ' -f1 "$tmp/exported" | sort >"$tmp/exported-names"
compare "exported symbols are evsig.h's functions" \
    "$tmp/header" "$header" "$tmp/exported-names" "$lib"
compare "the version script names evsig.h's functions" \
    "$tmp/header" "$header" "$tmp/sym-names" "$symfile"

# 3. Each symbol's version node, as the default version.
if grep -v '@@' <(readelf --dyn-syms -W "$lib" |
        awk '$7 != "UND" && $7 != "ABS" && $8 ~ /^evsig_/ { print $8 }') >"$tmp/nodefault"; then
    echo "FAIL: exported without a default version (name@@node):"
    sed 's/^/  /' "$tmp/nodefault"
    fail=1
fi
compare "each symbol carries its node" \
    "$tmp/sym" "$symfile" "$tmp/exported" "$lib"

exit $fail
