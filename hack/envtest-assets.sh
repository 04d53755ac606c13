#!/usr/bin/env bash
# Builds the binaries envtest runs (kube-apiserver, kubectl, etcd) from Go modules into
# bin/k8s/, because no prebuilt binary can be downloaded. A stamp file records the
# versions; when it matches, nothing is rebuilt. `envtest-assets.sh kubectl` builds
# kubectl alone, for `make install` and `make deploy` on a machine without one.
set -euo pipefail
only=${1:-}

root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/bin/k8s"
kube_version=v1.37.2
etcd_version=v3.7.3
stamp="kube-apiserver=$kube_version kubectl=$kube_version etcd=$etcd_version go=$(go env GOVERSION)"

if [ "$only" != "" ] && [ "$only" != kubectl ]; then
	echo "usage: $0 [kubectl]" >&2
	exit 2
fi
if [ -f "$out/.versions" ] && [ "$(cat "$out/.versions")" = "$stamp" ] &&
	[ -x "$out/kube-apiserver" ] && [ -x "$out/kubectl" ] && [ -x "$out/etcd" ]; then
	echo "envtest binaries up to date in bin/k8s ($stamp)"
	exit 0
fi
mkdir -p "$out"

minor=${kube_version#v1.}
minor=${minor%%.*}
ldflags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
	ldflags+=" -X $pkg.gitVersion=$kube_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
	ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

# build NAME MODULE_DIR PACKAGE [LDFLAGS]: go build with a heartbeat, since a cold
# kube-apiserver build is silent for several minutes.
build() {
	local name=$1 dir=$2 pkg=$3 flags=${4:-}
	local start=$SECONDS
	echo "building $name from Go modules (a cold build takes several minutes on 2 cores)..."
	(while sleep 30; do echo "  ... still building $name ($((SECONDS - start))s)"; done) &
	local ticker=$!
	trap 'kill $ticker 2>/dev/null' RETURN
	(cd "$dir" && go build -trimpath -ldflags "-s -w $flags" -o "$out/$name" "$pkg")
	echo "built bin/k8s/$name in $((SECONDS - start))s"
}

if [ "$only" = kubectl ]; then
	build kubectl "$root/hack/tools/kubernetes" k8s.io/kubernetes/cmd/kubectl "$ldflags"
	exit 0
fi
rm -f "$out/.versions"
build etcd "$root/hack/tools/etcd" .
build kubectl "$root/hack/tools/kubernetes" k8s.io/kubernetes/cmd/kubectl "$ldflags"
build kube-apiserver "$root/hack/tools/kubernetes" k8s.io/kubernetes/cmd/kube-apiserver "$ldflags"

echo "$stamp" >"$out/.versions"
"$out/kubectl" version --client
