#!/usr/bin/env bash
# build-kube-tools.sh builds etcd, kube-apiserver and kube-controller-manager for the tests that
# run against a real Kubernetes API server (internal/kubetest). The binaries go to a cache folder
# outside the repository and are built only when one of them is missing.
#
#   CATOBOT_TOOLS_DIR   cache root (default: $HOME/.cache/catobot-tools)
#
# Kubernetes comes from tools/kube/go.mod and etcd from tools/kube/etcd/go.mod, two modules kept
# apart from the project's go.mod.
set -euo pipefail

kube_version=v1.37.2
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${CATOBOT_TOOLS_DIR:-$HOME/.cache/catobot-tools}/kube-${kube_version}"
bins=(etcd kube-apiserver kube-controller-manager)

missing=()
for b in "${bins[@]}"; do
	[[ -x "$dir/$b" ]] || missing+=("$b")
done
if [[ ${#missing[@]} -eq 0 ]]; then
	echo "build-kube-tools: all present in $dir, nothing to build"
	exit 0
fi
echo "build-kube-tools: missing in $dir: ${missing[*]}"

mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

export GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
ver_pkgs=(k8s.io/component-base/version k8s.io/client-go/pkg/version)
ldflags="-s -w"
for p in "${ver_pkgs[@]}"; do
	ldflags+=" -X $p.gitVersion=${kube_version} -X $p.gitMajor=1 -X $p.gitMinor=37"
	ldflags+=" -X $p.gitTreeState=clean"
done

start=$SECONDS
for b in "${missing[@]}"; do
	t0=$SECONDS
	case "$b" in
	etcd)
		echo "build-kube-tools: building etcd (go.etcd.io/etcd/server/v3) in tools/kube/etcd"
		(cd "$root/tools/kube/etcd" && go build -trimpath -ldflags "-s -w" -o "$tmp/etcd" \
			go.etcd.io/etcd/server/v3)
		;;
	kube-apiserver | kube-controller-manager)
		echo "build-kube-tools: building $b (k8s.io/kubernetes/cmd/$b) in tools/kube"
		(cd "$root/tools/kube" && go build -trimpath -ldflags "$ldflags" -o "$tmp/$b" \
			"k8s.io/kubernetes/cmd/$b")
		;;
	esac
	mv "$tmp/$b" "$dir/$b"
	echo "build-kube-tools: built $dir/$b in $((SECONDS - t0))s"
done
echo "build-kube-tools: done in $((SECONDS - start))s"
ls -l "$dir"
