#!/usr/bin/env bash
# Self-test of hack/generated-check.sh, on a clone of HEAD in a scratch directory:
# the check passes on the clone with an unrelated edit, and fails, naming them, once a
# line is removed from dist/install.yaml and from the chart's copy of a CRD.
# CONTROLLER_GEN is a built controller-gen, reused by the clone instead of building
# its own; GENERATE_TARGETS the Makefile's targets that write the generated files.
set -euo pipefail
cd "$(dirname "$0")/.."
check="$PWD/hack/generated-check.sh"
: "${CONTROLLER_GEN:?the path of a built controller-gen}"
: "${GENERATE_TARGETS:?the make targets that write the generated files}"

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
clone="$scratch/repo"
git clone --quiet --shared --no-checkout . "$clone"
git -C "$clone" checkout --quiet --detach "$(git rev-parse HEAD)"
cd "$clone"

# The check of this tree (not the clone's copy of it), regenerating with the clone's Makefile.
run_check() {
	# shellcheck disable=SC2086 # GENERATE_TARGETS is a list of targets
	"$check" make --no-print-directory CONTROLLER_GEN="$CONTROLLER_GEN" $GENERATE_TARGETS >"$scratch/out" 2>&1
}
fail() {
	echo "generated-check-test: FAIL: $*" >&2
	sed 's/^/  | /' "$scratch/out" >&2
	exit 1
}

echo "generated-check-test: the untouched generated files, an unrelated edit in README.md: must pass"
echo "an uncommitted edit outside the generated files" >>README.md
if ! run_check; then
	fail "the check failed on a clone of HEAD whose generated files are untouched"
fi
grep -q "the generated files match their sources" "$scratch/out" || fail "the check passed without saying so"

echo "generated-check-test: a line removed from dist/install.yaml and from a chart CRD: must fail naming both"
stale=(dist/install.yaml charts/eks-access-operator/crds/eksaccess.io_accessentries.yaml)
for f in "${stale[@]}"; do
	sed -i '5d' "$f"
done
if run_check; then
	fail "the check passed with stale ${stale[*]}"
fi
for f in "${stale[@]}"; do
	grep -qE "^  M[[:space:]]+$f\$" "$scratch/out" || fail "the check's failure does not name $f"
done
grep -q "README.md" "$scratch/out" && fail "the check's failure names README.md, which is not generated"
grep -q "make verify" "$scratch/out" || fail "the check's failure does not say how to fix it"
for f in "${stale[@]}"; do
	git diff --quiet HEAD -- "$f" || fail "the check did not regenerate $f in place"
done
sed -n '/did not match/,/passes once/p' "$scratch/out"
echo "generated-check-test: passed"
