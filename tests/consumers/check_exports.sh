#!/bin/sh
# Symbol hygiene of the shared library: its SONAME carries the major version, and the
# dynamic symbols it defines are exactly the BLASCONV_API functions the header declares
# (plus the version script's node): nothing internal leaks, nothing declared is missing.
# usage: check_exports.sh LIBRARY HEADER EXPECTED_SONAME
set -eu
lib=${1:?usage: check_exports.sh LIBRARY HEADER EXPECTED_SONAME}
header=${2:?usage: check_exports.sh LIBRARY HEADER EXPECTED_SONAME}
want_soname=${3:?usage: check_exports.sh LIBRARY HEADER EXPECTED_SONAME}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/blasconv-exports.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
status=0

soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
if [ "$soname" != "$want_soname" ]; then
    echo "check_exports: SONAME is '$soname', want '$want_soname'"
    status=1
fi

# Defined dynamic symbols, without their @@VERSION suffix; the version node itself is
# an absolute (A) symbol named after the node.
nm -D --defined-only "$lib" | awk '$2 != "A" { sub(/@.*/, "", $3); print $3 }' |
    sort -u >"$tmp/exported"
nm -D --defined-only "$lib" | awk '$2 == "A" { print $3 }' >"$tmp/nodes"
if grep -v '^BLASCONV_[0-9A-Z_.]*$' "$tmp/nodes"; then
    echo "check_exports: unexpected absolute symbols above"
    status=1
fi

# Every function the header declares with BLASCONV_API (declarations may span lines).
tr '\n' ' ' <"$header" | grep -o 'BLASCONV_API[^;{]*(' |
    grep -o 'blasconv_[A-Za-z0-9_]*[[:space:]]*($' | tr -d '( ' | sort -u >"$tmp/declared"
if [ ! -s "$tmp/declared" ]; then
    echo "check_exports: found no BLASCONV_API declarations in $header"
    status=1
fi

if grep -v '^blasconv_' "$tmp/exported"; then
    echo "check_exports: the symbols above are exported but are not blasconv_ API"
    status=1
fi
if comm -23 "$tmp/exported" "$tmp/declared" | grep .; then
    echo "check_exports: the symbols above are exported but not declared in $header"
    status=1
fi
if comm -13 "$tmp/exported" "$tmp/declared" | grep .; then
    echo "check_exports: the symbols above are declared in $header but not exported"
    status=1
fi
[ "$status" -ne 0 ] ||
    echo "check_exports: $soname exports exactly the $(wc -l <"$tmp/declared") declared functions"
exit "$status"
