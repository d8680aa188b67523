#!/bin/bash
# SPDX-License-Identifier: MIT
#
# timeout-suite.sh - coreutils timeout(1)'s rules, checked from the shell.
#
# Usage: timeout-suite.sh TIMEOUT
#
# Runs TIMEOUT (a path or a name in PATH) the way scripts run timeout(1)
# and checks what they rely on: exit statuses (the command's own, 124 on
# timeout, 125 for timeout's own errors, 126 and 127 when the command
# cannot be run), -s/--signal, -k/--kill-after, --preserve-status,
# --foreground, --verbose, duration syntax, the signals it forwards, the
# process group it signals, and what it does when started with SIGCHLD
# ignored, SIGALRM blocked or a child it did not start. The rules are
# coreutils 9.1's: the suite passes against GNU timeout, and is how
# examples/timeout/ (evsig-timeout) shows that it is a drop-in.
#
# Environment:
#   TIMEOUT_WRAPPER      words put before TIMEOUT on every run, e.g.
#                        "valgrind --trace-children=yes --error-exitcode=99 -q"
#   TIMEOUT_REQUIRE_GNU  if set, skip (exit 77) unless TIMEOUT --version
#                        says GNU coreutils (to test the system's timeout)
#
# Exit status: 0 if every check passed, 1 if one failed, 77 skipped, 99 on
# a broken setup. Output is one "ok N - ..." / "not ok N - ..." line per
# check, with what was seen under each failure.
#
# Timing, for a loaded 2-core VM and for valgrind: timeouts are 0.1 s,
# commands that must be killed would run 10 s or more, and "fast" means
# within 4-8 s, so a loaded machine makes no check fail (a failing one
# costs time). A command that must have set its traps before it is
# signalled writes a file when it has; the suite waits for that file
# (20 s bound) and then sends timeout SIGALRM, which is its timeout, rather
# than racing a timer against the command's start. The whole suite takes
# about 12 s (about 100 s under valgrind).
#
# The commands are `sh -c` scripts (dash on Debian) with traps that write
# what they received to files. perl, where present, supplies what the
# shell cannot: an ignored SIGCHLD, a blocked SIGALRM, and the raw wait
# status (died of a signal or exited, and whether it dumped core).

set -u

if [ $# -ne 1 ]; then
    echo "usage: $0 TIMEOUT" >&2
    exit 99
fi
bin=$1
case $bin in
    /*) ;;
    */*) bin=$PWD/$bin ;;   # some checks run in another directory
esac
wrapper=${TIMEOUT_WRAPPER:-}

export LC_ALL=C   # messages in English, 'quotes' as in the C locale

if [ -n "${TIMEOUT_REQUIRE_GNU:-}" ] &&
   ! "$bin" --version 2>/dev/null | head -n 1 | grep -q 'GNU coreutils'; then
    echo "1..0 # SKIP $bin is not GNU coreutils' timeout"
    exit 77
fi
if ! command -v "$bin" >/dev/null 2>&1; then
    echo "$0: $bin: not found" >&2
    exit 99
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/timeout-suite.XXXXXX") || exit 99
# Every command the suite starts ends by itself: the sleeps are bounded,
# and the loops run while a file in $tmp exists (see trap_cmd).
cleanup() {
    rm -rf "$tmp"
}
trap cleanup EXIT

have_perl=
command -v perl >/dev/null 2>&1 && have_perl=1

# ---------------------------------------------------------------------------
# Harness
# ---------------------------------------------------------------------------

n=0 failed=0 skipped=0
out=$tmp/out err=$tmp/err
rc= elapsed_ms=

# Under a wrapper, its own diagnostics are not timeout's output: valgrind's
# "--PID-- WARNING: unhandled syscall" (valgrind 3.19 does not know
# pidfd_open) and "==PID== ..." lines are dropped from stderr. Errors it
# finds still show, as its --error-exitcode.
strip_wrapper_lines() {
    [ -n "$wrapper" ] || return 0
    grep -vE '^(--|==)[0-9]+(--|==)( |$)' "$err" >"$err.strip"
    mv "$err.strip" "$err"
}

now_us() {
    local t=${EPOCHREALTIME:-}
    if [ -n "$t" ]; then
        echo "${t/./}"
    else
        echo $(( $(date +%s%N) / 1000 ))
    fi
}

# run ARG...: TIMEOUT ARG... in the foreground; sets rc and elapsed_ms,
# stdout in $out, stderr in $err.
run() {
    run_under -- "$@"
}

