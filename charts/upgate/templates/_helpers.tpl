{{- define "upgate.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "upgate.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "upgate.selector" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "upgate.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "upgate.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- /* The executor's ServiceAccount: never serve's, which faces the network. */ -}}
{{- define "upgate.executorServiceAccountName" -}}
{{- $name := default (printf "%s-executor" (include "upgate.fullname" .)) .Values.serviceAccount.executorName -}}
{{- if eq $name (include "upgate.serviceAccountName" .) -}}
{{- fail "serviceAccount.executorName must differ from serve's ServiceAccount: the executor's rights are never bound to the network-facing serve" -}}
{{- end -}}
{{- $name -}}
{{- end -}}
