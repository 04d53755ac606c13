// Package health evaluates the health checks people run against AccessEntry
// objects, for tests: the Argo CD health script in config/argocd, run the way
// Argo CD runs it. Its own tests check that the health tools people run
// against AccessEntry objects read the operator's conditions as intended. They run
// the Argo CD health check in config/argocd the way Argo CD does (gopher-lua, no
// standard libraries, the object as the global obj) and compute the kstatus
// status that Flux and `kubectl wait` users rely on, both on objects built from the
// API types as the operator writes them.
package health
