#!/usr/bin/env bash
# Unsafe pointers, SIMD and inlining attributes are allowed only in the audited corners:
# Sources/AmalgamKernels/ and Sources/AmalgamIO/System/ (memory maps and file writes).
set -euo pipefail
cd "$(dirname "$0")/.."
pattern='Unsafe[A-Za-z]*Pointer|withUnsafe|SIMD[0-9]|@inline\(__always\)|@_effects|unsafeBitCast'
hits=$(grep -rnE "$pattern" Sources --include='*.swift' | grep -vE '^Sources/(AmalgamKernels|AmalgamIO/System)/' || true)
if [ -n "$hits" ]; then
  echo "check-unsafe: unsafe code outside the audited corners:"
  echo "$hits"
  exit 1
fi
echo "check-unsafe: ok (unsafe code only in Sources/AmalgamKernels and Sources/AmalgamIO/System)"
