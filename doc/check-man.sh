#!/usr/bin/env bash
# check-man.sh - the checks the man pages must pass, run by meson test
# (test 'man-lint', suite doc) on the pages as built:
#
#   check-man.sh MANDIR SYMFILE [PROGRAM...]
#
# MANDIR holds man1/ and man3/ (build/doc). Checked:
#   1. every function exported in SYMFILE (src/libevsig.sym) has a page
#      or a link page in man3/, so `man NAME` answers for each;
#   2. a link page is one line, ".so man3/PAGE.3", PAGE a page of its own;
#   3. groff -ww (every warning) formats every page without a word, and so
#      do mandoc -Tlint (every level, style included; its one remark on
#      ".so" itself is by design: .so links are what Debian's dh_installman
#      turns into symlinks) and man-db's `man --warnings -l`, when
#      installed;
#   4. for each PROGRAM, man1/PROGRAM.1 names exactly the long options of
#      `PROGRAM --help`, and every short one.
# Exits 77 (skipped) when groff is missing and 1-2 passed; 1 on a failure.
set -euo pipefail

mandir=$1 sym=$(realpath "$2")
shift 2
progs=()
for prog in "$@"; do progs+=("$(realpath "$prog")"); done
cd "$mandir"
fail=0
bad() { echo "FAIL: $*"; fail=1; }

# 1. Every exported function answers `man NAME`.
mapfile -t names < <(sed -n 's/^[[:space:]]*\(evsig_[a-z0-9_]*\);$/\1/p' "$sym")
[ "${#names[@]}" -gt 0 ] || bad "no function found in $sym"
for name in "${names[@]}"; do
    [ -f "man3/$name.3" ] || bad "$name is exported but has no man3/$name.3"
done
echo "${#names[@]} exported functions, each with a page or a link"

# 2. Link pages point at real pages.
pages=() links=0
for f in man3/*.3 man1/*.1; do
    [ -f "$f" ] || continue
    if head -n1 "$f" | grep -q '^\.so '; then
        target=$(sed -n '1s/^\.so //p' "$f")
        [ "$(wc -l <"$f")" -eq 1 ] || bad "$f: a link page is one .so line"
        [[ $target =~ ^man3/[a-z0-9_]+\.3$ ]] || bad "$f: bad target $target"
        if [ ! -f "$target" ] || head -n1 "$target" | grep -q '^\.so '; then
            bad "$f: $target is not a page"
        fi
        links=$((links + 1))
    else
        pages+=("$f")
    fi
done
echo "${#pages[@]} pages, $links link pages"

# 4. The section-1 pages against the programs' own --help.
options() {   # the long options (and with -s the short ones) in stdin
    if [ "${1:-}" = -s ]; then
        grep -oE '(^|[[:space:],])-[a-zA-Z]\b' | tr -d ' ,' | sort -u
    else
        grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u
    fi
}
for prog in "${progs[@]}"; do
    page=man1/$(basename "$prog").1
    if [ ! -f "$page" ]; then
        bad "$prog has no $page"
        continue
    fi
    help=$("$prog" --help)
    text=$(sed 's/\\-/-/g' "$page")
    diff <(options <<<"$help") <(options <<<"$text") >/dev/null ||
        bad "$page: long options differ from --help:" \
            "$(diff <(options <<<"$help") <(options <<<"$text") | grep '^[<>]' | tr '\n' ' ')"
    missing=$(comm -23 <(options -s <<<"$help") <(options -s <<<"$text"))
    [ -z "$missing" ] || bad "$page: lacks the short options" $missing
done
[ "${#progs[@]}" -eq 0 ] || echo "${#progs[@]} program pages checked against their --help"

# 3. Lint, with every tool that is installed.
if ! command -v groff >/dev/null; then
    [ "$fail" = 0 ] || exit 1
    echo "groff is not installed (Debian: groff-base): lint skipped"
    exit 77
fi
lint() {   # lint TOOL FILE: TOOL's messages about FILE, if any
    local out
    out=$("$@" 2>&1 >/dev/null | grep -v 'WARNING: \.so is fragile' || true)
    [ -z "$out" ] || bad "$(printf '%s\n' "$*:" "$out")"
}
all=(man3/*.3 man1/*.1)
[ -e "${all[-1]}" ] || all=(man3/*.3)
for f in "${all[@]}"; do
    lint groff -ww -z -man -I . "$f"
done
tools="groff -ww"
if command -v mandoc >/dev/null; then
    for f in "${all[@]}"; do
        lint mandoc -Tlint "$f"
    done
    tools+=", mandoc -Tlint"
fi
if command -v man >/dev/null; then
    for f in "${all[@]}"; do
        MANWIDTH=80 lint man --warnings -E UTF-8 -l "$f"
    done
    tools+=", man --warnings -l"
fi
echo "${#all[@]} files linted with $tools"
exit "$fail"