# run_under PREFIX... -- ARG...: as run, with TIMEOUT exec'ed by PREFIX
# (a command that sets something up and then execs its arguments).
run_under() {
    local prefix=()
    while [ "$1" != -- ]; do
        prefix+=("$1")
        shift
    done
    shift
    local t0 t1
    t0=$(now_us)
    # The braces' 2>/dev/null silences bash's own "Killed" notices.
    # shellcheck disable=SC2086  # the wrapper is a list of words
    { "${prefix[@]}" $wrapper "$bin" "$@" >"$out" 2>"$err"; rc=$?; } 2>/dev/null
    t1=$(now_us)
    strip_wrapper_lines
    elapsed_ms=$(( (t1 - t0) / 1000 ))
}

# start ARG...: TIMEOUT ARG... in the background; its pid in $bgpid (the
# timeout process itself: bash forks and execs a simple command).
start() {
    start_under -- "$@"
}

# start_under PREFIX... -- ARG...: as start, exec'ed by PREFIX (see
# run_under); $bgpid is still timeout's pid.
start_under() {
    local prefix=()
    while [ "$1" != -- ]; do
        prefix+=("$1")
        shift
    done
    shift
    # shellcheck disable=SC2086
    "${prefix[@]}" $wrapper "$bin" "$@" >"$out" 2>"$err" &
    bgpid=$!
}

# proc_state PID: PID's state letter (R, S, T, Z, ...), from the field
# after "(comm)" in /proc/PID/stat; empty if PID is gone.
proc_state() {
    sed 's/.*) \(.\).*/\1/' "/proc/$1/stat" 2>/dev/null
}

# running PID: PID exists and has not exited (a zombie has).
running() {
    local state
    state=$(proc_state "$1")
    [ -n "$state" ] && [ "$state" != Z ]
}

# pgid PID: PID's process group.
pgid() {
    sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f3
}

# finish: wait for the background TIMEOUT; sets rc.
finish() {
    { wait "$bgpid"; rc=$?; } 2>/dev/null
    strip_wrapper_lines
}

# poll SECONDS COMMAND...: COMMAND every 20 ms until it succeeds; 1 if it
# did not within SECONDS (an integer).
poll() {
    local limit=$(( $1 * 50 )) i=0
    shift
    until "$@"; do
        i=$((i + 1))
        [ $i -gt $limit ] && return 1
        sleep 0.02
    done
    return 0
}

# has_line FILE LINE: FILE exists and holds LINE.
has_line() {
    [ -e "$1" ] && grep -qx -- "$2" "$1"
}

# is_stopped PID: the process is stopped (state T).
is_stopped() {
    [ "$(proc_state "$1")" = T ]
}

# wait_file FILE [SECONDS]: until FILE exists (default bound 20 s).
wait_file() {
    poll "${2:-20}" test -e "$1"
}

# wait_line FILE LINE [SECONDS]: until FILE holds LINE.
wait_line() {
    poll "${3:-20}" has_line "$1" "$2"
}

show() {
    echo "#   exit status: $rc, ${elapsed_ms:-?} ms"
    [ -s "$out" ] && sed 's/^/#   stdout: /' "$out" | head -n 10
    [ -s "$err" ] && sed 's/^/#   stderr: /' "$err" | head -n 10
    return 0
}

pass() {
    n=$((n + 1))
    echo "ok $n - $1"
}

fail() {
    n=$((n + 1))
    failed=$((failed + 1))
    echo "not ok $n - $1"
    shift
    for line in "$@"; do
        echo "#   $line"
    done
    show
}

skip() {
    n=$((n + 1))
    skipped=$((skipped + 1))
    echo "ok $n - $1 # SKIP $2"
}

# expect DESC RC: the last run exited RC.
expect() {
    if [ "$rc" = "$2" ]; then pass "$1"; else fail "$1" "expected exit status $2"; fi
}

# expect_fast DESC RC [MS]: exited RC within MS ms (default 8000): the
# command was stopped, not waited for.
expect_fast() {
    local limit=${3:-8000}
    if [ "$rc" = "$2" ] && [ "$elapsed_ms" -lt "$limit" ]; then
        pass "$1"
    else
        fail "$1" "expected exit status $2 within $limit ms"
    fi
}

# expect_err DESC PATTERN: stderr has a line matching the grep -E PATTERN.
expect_err() {
    if grep -qE -- "$2" "$err"; then pass "$1"; else fail "$1" "stderr should match /$2/"; fi
}

# expect_no_err DESC: stderr is empty.
expect_no_err() {
    if [ ! -s "$err" ]; then pass "$1"; else fail "$1" "stderr should be empty"; fi
}

