#!/bin/sh
# Build the Java JAX-WS interop client for msign-soap.
#
#   tests/interop/java/build.sh OUTDIR
#
# 1. wsimport generates the client stubs from the reference WSDL (the real
#    service's ?singleWsdl), exactly as an integrator would; the WSDL is
#    bundled on the classpath (-wsdllocation MSign.wsdl) so running the client
#    never touches the network except for the endpoint given on its command line.
# 2. javac compiles the stubs plus Client.java into OUTDIR/classes.
# 3. OUTDIR/classpath receives the runtime classpath (one line, ':'-separated).
#
# JDK 11+ ships no JAX-WS/JAXB, so the JAX-WS RI jars are named explicitly.
# JAXWS_JARS overrides their directory (default /usr/share/java, Debian's
# `jaxws` package); WSIMPORT / JAVAC override the tools.
set -eu

if [ $# -ne 1 ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

HERE=$(cd "$(dirname "$0")" && pwd)
WSDL="$HERE/../../data/MSign.reference.wsdl"
OUT=$(mkdir -p "$1" && cd "$1" && pwd)
JARS=${JAXWS_JARS:-/usr/share/java}
WSIMPORT=${WSIMPORT:-wsimport}
JAVAC=${JAVAC:-javac}

# Minimal set needed when nothing is pulled in through jar manifests
# (found by dropping jars one at a time from manifest-stripped copies).
# Debian's jaxws-rt.jar additionally chains woodstox/stax2/FastInfoset through
# its manifest Class-Path; those are optional.
COMPILE_JARS="jaxws-api jaxb-api jws-api javax.xml.soap-api"
RUNTIME_JARS="jaxws-rt jaxws-api jws-api jaxb-api jaxb-core jaxb-runtime
    javax.activation istack-commons-runtime javax.xml.soap-api saaj-impl
    stax-ex streambuffer metro-policy gmbal"

jarpath() {
    cp=""
    for j in $1; do
        f="$JARS/$j.jar"
        if [ ! -f "$f" ]; then
            echo "build.sh: missing $f (install Debian package 'jaxws' or set JAXWS_JARS)" >&2
            exit 1
        fi
        cp="$cp${cp:+:}$f"
    done
    echo "$cp"
}
COMPILE_CP=$(jarpath "$COMPILE_JARS")
RUNTIME_CP=$(jarpath "$RUNTIME_JARS")

rm -rf "$OUT/src" "$OUT/classes"
mkdir -p "$OUT/src" "$OUT/classes"

# Default package mapping: https://msign.gov.md -> https.msign_gov
"$WSIMPORT" -quiet -keep -Xnocompile -d "$OUT/src" \
    -wsdllocation MSign.wsdl "$WSDL"

find "$OUT/src" -name '*.java' > "$OUT/sources.txt"
echo "$HERE/Client.java" >> "$OUT/sources.txt"
"$JAVAC" -nowarn -encoding UTF-8 -d "$OUT/classes" -cp "$COMPILE_CP" "@$OUT/sources.txt"

# MSignService loads its WSDL via MSignService.class.getResource("MSign.wsdl").
cp "$WSDL" "$OUT/classes/https/msign_gov/MSign.wsdl"

echo "$OUT/classes:$RUNTIME_CP" > "$OUT/classpath"
