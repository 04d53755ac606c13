#!/usr/bin/env bash
# Fails, naming them, when generated files do not match what their generators write
# from the sources: the CRDs and RBAC and the chart's copies of them, the deep copies,
# dist/install.yaml, schemas/ and docs/api.md.
#
# Usage: hack/generated-check.sh COMMAND...
# COMMAND regenerates them (the Makefile passes `make manifests generate docs schemas
# build-installer`); it runs in, and the check is of, the checkout of the current
# directory.
#
# The generated paths of the working tree are recorded in a scratch git index, COMMAND
# runs, and the paths are compared with the record. On a fresh clone (CI) the record is
# the commit, so a stale committed file fails the run. In a developer's tree it is what
# the tree held: generated files regenerated but not committed yet pass (make test runs
# before the commit; a note says they still differ from HEAD), a generated file behind
# its sources or edited by hand fails. Files outside the generated paths are not looked
# at. The regenerated files are left in place.
set -euo pipefail

if [ $# -eq 0 ]; then
	echo "usage: $0 COMMAND... (the command that regenerates the generated files)" >&2
	exit 2
fi
cd "$(git rev-parse --show-toplevel)"

# Every generated path, as git pathspecs.
paths=(
	config/crd/bases
	config/rbac/role.yaml
	charts/eks-access-operator/crds
	charts/eks-access-operator/files/manager-role.yaml
	':(glob)**/zz_generated.*.go'
	dist/install.yaml
	schemas
	docs/api.md
)

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# The commit, with the generated paths as the working tree has them.
snapshot() { GIT_INDEX_FILE="$scratch/index" git "$@"; }
snapshot read-tree HEAD
snapshot add -A -- "${paths[@]}"

echo "generated-check: regenerating: $*"
"$@"

snapshot update-index -q --refresh >/dev/null || true
stale=$(
	snapshot diff --name-status -- "${paths[@]}"
	snapshot ls-files --others --exclude-standard -- "${paths[@]}" | sed 's/^/A\t/'
)
if [ -n "$stale" ]; then
	{
		echo "generated-check: FAIL: these generated files did not match their sources (M changed, A new, D gone):"
		sed 's/^/  /' <<<"$stale"
		echo "They are regenerated in place now, so this check passes when run again. Fix: review and"
		echo "commit them ('make verify' runs 'make manifests generate fmt docs schemas build-installer'"
		echo "and passes once the tree is clean)."
		echo "The regeneration changed (the diff's first 60 lines):"
		snapshot --no-pager diff --stat -- "${paths[@]}"
		snapshot --no-pager diff -- "${paths[@]}" | head -n 60 || true
	} >&2
	exit 1
fi

# Up to date, but maybe not committed yet: CI checks the commit.
uncommitted=$(
	git diff --name-only HEAD -- "${paths[@]}"
	git ls-files --others --exclude-standard -- "${paths[@]}"
)
if [ -n "$uncommitted" ]; then
	echo "generated-check: note: these generated files are up to date but not committed; commit them with the change that made them:"
	sed 's/^/  /' <<<"$uncommitted"
fi
echo "generated-check: the generated files match their sources"