# expect_out DESC TEXT: stdout is exactly TEXT (plus a newline).
expect_out() {
    if [ "$(cat "$out")" = "$2" ]; then pass "$1"; else fail "$1" "stdout should be '$2'"; fi
}

# expect_file DESC FILE TEXT: FILE holds exactly TEXT.
expect_file() {
    local got
    got=$(cat "$2" 2>/dev/null)
    if [ "$got" = "$3" ]; then
        pass "$1"
    else
        fail "$1" "$(basename "$2") should hold '$3', holds '$got'"
    fi
}

# expect_usage_error DESC TEXT: timeout's own usage error: status 125,
# TEXT (a fixed string) and the --help hint on stderr, nothing on stdout.
try_help="^Try '.*--help' for more information\.$"
expect_usage_error() {
    if [ "$rc" = 125 ] && grep -qF -- "$2" "$err" && grep -qE -- "$try_help" "$err" &&
       [ ! -s "$out" ]; then
        pass "$1"
    else
        fail "$1" "expected status 125, stderr with \"$2\" and the --help hint, no stdout"
    fi
}

# raw_status CMD...: how CMD ended, as "exit N", "signal N" or "signal N
# core" (needs perl: a shell folds them all into $?).
raw_status() {
    perl -e 'system { $ARGV[0] } @ARGV;
             if ($? == -1) { print "error\n" }
             elsif ($? & 127) { printf "signal %d%s\n", $? & 127, $? & 128 ? " core" : "" }
             else { printf "exit %d\n", $? >> 8 }' "$@"
}

# Commands. Files are passed as positional parameters, so no quoting of
# paths inside the scripts.
#
# A loop of short sleeps rather than one long sleep or `wait`: the trap
# runs at the latest 50 ms after the signal whether or not the sleep got
# it too, and nothing is left behind when the shell exits. The loops run
# while their "ready" file exists: when a check fails and timeout leaves
# its command behind, the command ends once the suite removes the file
# (its next use of that name, or the temporary directory at exit).
#   $1: file the trap writes the signal name to; $2: "ready" file;
#   $3...: signals to trap (trap writes its name and exits 0).
trap_cmd='
    f=$1; r=$2; shift 2
    for s; do trap "echo $s >>$f; exit 0" "$s"; done
    : >"$r"
    while [ -e "$r" ]; do sleep 0.05; done'
# Ignores TERM and so does the sleep it execs ($1: ready file).
ignore_term_cmd='trap "" TERM; : >"$1"; exec sleep 10'

# alarm_when_ready READY ARG...: timeout ARG... in the background (with a
# DURATION of 60 s), then SIGALRM to timeout -- which is its timeout firing
# -- once the command has created READY: checks whose command must have set
# its traps before the signal comes do not depend on how fast it starts
# (under valgrind, a second or more). Sets rc ("not-ready" if READY never
# came) and elapsed_ms, from the SIGALRM on: checked with expect_fast, a
# SIGALRM that did nothing cannot pass for one that worked when the 60 s
# timer fires.
alarm_when_ready() {
    local r=$1
    shift
    rm -f "$r"
    start "$@"
    if ! wait_file "$r"; then
        kill -KILL "$bgpid" 2>/dev/null
        finish
        rc=not-ready
        return 1
    fi
    local t0
    t0=$(now_us)
    kill -ALRM "$bgpid"
    finish
    elapsed_ms=$(( ($(now_us) - t0) / 1000 ))
}

# ---------------------------------------------------------------------------
# Exit statuses
# ---------------------------------------------------------------------------

run 10 true
expect "a command that succeeds: 0" 0

run 10 sh -c 'exit 3'
expect "the command's exit status is passed through (3)" 3

run 10 sh -c 'exit 255'
expect "the command's exit status is passed through (255)" 255

run 0.1 sleep 10
expect_fast "a command that outlives the duration: 124" 124
expect_no_err "a timeout is not an error: nothing on stderr"

run 10 sh -c 'echo out; echo err >&2; exit 4'
if [ "$rc" = 4 ] && [ "$(cat "$out")" = out ] && [ "$(cat "$err")" = err ]; then
    pass "stdout and stderr are the caller's"
else
    fail "stdout and stderr are the caller's"
fi

rc=$(echo hello | { $wrapper "$bin" 10 cat >"$out" 2>"$err"; echo $?; })
strip_wrapper_lines
expect_out "stdin is the caller's" hello

run 10 "$tmp/no-such-command"
expect "a command that does not exist: 127" 127
expect_err "... and the message names it" \
    "failed to run command '$tmp/no-such-command': No such file or directory$"

