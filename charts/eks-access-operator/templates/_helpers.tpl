{{/* The chart's name, or nameOverride. */}}
{{- define "eks-access-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The prefix of every object's name: the release's name when it holds the chart's. */}}
{{- define "eks-access-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "eks-access-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "eks-access-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "eks-access-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "eks-access-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{- define "eks-access-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (printf "%s-controller-manager" (include "eks-access-operator.fullname" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "eks-access-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default (printf "v%s" .Chart.AppVersion) .Values.image.tag) }}
{{- end }}
{{- end }}

{{/* The operator's flags from the values; an empty value leaves the operator's default. */}}
{{- define "eks-access-operator.args" -}}
{{- $c := .Values.config }}
{{- if .Values.leaderElection.enabled }}
- --leader-elect
- {{ printf "--leader-election-id=%v" .Values.leaderElection.id | quote }}
{{- end }}
{{- if .Values.metrics.enabled }}
- --metrics-bind-address=:{{ .Values.metrics.port }}
- {{ printf "--metrics-secure=%v" .Values.metrics.secure | quote }}
{{- if .Values.metrics.certSecret }}
- --metrics-cert-dir=/etc/metrics-certs
{{- end }}
{{- else }}
- --metrics-bind-address=0
{{- end }}
- --health-probe-bind-address=:8081
{{- with .Values.aws.region }}
- {{ printf "--region=%v" . | quote }}
{{- end }}
{{- with .Values.aws.eksEndpoint }}
- {{ printf "--eks-endpoint=%v" . | quote }}
{{- end }}
{{- with .Values.aws.stsEndpoint }}
- {{ printf "--sts-endpoint=%v" . | quote }}
{{- end }}
{{- with .Values.aws.iamEndpoint }}
- {{ printf "--iam-endpoint=%v" . | quote }}
{{- end }}
{{- range $flag, $key := dict "resync-period" "resyncPeriod" "cluster-poll-interval" "clusterPollInterval" "verification-period" "verificationPeriod" "sweep-period" "sweepPeriod" "watched-sweep-period" "watchedSweepPeriod" "watch-namespace" "watchNamespace" "selector" "selector" "instance-id" "instanceId" "stall-after" "stallAfter" "recheck-interval" "recheckInterval" "consistency-window" "consistencyWindow" "principal-check-interval" "principalCheckInterval" "memory-limit" "memoryLimit" }}
{{- with index $c $key }}
- {{ printf "--%s=%v" $flag . | quote }}
{{- end }}
{{- end }}
{{- range $flag, $key := dict "eks-qps" "eksQPS" "eks-burst" "eksBurst" "background-qps" "backgroundQPS" "iam-qps" "iamQPS" "max-concurrent-reconciles" "maxConcurrentReconciles" }}
{{- $v := index $c $key }}
{{- if not (kindIs "invalid" $v) }}
- {{ printf "--%s=%v" $flag $v | quote }}
{{- end }}
{{- end }}
{{- with $c.trustedNamespaces }}
- {{ printf "--trusted-namespaces=%s" (join "," .) | quote }}
{{- end }}
{{- if $c.requireClusterConfig }}
- --require-cluster-config
{{- end }}
{{- with $c.watchedPolicies }}
- {{ printf "--watched-policies=%s" (join "," .) | quote }}
{{- end }}
{{- /* A release upgraded with --reuse-values from a chart without events has no .Values.events. */}}
{{- $e := .Values.events | default dict }}
{{- range $flag, $key := dict "events-queue-url" "queueURL" "events-queue-region" "queueRegion" "events-max-delay" "maxDelay" "events-probe-interval" "probeInterval" "events-sweep-period" "sweepPeriod" "events-watched-sweep-period" "watchedSweepPeriod" "events-verification-period" "verificationPeriod" }}
{{- with index $e $key }}
- {{ printf "--%s=%v" $flag . | quote }}
{{- end }}
{{- end }}
- {{ printf "--zap-log-level=%v" .Values.logging.level | quote }}
- {{ printf "--zap-encoder=%v" .Values.logging.encoder | quote }}
{{- range .Values.extraArgs }}
- {{ . | quote }}
{{- end }}
{{- end }}
