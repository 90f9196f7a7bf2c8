#!/bin/sh
# Build the .NET (Mono) WCF interop client for msign-soap.
#
#   tests/interop/dotnet/build.sh OUTDIR
#
# Generates the WCF proxy from the reference WSDL with Mono's svcutil (into
# OUTDIR, never into the repository) and compiles it together with Client.cs
# into OUTDIR/MSignClient.exe. Run it with: mono OUTDIR/MSignClient.exe ...
# The tools can be overridden with $SVCUTIL and $MCS.
set -eu

if [ "$#" -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi

here=$(cd "$(dirname "$0")" && pwd)
wsdl="$here/../../data/MSign.reference.wsdl"
wsdl=$(cd "$(dirname "$wsdl")" && pwd)/$(basename "$wsdl")
svcutil=${SVCUTIL:-svcutil}
mcs=${MCS:-mcs}

mkdir -p "$1"
out=$(cd "$1" && pwd)
proxy="$out/MSignProxy.cs"
exe="$out/MSignClient.exe"
rm -f "$proxy" "$exe"

# Mono's svcutil only accepts metadata as a URL (file:///abs/path); it writes
# the -o file relative to the current directory, so run it from OUTDIR.
(cd "$out" && "$svcutil" --noLogo --noConfig -o MSignProxy.cs "file://$wsdl") >"$out/svcutil.log" 2>&1 || {
    cat "$out/svcutil.log" >&2
    echo "build.sh: svcutil failed" >&2
    exit 1
}
if [ ! -s "$proxy" ]; then
    cat "$out/svcutil.log" >&2
    echo "build.sh: svcutil did not produce $proxy" >&2
    exit 1
fi

"$mcs" -nologo -warn:0 -target:exe -out:"$exe" \
    -r:System.ServiceModel.dll -r:System.Runtime.Serialization.dll \
    "$here/Client.cs" "$proxy"

echo "$exe"