run 10 no-such-command-in-path-xyzzy
expect "a command not found in PATH: 127" 127

printf '#!/bin/sh\nexit 0\n' >"$tmp/not-executable"
chmod 644 "$tmp/not-executable"
run 10 "$tmp/not-executable"
expect "a command that is not executable: 126" 126
expect_err "... and the message says why" \
    "failed to run command '$tmp/not-executable': Permission denied$"

run 10 "$tmp"
expect "a directory as the command: 126" 126

run 10 "$tmp/it's"$'\001'
expect_err "the command is quoted as coreutils quotes it" \
    "failed to run command '$tmp/it\\\\'s\\\\001': No such file or directory$"

# execvp()'s rule, which coreutils inherits: an executable file the kernel
# cannot exec (ENOEXEC: no #! line) is run by /bin/sh.
printf 'exit 6\n' >"$tmp/no-shebang"
chmod 755 "$tmp/no-shebang"
run 10 "$tmp/no-shebang"
expect "an executable script without #! runs under /bin/sh" 6

# ---------------------------------------------------------------------------
# Usage errors: 125, a message and the --help hint on stderr
# ---------------------------------------------------------------------------

run
expect_usage_error "no operand: 125" ""
run 10
expect_usage_error "no command: 125" ""

for d in abc -1 1x 1ss 1.5.5 '' nan 's' '1 s'; do
    run -- "$d" true
    expect_usage_error "invalid duration '$d': 125" ": invalid time interval '$d'"
done

run -k abc 10 true
expect_usage_error "invalid --kill-after duration: 125" ": invalid time interval 'abc'"

for s in FOO '' 65 32 SIGFOO +15 -1; do
    run -s "$s" 10 true
    expect_usage_error "invalid signal '$s': 125" ": '$s': invalid signal"
done

run --bogus 10 true
expect_usage_error "an unknown long option: 125" "unrecognized option '--bogus'"
run -x 10 true
expect_usage_error "an unknown short option: 125" "invalid option -- 'x'"
run -s
expect_usage_error "an option without its argument: 125" "option requires an argument -- 's'"

# Options stop at the first operand.
run 10 echo -v -s KILL --foo
if [ "$rc" = 0 ] && [ "$(cat "$out")" = "-v -s KILL --foo" ] && [ ! -s "$err" ]; then
    pass "options after DURATION belong to the command"
else
    fail "options after DURATION belong to the command"
fi
run -- 10 sh -c 'exit 5'
expect "-- ends the options" 5

# ---------------------------------------------------------------------------
# --help, --version
# ---------------------------------------------------------------------------

run --help
if [ "$rc" = 0 ] && grep -q '^Usage: .*DURATION COMMAND' "$out" && [ ! -s "$err" ]; then
    pass "--help: usage on stdout, exit 0"
else
    fail "--help: usage on stdout, exit 0"
fi

run --version
if [ "$rc" = 0 ] && [ -s "$out" ] && [ ! -s "$err" ]; then
    pass "--version: on stdout, exit 0"
else
    fail "--version: on stdout, exit 0"
fi

run --help 10 false
if [ "$rc" = 0 ] && grep -q '^Usage:' "$out"; then
    pass "--help wins over operands"
else
    fail "--help wins over operands"
fi

if [ -w /dev/full ]; then
    $wrapper "$bin" --help >/dev/full 2>"$err"
    rc=$?
    strip_wrapper_lines
    expect "--help that cannot be written: 125" 125
fi

# ---------------------------------------------------------------------------
# Durations
# ---------------------------------------------------------------------------

# Each suffix scales by its own unit: these time out within 5 s (a unit
# too large would not) ...
for d in 0.1 0.1s .1 1e-1 0x.2p0 0.002m 0.0001h 0.000002d; do
    run "$d" sleep 10
    expect_fast "duration '$d' times out" 124 5000
done
# ... and these (3 s or more) not within 0.5 s (a unit too small would).
for d in 0.05m 0.001h 0.00005d; do
    run "$d" sh -c 'sleep 0.5; exit 2'
    expect "duration '$d' does not time out a 0.5 s command" 2
done

for d in 1m 1h 1d 10 inf ' 10'; do
    run "$d" sh -c 'exit 2'
    expect "duration '$d' is valid" 2
done

run 0 sh -c 'sleep 0.5; exit 3'
expect "duration 0 disables the timeout" 3

run 0s sh -c 'sleep 0.3; exit 3'
expect "duration 0s disables the timeout" 3

run -k 0 0.1 sleep 10
expect_fast "--kill-after 0 disables the KILL" 124

