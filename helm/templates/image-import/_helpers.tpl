{{/*
The image-import hook: one pre-install/pre-upgrade Job per node that loads the image archives of
imagePull.imagesPath into the node's container runtime. To lift it into another chart, copy this folder,
the imagePull values (and their schema) and the airlock.name/fullname/labels/image helpers, and include
"airlock.imageImport.notes" in NOTES.txt.
*/}}

{{/*
Prefix of the hook's object names.
*/}}
{{- define "airlock.imageImport.fullname" -}}
{{- printf "%s-image-import" (include "airlock.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels of the hook's objects; `kubectl logs -l app.kubernetes.io/component=image-import` finds its pods.
*/}}
{{- define "airlock.imageImport.labels" -}}
{{ include "airlock.labels" . }}
app.kubernetes.io/component: image-import
{{- end }}

{{/*
Directory on each node with the archives: imagePull.imagesPath, or /opt/<chart name>/images.
*/}}
{{- define "airlock.imageImport.imagesPath" -}}
{{- .Values.imagePull.imagesPath | default (printf "/opt/%s/images" .Chart.Name) }}
{{- end }}

{{/*
The one runtime socket the importer talks to.
*/}}
{{- define "airlock.imageImport.socket" -}}
{{- if eq .Values.imagePull.runtime "docker" }}
{{- .Values.imagePull.docker.socket }}
{{- else }}
{{- .Values.imagePull.containerd.socket }}
{{- end }}
{{- end }}

{{/*
Target nodes as a JSON array: imagePull.nodes when set; otherwise every node the API lists whose labels
match imagePull.nodeSelector. Empty when neither gives a name: `lookup` returns nothing under
`helm template` and client-side dry runs.
Usage: {{ $nodes := include "airlock.imageImport.nodes" . | fromJsonArray }}
*/}}
{{- define "airlock.imageImport.nodes" -}}
{{- $nodes := list }}
{{- if .Values.imagePull.nodes }}
{{- $nodes = .Values.imagePull.nodes }}
{{- else }}
{{- $listed := lookup "v1" "Node" "" "" | default dict }}
{{- range $node := get $listed "items" | default list }}
{{- $labels := $node.metadata.labels | default dict }}
{{- $matches := true }}
{{- range $key, $value := $.Values.imagePull.nodeSelector }}
{{- if or (not (hasKey $labels $key)) (ne (toString (get $labels $key)) (toString $value)) }}
{{- $matches = false }}
{{- end }}
{{- end }}
{{- if $matches }}
{{- $nodes = append $nodes $node.metadata.name }}
{{- end }}
{{- end }}
{{- end }}
{{- $nodes | uniq | sortAlpha | toJson }}
{{- end }}

{{/*
Name of the Job for one node: "<fullname>-image-import-<node>". Node names may hold dots and run to 253
characters, while a Job name must fit the 63-character job-name label: such names are cut and end in a
hash of the node name so they stay unique. Without a node: "<fullname>-image-import".
Usage: {{ include "airlock.imageImport.jobName" (dict "node" $node "context" $) }}
*/}}
{{- define "airlock.imageImport.jobName" -}}
{{- $base := include "airlock.imageImport.fullname" .context }}
{{- if not .node }}
{{- $base }}
{{- else }}
{{- $name := printf "%s-%s" $base (.node | replace "." "-") }}
{{- if or (contains "." .node) (gt (len $name) 63) }}
{{- printf "%s-%s" ($name | trunc 54 | trimSuffix "-") (.node | sha256sum | trunc 8) }}
{{- else }}
{{- $name }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A node name as a label value (at most 63 characters, alphanumeric at both ends).
*/}}
{{- define "airlock.imageImport.nodeLabel" -}}
{{- regexReplaceAll "[^A-Za-z0-9]+$" (trunc 63 .) "" }}
{{- end }}

{{/*
The importer's environment (flags and env twins of importer/src/main.ts).
*/}}
{{- define "airlock.imageImport.env" -}}
{{- $imagePull := .Values.imagePull -}}
- name: AIRLOCK_DIR
  value: /images
- name: AIRLOCK_RUNTIME
  value: {{ $imagePull.runtime | quote }}
{{- if eq $imagePull.runtime "docker" }}
- name: AIRLOCK_DOCKER_HOST
  value: {{ printf "unix://%s" $imagePull.docker.socket | quote }}
{{- else }}
- name: AIRLOCK_CONTAINERD_ADDRESS
  value: {{ $imagePull.containerd.socket | quote }}
- name: AIRLOCK_NAMESPACE
  value: {{ $imagePull.containerd.namespace | quote }}
{{- end }}
- name: AIRLOCK_STRICT
  value: {{ eq $imagePull.failurePolicy "fail" | quote }}
- name: AIRLOCK_CONCURRENCY
  value: {{ $imagePull.concurrency | quote }}
- name: AIRLOCK_RETRIES
  value: {{ $imagePull.retries | quote }}
- name: AIRLOCK_TIMEOUT
  value: {{ $imagePull.timeout | quote }}
- name: NODE_NAME
  valueFrom:
    fieldRef:
      fieldPath: spec.nodeName
{{- end }}

{{/*
The hook's part of NOTES.txt: how to read each node's import log, or a warning when the import runs on
one node only.
*/}}
{{- define "airlock.imageImport.notes" -}}
{{- if .Values.imagePull.enabled -}}
{{- $nodes := include "airlock.imageImport.nodes" . | fromJsonArray -}}
{{- $selector := printf "app.kubernetes.io/instance=%s,app.kubernetes.io/component=image-import" .Release.Name -}}
Image import: archives in {{ include "airlock.imageImport.imagesPath" . }} go into {{ .Values.imagePull.runtime }} ({{ include "airlock.imageImport.socket" . }}).
{{- if $nodes }}

One Job per node ({{ len $nodes }}). What each node imported:

  kubectl logs -n {{ .Release.Namespace }} -l {{ $selector }} --prefix --tail=-1{{ if gt (len $nodes) 5 }} --max-log-requests={{ len $nodes }}{{ end }}
{{- range $node := $nodes }}
  kubectl logs -n {{ $.Release.Namespace }} job/{{ include "airlock.imageImport.jobName" (dict "node" $node "context" $) }}
{{- end }}
{{- else }}

WARNING: images are imported on ONE node only.
imagePull.nodes is empty and no node was found: helm template and client-side dry runs cannot list
nodes, or no node matches imagePull.nodeSelector. A single Job runs on whichever node the scheduler
picks; pods placed on any other node fail with ErrImagePull/ImagePullBackOff. Name every node and
upgrade:

  kubectl get nodes -o name
  helm upgrade {{ .Release.Name }} <chart> -n {{ .Release.Namespace }} --reuse-values --set 'imagePull.nodes={node-a,node-b}'

What the one node imported:

  kubectl logs -n {{ .Release.Namespace }} job/{{ include "airlock.imageImport.jobName" (dict "node" "" "context" .) }}
{{- end }}
{{- end }}
{{- end }}
