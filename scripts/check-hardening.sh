#!/bin/sh
# Verify the hardening flags really reached the binary (a silently dropped
# flag is worse than a build failure): PIE, full RELRO, BIND_NOW, NX stack,
# stack protector and FORTIFY_SOURCE.
set -eu
bin=$1
fail=0
check () { if eval "$2"; then echo "hardening: $1: yes"; else echo "hardening: $1: MISSING" >&2; fail=1; fi; }
hdr=$(readelf -h -l -d "$bin")
syms=$(readelf -W --dyn-syms "$bin")
check "PIE" 'echo "$hdr" | grep -q "Type:.*DYN"'
check "RELRO" 'echo "$hdr" | grep -q "GNU_RELRO"'
check "BIND_NOW" 'echo "$hdr" | grep -Eq "BIND_NOW|FLAGS_1.*NOW"'
check "NX stack" 'echo "$hdr" | grep -A1 GNU_STACK | grep -q "RW "'
check "stack protector" 'echo "$syms" | grep -q __stack_chk_fail'
check "FORTIFY_SOURCE" 'echo "$syms" | grep -q "_chk@"'
exit $fail