# ---------------------------------------------------------------------------
# Signals sent on timeout: -s, -k, --preserve-status, --verbose
# ---------------------------------------------------------------------------

run --preserve-status 0.1 sleep 10
expect_fast "--preserve-status: the command's status (128+TERM)" 143

run --preserve-status 10 sh -c 'exit 7'
expect "--preserve-status without a timeout: the command's status" 7

alarm_when_ready "$tmp/p.ready" --preserve-status 60 \
    sh -c "$trap_cmd" sh "$tmp/p.trap" "$tmp/p.ready" TERM
expect_fast "--preserve-status: a command that exits on TERM keeps its 0" 0

rm -f "$tmp/t.trap"
alarm_when_ready "$tmp/t.ready" 60 sh -c "$trap_cmd" sh "$tmp/t.trap" "$tmp/t.ready" TERM
expect_fast "a command that exits 0 on TERM still times out: 124" 124
expect_file "... after it got TERM" "$tmp/t.trap" TERM

for s in INT SIGINT sigint Int 2 130 SIG2; do
    run --preserve-status -s "$s" 0.1 sleep 10
    expect_fast "-s $s sends SIGINT" 130
done

run --preserve-status -s USR1 0.1 sleep 10
expect_fast "-s USR1 sends SIGUSR1" 138
run --preserve-status -s RTMIN+3 0.1 sleep 10
expect_fast "-s RTMIN+3 sends that real-time signal" "$((128 + $(kill -l RTMIN+3 2>/dev/null || echo 37)))"
run --preserve-status -s 271 0.1 sleep 10
expect_fast "-s 271 (a ksh status) sends SIGTERM" 143

run -s 0 0.1 sleep 1
expect "-s 0 sends nothing, and the status is still 124" 124
run -s EXIT 0.1 sleep 1
expect "-s EXIT is signal 0" 124

run -s KILL 0.1 sleep 10
expect_fast "-s KILL: 137" 137
run -s 9 --foreground 0.1 sleep 10
expect_fast "-s 9 --foreground: 137" 137
run --preserve-status -s KILL 0.1 sleep 10
expect_fast "-s KILL --preserve-status: 137" 137

# -k: the KILL timer starts when the first signal is sent. -s 0 sends
# nothing, so these need no command that ignores TERM.
run -s 0 -k 0.2 0.1 sleep 10
expect_fast "-k: KILL after the first signal: 137" 137
run -s 0 --foreground -k 0.2 0.1 sleep 10
expect_fast "-k --foreground: 137 as well" 137

alarm_when_ready "$tmp/k.ready" -k 0.2 60 sh -c "$ignore_term_cmd" sh "$tmp/k.ready"
expect_fast "-k: a command that ignores TERM gets KILL: 137" 137
alarm_when_ready "$tmp/k.ready" --foreground -k 0.2 60 \
    sh -c "$ignore_term_cmd" sh "$tmp/k.ready"
expect_fast "-k --foreground, a command that ignores TERM: 137" 137
alarm_when_ready "$tmp/k.ready" --kill-after=0.2 --preserve-status 60 \
    sh -c "$ignore_term_cmd" sh "$tmp/k.ready"
expect_fast "--kill-after= with --preserve-status: 137" 137

run -v 0.1 sleep 10
expect_fast "--verbose times out as usual" 124
expect_err "--verbose names the signal and the command" \
    ": sending signal TERM to command 'sleep'$"

alarm_when_ready "$tmp/k.ready" --verbose -k 0.2 60 sh -c "$ignore_term_cmd" sh "$tmp/k.ready"
expect_fast "--verbose -k: 137" 137
expect_err "--verbose reports the TERM ..." ": sending signal TERM to command 'sh'$"
expect_err "... and the KILL" ": sending signal KILL to command 'sh'$"

run -v -s 0 0.1 sleep 1
expect_err "--verbose -s 0 names signal 0 EXIT" ": sending signal EXIT to command 'sleep'$"
run -v -s 64 --preserve-status 0.1 sleep 10
expect_err "--verbose names real-time signals as RTMAX-n / RTMIN+n" \
    ": sending signal RTMAX to command 'sleep'$"

run -v 10 sh -c 'exit 0'
expect_no_err "--verbose is quiet when nothing is sent"

# A stopped command is continued after the signal (SIGCONT follows it);
# -k bounds the wait if it is not.
stopped_cmd='trap "echo TERM >$1; exit 0" TERM; echo $$ >"$2.new"; mv "$2.new" "$2"
             kill -STOP $$; exit 9'
