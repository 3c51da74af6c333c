#!/usr/bin/env bash
# build-tofu.sh builds the OpenTofu command for the tests of the terraform action
# (actions/terraform), which run plan and apply against a real binary. The binary goes to a cache
# folder outside the repository and is built only when it is missing.
#
#   CATOBOT_TOOLS_DIR   cache root (default: $HOME/.cache/catobot-tools)
#
# OpenTofu comes from tools/tofu/go.mod, a module kept apart from the project's go.mod. The
# version below must match the one that go.mod requires.
set -euo pipefail

tofu_version=v1.12.6
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="${CATOBOT_TOOLS_DIR:-$HOME/.cache/catobot-tools}/tofu-${tofu_version}"

if [[ -x "$dir/tofu" ]]; then
	echo "build-tofu: present in $dir, nothing to build"
	exit 0
fi
echo "build-tofu: missing $dir/tofu"

if ! grep -q "github.com/opentofu/opentofu ${tofu_version} " "$root/tools/tofu/go.mod"; then
	echo "build-tofu: tools/tofu/go.mod does not require opentofu ${tofu_version}" >&2
	exit 1
fi

mkdir -p "$dir"
tmp="$(mktemp -d "$dir/.build.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT

export GOWORK=off CGO_ENABLED=0 GOFLAGS="-mod=readonly -buildvcs=false"
# Without dev=no the binary calls itself a development build ("1.12.6-dev").
ldflags="-s -w -X github.com/opentofu/opentofu/version.dev=no"

start=$SECONDS
echo "build-tofu: building tofu (github.com/opentofu/opentofu/cmd/tofu) in tools/tofu"
(cd "$root/tools/tofu" && go build -trimpath -ldflags "$ldflags" -o "$tmp/tofu" \
	github.com/opentofu/opentofu/cmd/tofu)
mv "$tmp/tofu" "$dir/tofu"
echo "build-tofu: built $dir/tofu in $((SECONDS - start))s"
"$dir/tofu" version
ls -l "$dir"
