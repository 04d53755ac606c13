#!/usr/bin/env bash
# Checks manifests against the JSON Schemas in schemas/ the way a GitOps repository's
# CI would, with kubeconform: config/samples must pass, and
# hack/testdata/invalid-accessentry.yaml must be refused for the reasons it states.
# KUBECONFORM is the command (the Makefile's: `go run` of a pinned module version).
set -euo pipefail
cd "$(dirname "$0")/.."
kubeconform=${KUBECONFORM:-kubeconform}
# The README's check, with the schemas of this checkout instead of the published ones.
# Built-in kinds (the samples' Namespace) have no schema here: no network to fetch one.
check() {
	$kubeconform -strict -summary -ignore-missing-schemas \
		-ignore-filename-pattern 'kustomization\.yaml$' \
		-schema-location 'schemas/{{.Group}}/{{.ResourceKind}}_{{.ResourceAPIVersion}}.json' "$@"
}

echo "kubeconform: config/samples"
check config/samples

echo "kubeconform: hack/testdata/invalid-accessentry.yaml must be refused"
if out=$(check hack/testdata/invalid-accessentry.yaml 2>&1); then
	echo "$out"
	echo "FAIL: kubeconform accepted an invalid AccessEntry" >&2
	exit 1
fi
echo "$out"
for want in "/spec/type" "kubernetesGroup" "Invalid: 1"; do
	if ! grep -q "$want" <<<"$out"; then
		echo "FAIL: kubeconform's refusal does not name $want" >&2
		exit 1
	fi
done
echo "schema check passed: the samples are valid, the invalid manifest is refused"