rm -f "$tmp/stop.trap" "$tmp/stop.pid"
start -k 5 60 sh -c "$stopped_cmd" sh "$tmp/stop.trap" "$tmp/stop.pid"
stopped=
if wait_file "$tmp/stop.pid" && poll 20 is_stopped "$(cat "$tmp/stop.pid")"; then
    stopped=1
fi
if [ -n "$stopped" ]; then
    t0=$(now_us)
    kill -ALRM "$bgpid"
    finish
    elapsed_ms=$(( ($(now_us) - t0) / 1000 ))
    expect_fast "a stopped command gets SIGCONT after the signal: 124 before -k" 124 4500
    expect_file "... and ran its TERM trap" "$tmp/stop.trap" TERM
else
    kill -KILL "$bgpid"
    finish
    fail "a stopped command gets SIGCONT after the signal" "it never stopped"
fi

# ---------------------------------------------------------------------------
# Signals timeout receives
# ---------------------------------------------------------------------------

# forward OPTS SIG: start timeout OPTS with a command that traps SIG, send
# SIG to timeout once the trap is set, check the trap ran and timeout
# exited with the command's 0 (it did not time out).
forward() {
    local opts=$1 sig=$2 f="$tmp/fwd.$2.trap" r="$tmp/fwd.$2.ready"
    rm -f "$f" "$r"
    # shellcheck disable=SC2086
    start $opts 60 sh -c "$trap_cmd" sh "$f" "$r" "$sig"
    if ! wait_file "$r"; then
        kill -KILL "$bgpid" 2>/dev/null
        finish
        fail "SIG$sig to timeout${opts:+ $opts} reaches the command" "never ready"
        return
    fi
    kill -s "$sig" "$bgpid"
    finish
    if [ "$rc" = 0 ] && [ "$(cat "$f" 2>/dev/null)" = "$sig" ]; then
        pass "SIG$sig to timeout${opts:+ $opts} reaches the command"
    else
        fail "SIG$sig to timeout${opts:+ $opts} reaches the command" \
            "trap file: '$(cat "$f" 2>/dev/null)'"
    fi
}
forward "" TERM
forward "" INT
forward "" HUP
forward "" QUIT
forward "--foreground" TERM
forward "--foreground" INT
forward "-s USR1" USR1

# A forwarded signal that kills the command: not a timeout, so timeout
# dies of the same signal (128+TERM to the shell).
rm -f "$tmp/d.ready"
start 60 sh -c ': >"$1"; while [ -e "$1" ]; do sleep 0.05; done' sh "$tmp/d.ready"
if wait_file "$tmp/d.ready"; then
    kill -TERM "$bgpid"
    finish
    expect "a forwarded TERM that kills the command: 143" 143
else
    kill -KILL "$bgpid"; finish
    fail "a forwarded TERM that kills the command: 143" "never ready"
fi

# SIGALRM counts as the timeout.
rm -f "$tmp/a.trap" "$tmp/a.ready"
start 60 sh -c "$trap_cmd" sh "$tmp/a.trap" "$tmp/a.ready" TERM
if wait_file "$tmp/a.ready"; then
    t0=$(now_us)
    kill -ALRM "$bgpid"
    finish
    elapsed_ms=$(( ($(now_us) - t0) / 1000 ))
    expect_fast "SIGALRM to timeout is the timeout: 124" 124
    expect_file "... and the command got TERM" "$tmp/a.trap" TERM
else
    kill -KILL "$bgpid"; finish
    fail "SIGALRM to timeout is the timeout: 124" "never ready"
fi

# -k starts with the first signal sent, also a forwarded one.
rm -f "$tmp/ki.ready"
start -k 0.2 60 sh -c 'trap "" INT; : >"$1"; while [ -e "$1" ]; do sleep 0.05; done' \
    sh "$tmp/ki.ready"
if wait_file "$tmp/ki.ready"; then
    t0=$(now_us)
    kill -INT "$bgpid"
    finish
    elapsed_ms=$(( ($(now_us) - t0) / 1000 ))
    expect_fast "-k: KILL follows a forwarded signal too: 137" 137 10000
else
    kill -KILL "$bgpid"; finish
    fail "-k: KILL follows a forwarded signal too: 137" "never ready"
fi

# Only the first signal sent arms the KILL: later ones (here an INT every
# 0.1 s) do not postpone it.
rm -f "$tmp/kr.ready"
start -k 0.5 60 sh -c 'trap "" TERM INT; : >"$1"; exec sleep 60' sh "$tmp/kr.ready"
if wait_file "$tmp/kr.ready"; then
    t0=$(now_us)
    kill -ALRM "$bgpid"
    for _ in $(seq 1 50); do
        sleep 0.1
        running "$bgpid" || break
        kill -INT "$bgpid"
    done 2>/dev/null   # and bash's "Killed" notice
    finish
    elapsed_ms=$(( ($(now_us) - t0) / 1000 ))
    expect_fast "-k: later signals do not postpone the KILL" 137 4000
