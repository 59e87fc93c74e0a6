{{/* Name of the chart, overridable. */}}
{{- define "webedt-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Full name: the release name when it already contains the chart name. */}}
{{- define "webedt-operator.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "webedt-operator.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Selector labels: stable across upgrades. */}}
{{- define "webedt-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "webedt-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "webedt-operator.labels" -}}
helm.sh/chart: {{ include "webedt-operator.chart" . }}
{{ include "webedt-operator.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: operator
app.kubernetes.io/part-of: webedt
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "webedt-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "webedt-operator.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, or repository@digest when a digest is given. */}}
{{- define "webedt-operator.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/* Replicas: explicit, else 2 with leader election, else 1. More than 1 needs a leader. */}}
{{- define "webedt-operator.replicas" -}}
{{- $n := ternary 2 1 .Values.leaderElection.enabled -}}
{{- if not (kindIs "invalid" .Values.replicaCount) -}}
{{- $n = int .Values.replicaCount -}}
{{- end -}}
{{- if and (gt $n 1) (not .Values.leaderElection.enabled) -}}
{{- fail "replicaCount > 1 needs leaderElection.enabled=true: controllers without a lease would fight" -}}
{{- end -}}
{{- $n -}}
{{- end -}}
