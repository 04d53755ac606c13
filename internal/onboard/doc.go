// Package onboard brings access that already exists for an EKS cluster under the
// operator: Import turns the cluster's access entries into AccessEntry manifests that
// adopt them, and Migrate turns the mappings of the aws-auth ConfigMap into
// AccessEntry manifests, with a report of what does not convert. Neither writes
// anywhere: Import only reads EKS, Migrate only reads the ConfigMap it is given.
//
// The kubectl-eksaccess command (cmd/kubectl-eksaccess) is the user interface; this
// package holds its logic so that tests drive it directly.
package onboard