else
    kill -KILL "$bgpid"; finish
    fail "-k: later signals do not postpone the KILL" "never ready"
fi

# ---------------------------------------------------------------------------
# The process group
# ---------------------------------------------------------------------------

# The command starts a background child that records a TERM and loops
# until told to stop (a file), then writes "done"; it writes its pid once
# its trap is set. Without --foreground the whole group gets the signal on
# timeout; with it, only the command.
group() {
    local opts=$1 want=$2 desc=$3
    local g="$tmp/grp.log" stop="$tmp/grp.stop" pidf="$tmp/grp.pid"
    rm -f "$g" "$stop"
    # shellcheck disable=SC2086
    alarm_when_ready "$pidf" $opts 60 sh -c '
        g=$1 stop=$2 pidf=$3
        sh -c "trap \"echo TERM >>$g\" TERM
               echo \$\$ >$pidf.new; mv $pidf.new $pidf
               while [ -e $pidf ] && [ ! -e $stop ]; do sleep 0.05; done
               echo done >>$g" </dev/null >/dev/null 2>&1 &
        wait' sh "$g" "$stop" "$pidf"
    : >"$stop"
    if [ "$rc" = 124 ] && [ "$elapsed_ms" -lt 8000 ] && wait_line "$g" done &&
       [ "$(tr '\n' ' ' <"$g")" = "$want" ]; then
        pass "$desc"
    else
        fail "$desc" "grandchild log: '$(tr '\n' ' ' <"$g" 2>/dev/null)', expected '$want'"
    fi
}
group "" "TERM done " "the command's background child is signalled too"
group "--foreground" "done " "--foreground: only the command is signalled"

# Without --foreground the command runs in a process group that is not
# the caller's (coreutils' timeout makes one for itself and the command);
# with it, in the caller's, where the terminal's signals reach it.
own_pgid='sed "s/.*) //" /proc/$$/stat | cut -d" " -f3'
run 10 sh -c "$own_pgid"
if [ "$rc" = 0 ] && [ -n "$(cat "$out")" ] && [ "$(cat "$out")" != "$(pgid $$)" ]; then
    pass "the command is not in the caller's process group"
else
    fail "the command is not in the caller's process group" "the caller's is $(pgid $$)"
fi
run --foreground 10 sh -c "$own_pgid"
if [ "$rc" = 0 ] && [ "$(cat "$out")" = "$(pgid $$)" ]; then
    pass "--foreground: the command is in the caller's process group"
else
    fail "--foreground: the command is in the caller's process group" \
        "the caller's is $(pgid $$)"
fi

# ---------------------------------------------------------------------------
# The state timeout starts in
# ---------------------------------------------------------------------------

