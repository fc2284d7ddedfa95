#!/bin/sh
# Verify the hardening flags really reached the binary (a silently dropped
# flag is worse than a build failure): PIE, full RELRO, BIND_NOW, NX stack,
# stack protector and FORTIFY_SOURCE.
set -eu
bin=$1
fail=0
check () { if eval "$2"; then echo "hardening: $1: yes"; else echo "hardening: $1: MISSING" >&2; fail=1; fi; }
hdr=$(readelf -h -l -d "$bin")
check "PIE" 'echo "$hdr" | grep -q "Type:.*DYN"'
check "RELRO" 'echo "$hdr" | grep -q "GNU_RELRO"'
check "BIND_NOW" 'echo "$hdr" | grep -Eq "BIND_NOW|FLAGS_1.*NOW"'
check "NX stack" 'echo "$hdr" | grep -A1 GNU_STACK | grep -q "RW "'
if echo "$hdr" | grep -q "Requesting program interpreter"; then
  syms=$(readelf -W --dyn-syms "$bin")
  check "stack protector" 'echo "$syms" | grep -q __stack_chk_fail'
  check "FORTIFY_SOURCE" 'echo "$syms" | grep -q "_chk@"'
else
  # A static PIE has no dynamic symbols, and libc.a brings its own
  # __stack_chk_fail: look at the code of one of moat's own functions instead
  # (moat_log has a stack buffer and formats with snprintf).
  code=$(objdump -d --disassemble=moat_log "$bin")
  check "static PIE" 'echo "$hdr" | grep -q "Type:.*DYN" && ! echo "$hdr" | grep -q "(NEEDED)"'
  check "stack protector" 'echo "$code" | grep -q "call.*<__stack_chk_fail"'
  check "FORTIFY_SOURCE" 'echo "$code" | grep -q "call.*snprintf_chk"'
fi
exit $fail
