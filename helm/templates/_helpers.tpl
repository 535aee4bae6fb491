{{/*
Chart name, overridable with nameOverride.
*/}}
{{- define "airlock.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Prefix of every object name: "<release>-<chart>", or the release name alone when it already contains
the chart name. Truncated to 63 characters because some fields are limited to that (DNS-1123 labels).
*/}}
{{- define "airlock.fullname" -}}
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

{{/*
Chart name and version, as used by the helm.sh/chart label.
*/}}
{{- define "airlock.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels every object carries.
*/}}
{{- define "airlock.labels" -}}
helm.sh/chart: {{ include "airlock.chart" . }}
{{ include "airlock.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that never change over the life of a release, so they can be used in selectors.
*/}}
{{- define "airlock.selectorLabels" -}}
app.kubernetes.io/name: {{ include "airlock.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/*
A full image reference from an image map {registry, repository, tag, digest} (bitnami's
common.images.image): global.imageRegistry replaces the registry; a digest wins over the tag and gives
"registry/repository@digest", the exact name kubelet asks the runtime for; an empty tag falls back to
the chart's appVersion.
Usage: {{ include "airlock.image" (dict "image" .Values.web.image "context" $) }}
*/}}
{{- define "airlock.image" -}}
{{- $registry := .image.registry | default "" }}
{{- with .context.Values.global }}
{{- if .imageRegistry }}
{{- $registry = .imageRegistry }}
{{- end }}
{{- end }}
{{- $name := .image.repository }}
{{- if $registry }}
{{- $name = printf "%s/%s" (trimSuffix "/" $registry) .image.repository }}
{{- end }}
{{- if .image.digest }}
{{- printf "%s@%s" $name .image.digest }}
{{- else }}
{{- printf "%s:%s" $name (.image.tag | default .context.Chart.AppVersion | toString) }}
{{- end }}
{{- end }}