if [ -n "$have_perl" ]; then
    ign_chld=(perl -e '$SIG{CHLD} = "IGNORE"; exec { $ARGV[0] } @ARGV or die "exec: $!\n"')
    run_under "${ign_chld[@]}" -- 10 sh -c 'sleep 0.2; exit 3'
    expect "started with SIGCHLD ignored: the command's status" 3
    run_under "${ign_chld[@]}" -- 0.1 sleep 10
    expect_fast "started with SIGCHLD ignored: 124" 124

    blk_alrm=(perl -MPOSIX -e 'sigprocmask(SIG_BLOCK, POSIX::SigSet->new(SIGALRM)) or die;
                               exec { $ARGV[0] } @ARGV or die "exec: $!\n"')
    run_under "${blk_alrm[@]}" -- 0.1 sleep 10
    expect_fast "started with SIGALRM blocked: still times out" 124
    run_under "${blk_alrm[@]}" -- 10 sh -c 'exit 3'
    expect "started with SIGALRM blocked: the command's status" 3
    rm -f "$tmp/ba.ready"
    start_under "${blk_alrm[@]}" -- 60 sh -c "$trap_cmd" sh /dev/null "$tmp/ba.ready" TERM
    if wait_file "$tmp/ba.ready"; then
        t0=$(now_us)
        kill -ALRM "$bgpid"
        finish
        elapsed_ms=$(( ($(now_us) - t0) / 1000 ))
        expect_fast "started with SIGALRM blocked: a SIGALRM is still the timeout" 124
    else
        kill -KILL "$bgpid"; finish
        fail "started with SIGALRM blocked: a SIGALRM is still the timeout" "never ready"
    fi
else
    skip "started with SIGCHLD ignored" "no perl"
    skip "started with SIGALRM blocked" "no perl"
fi

# A child timeout did not start (its pid inherited through exec) must not
# be taken for the command, whether it exits first or last.
inherit_first='(exit 9) </dev/null >/dev/null 2>&1 & exec "$@"'
run_under sh -c "$inherit_first" sh -- 10 sh -c 'sleep 0.3; exit 3'
expect "an inherited child that exits first is not the command" 3
inherit_last='sleep 6 </dev/null >/dev/null 2>&1 & exec "$@"'
run_under sh -c "$inherit_last" sh -- 10 sh -c 'exit 3'
expect_fast "an inherited child still running is not waited for" 3 4000
inherit_mid='(sleep 0.1; exit 9) </dev/null >/dev/null 2>&1 & exec "$@"'
run_under sh -c "$inherit_mid" sh -- 0.4 sleep 10
expect_fast "an inherited child exiting meanwhile: the timeout still fires" 124

# ---------------------------------------------------------------------------
# A command that dies of a signal without a timeout: timeout re-raises it
# ---------------------------------------------------------------------------

run 10 sh -c 'kill -USR1 $$'
expect "the command died of SIGUSR1: 128+10" 138
run 10 sh -c 'kill -TERM $$'
expect "the command died of SIGTERM: 128+15" 143
if [ -n "$have_perl" ]; then
    # shellcheck disable=SC2086
    got=$(raw_status $wrapper "$bin" 10 sh -c 'kill -USR1 $$' 2>"$err")
    if [ "$got" = "signal 10" ]; then
        pass "... and timeout itself dies of that signal"
    else
        fail "... and timeout itself dies of that signal" "got: $got"
    fi
    # shellcheck disable=SC2086
    got=$(raw_status $wrapper "$bin" 0.1 sleep 10 2>"$err")
    if [ "$got" = "exit 124" ]; then
        pass "... but not after a timeout: it exits 124"
    else
        fail "... but not after a timeout: it exits 124" "got: $got"
    fi
    # shellcheck disable=SC2086
    got=$(raw_status $wrapper "$bin" --preserve-status 0.1 sleep 10 2>"$err")
    if [ "$got" = "exit 143" ]; then
        pass "... nor with --preserve-status: it exits 128+TERM"
    else
        fail "... nor with --preserve-status: it exits 128+TERM" "got: $got"
    fi
else
    skip "timeout itself dies of the command's signal" "no perl"
fi

# A command that dumped core: timeout says so, and dies of the signal
# without a core of its own. Only where this machine dumps cores at all
# (ulimit, core_pattern: a plain sh shows whether it does), and where the
# command timeout starts may (AddressSanitizer sets RLIMIT_CORE to 0 in the
# program it checks, and children inherit it).
mkdir -p "$tmp/core"
# shellcheck disable=SC2086
probe=$(cd "$tmp/core" && ulimit -c unlimited 2>/dev/null &&
        raw_status $wrapper sh -c 'kill -ABRT $$' 2>/dev/null)
# shellcheck disable=SC2086
limit=$(ulimit -c unlimited 2>/dev/null && $wrapper "$bin" 10 sh -c 'ulimit -c' 2>/dev/null)
if [ -z "$have_perl" ]; then
    skip "a command that dumped core" "no perl"
elif [ "$probe" != "signal 6 core" ]; then
    skip "a command that dumped core" "no core dumps here ($probe)"
elif [ "$limit" != unlimited ]; then
    skip "a command that dumped core" "the command's ulimit -c is '$limit'"
else
    # shellcheck disable=SC2086
    got=$(cd "$tmp/core" && ulimit -c unlimited &&
          raw_status $wrapper "$bin" 10 sh -c 'kill -ABRT $$' 2>"$err")
    strip_wrapper_lines
    rc=$got
    if [ "$got" = "signal 6" ] && grep -q ': the monitored command dumped core$' "$err"; then
        pass "a command that dumped core: reported, and timeout dies of it without a core"
    else
        fail "a command that dumped core: reported, and timeout dies of it without a core"
    fi
fi
rm -rf "$tmp/core"

# ---------------------------------------------------------------------------

echo "1..$n"
if [ "$failed" -ne 0 ]; then
    echo "# $failed of $n checks failed ($bin${wrapper:+ under $wrapper})"
    exit 1
fi
echo "# all $n checks passed ($skipped skipped) ($bin${wrapper:+ under $wrapper})"
exit 0
