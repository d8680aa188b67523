#!/usr/bin/env bash
# run.sh TREE - build and run a program against an installed evsig, the
# three ways its users build theirs, and check each one works.
#
# TREE is either an install prefix (meson setup --prefix=TREE; meson
# install) or a staging root (meson install --destdir TREE): the script
# finds evsig.pc below TREE and tells which from the prefix it names.
#
#   cmake      find_package(evsig) (CMAKE_PREFIX_PATH at the prefix):
#              evsig::evsig, and evsig::evsig_static
#   meson      dependency('evsig') through pkg-config, shared and static
#   pkgconfig  cc main.c $(pkg-config --cflags --libs evsig)
#
# A staging root is reached as a sysroot (PKG_CONFIG_SYSROOT_DIR), the
# CMake package finds itself from its own location, and LD_LIBRARY_PATH
# points at the tree's library: every shared build must load libevsig.so.0
# from TREE, which ldd checks, and every static one must not load it at all.
# Builds go to a temporary directory; the source tree is left as it was.
set -euo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 PREFIX_OR_DESTDIR" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
tree=$(cd "$1" && pwd)

pc=$(find "$tree" -name evsig.pc -path '*/pkgconfig/*' | head -n 1)
if [ -z "$pc" ]; then
    echo "no evsig.pc below $tree: not an installed evsig" >&2
    exit 1
fi
prefix=$(sed -n 's/^prefix=//p' "$pc")
if [ "$tree" != / ] && [ "${pc#"$tree$prefix"/}" != "$pc" ]; then
    root=$tree                  # a staging root: TREE + prefix
    export PKG_CONFIG_SYSROOT_DIR=$tree
elif [ "${pc#"$prefix"/}" != "$pc" ]; then
    root=                       # the prefix itself
else
    echo "$pc names prefix $prefix, neither below $tree nor $tree itself" >&2
    exit 1
fi
libdir=$(dirname "$(find "$root$prefix" -name 'libevsig.so.0' | head -n 1)")
echo "evsig installed at $root$prefix (pkg-config: $pc, library: $libdir)"

PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH
export CMAKE_PREFIX_PATH=$root$prefix
export LD_LIBRARY_PATH=$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
quiet() {   # run "$@", showing its output only if it fails
    "$@" >"$work/log" 2>&1 || { cat "$work/log"; return 1; }
}

check() {   # check KIND PROGRAM: PROGRAM links evsig as KIND and works
    local kind=$1 prog=$2 loaded
    loaded=$(ldd "$prog" | awk '$1 == "libevsig.so.0" { print $3 }')
    case $kind in
    shared)
        if [ "$(dirname "$loaded")" != "$libdir" ]; then
            echo "FAIL: $prog loads libevsig.so.0 from '${loaded:-nowhere}', not $libdir"
            return 1
        fi ;;
    static)
        if [ -n "$loaded" ]; then
            echo "FAIL: $prog, linked statically, loads $loaded"
            return 1
        fi ;;
    esac
    timeout 30 "$prog"
}

echo "--- cmake: find_package(evsig)"
quiet cmake -S "$here/cmake" -B "$work/cmake"
quiet cmake --build "$work/cmake"
check shared "$work/cmake/consumer"
check static "$work/cmake/consumer-static"

echo "--- meson: dependency('evsig')"
quiet meson setup "$work/meson" "$here/meson"
quiet ninja -C "$work/meson"
check shared "$work/meson/consumer"
check static "$work/meson/consumer-static"

echo "--- pkgconfig: cc main.c \$(pkg-config --cflags --libs evsig)"
# shellcheck disable=SC2046 # the flags are words
cc -Wall -Wextra -Werror "$here/main.c" -o "$work/consumer-pc" \
    $(pkg-config --cflags --libs evsig)
check shared "$work/consumer-pc"

echo "all consumers built and ran against $root$prefix"
