{{/*
The image-import hook: one pre-install/pre-upgrade Job per node that loads the image archives of
imagePull.imagesPath into the node's container runtime. Every Job sits in ONE hook document (a v1 List),
which Helm builds, creates and waits for as one, so the nodes import at the same time. To lift it into
another chart, copy this folder, the imagePull values (and their schema) and the airlock.name/fullname/
labels/image helpers, list your workload templates in "airlock.imageImport.workloadTemplates", and include
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
Directory on each node with the archives (and the bundle's runtime): imagePull.imagesPath, or
/opt/<chart name>/images.
*/}}
{{- define "airlock.imageImport.imagesPath" -}}
{{- .Values.imagePull.imagesPath | default (printf "/opt/%s/images" .Chart.Name) }}
{{- end }}

{{/*
The chart's templates whose pods run the release's images. AIRLOCK_IMAGES is read from what they render.
*/}}
{{- define "airlock.imageImport.workloadTemplates" -}}
{{- list "web-deployment.yaml" "worker-deployment.yaml" | toJson }}
{{- end }}

{{/*
Every image reference the release's workload templates render, as written in their pod specs, one per line
(AIRLOCK_IMAGES), then imagePull.extraImages: the importer creates these names and no others. Rendered from the
templates themselves, so values, global.imageRegistry and digests are applied exactly as kubelet will see them.
*/}}
{{- define "airlock.imageImport.releaseImages" -}}
{{- $images := list }}
{{- range $file := include "airlock.imageImport.workloadTemplates" . | fromJsonArray }}
{{- $rendered := include (printf "%s/%s" $.Template.BasePath $file) $ }}
{{- range $document := regexSplit "(?m)^---[ \t]*$" $rendered -1 }}
{{- $object := fromYaml $document | default dict }}
{{- $pod := dig "spec" "template" "spec" dict $object }}
{{- range $container := concat (get $pod "initContainers" | default list) (get $pod "containers" | default list) }}
{{- $images = append $images $container.image }}
{{- end }}
{{- end }}
{{- end }}
{{- $images = concat $images (.Values.imagePull.extraImages | default list) }}
{{- $images | uniq | join "\n" }}
{{- end }}

{{/*
Whether a looked-up node is Ready: its Ready condition is True. A node known by name only (not looked up) is
taken as Ready.
*/}}
{{- define "airlock.imageImport.nodeReady" -}}
{{- $status := .status | default dict }}
{{- if not (hasKey $status "conditions") }}
{{- true }}
{{- else }}
{{- $ready := false }}
{{- range $condition := $status.conditions }}
{{- if and (eq $condition.type "Ready") (eq (toString $condition.status) "True") }}
{{- $ready = true }}
{{- end }}
{{- end }}
{{- $ready }}
{{- end }}
{{- end }}

{{/*
The image a node's Job runs the bundle in when imagePull.importer.hostImage is empty: from the node's
status.images, a pause image when one is listed (every node that runs pods has its runtime's sandbox
image), else the smallest image. A tagged name is preferred to a digest name. Empty when the node lists none.
*/}}
{{- define "airlock.imageImport.nodeHostImage" -}}
{{- $pause := "" }}
{{- $smallest := "" }}
{{- $smallestSize := -1 }}
{{- range $image := dig "status" "images" list . }}
{{- $names := $image.names | default list }}
{{- $name := "" }}
{{- range $candidate := $names }}
{{- if and (not $name) (not (contains "@" $candidate)) }}
{{- $name = $candidate }}
{{- end }}
{{- end }}
{{- $name = $name | default (first $names) | default "" }}
{{- if and $name (not $pause) (regexMatch "(^|[/-])pause[:@]" $name) }}
{{- $pause = $name }}
{{- end }}
{{- $size := $image.sizeBytes | default 0 | int64 }}
{{- if and $name (or (lt $smallestSize 0) (lt $size $smallestSize)) }}
{{- $smallest = $name }}
{{- $smallestSize = $size }}
{{- end }}
{{- end }}
{{- $pause | default $smallest }}
{{- end }}

{{/*
One node's import settings as JSON {name, arch, runtime, socket, hostImage}. runtime auto reads the node's
status.nodeInfo: containerRuntimeVersion docker:// means Docker, anything else containerd; k3s and RKE2
(their versions carry "k3s" or "rke2") keep containerd's socket under /run/k3s, k0s under /run/k0s.
Explicit values win. A node without status (not looked up) gets the values' defaults.
Usage: {{ include "airlock.imageImport.nodeTarget" (dict "node" $node "context" $) | fromJson }}
*/}}
{{- define "airlock.imageImport.nodeTarget" -}}
{{- $imagePull := .context.Values.imagePull }}
{{- $info := dig "status" "nodeInfo" dict .node }}
{{- $labels := dig "metadata" "labels" dict .node }}
{{- $runtimeVersion := get $info "containerRuntimeVersion" | default "" }}
{{- $flavour := printf "%s %s" $runtimeVersion (get $info "kubeletVersion" | default "") }}
{{- $runtime := $imagePull.runtime }}
{{- if eq $runtime "auto" }}
{{- $runtime = ternary "docker" "containerd" (hasPrefix "docker://" $runtimeVersion) }}
{{- end }}
{{- $socket := $imagePull.docker.socket }}
{{- if eq $runtime "containerd" }}
{{- $socket = $imagePull.containerd.socket }}
{{- if not $socket }}
{{- $socket = "/run/containerd/containerd.sock" }}
{{- if regexMatch "k3s|rke2" $flavour }}
{{- $socket = "/run/k3s/containerd/containerd.sock" }}
{{- else if contains "k0s" $flavour }}
{{- $socket = "/run/k0s/containerd.sock" }}
{{- end }}
{{- end }}
{{- end }}
{{- $arch := get $info "architecture" | default (get $labels "kubernetes.io/arch") | default $imagePull.importer.arch }}
{{- $hostImage := $imagePull.importer.hostImage | default (include "airlock.imageImport.nodeHostImage" .node) }}
{{- dict "name" (dig "metadata" "name" "" .node) "arch" $arch "runtime" $runtime "socket" $socket "hostImage" $hostImage | toJson }}
{{- end }}

{{/*
The node objects to import on: imagePull.nodes, each looked up by name unless hostImage and runtime are both
set (a node the API does not return, or any node under helm template, is known by its name only); otherwise every node the API lists whose labels
match imagePull.nodeSelector. Sorted by name, as JSON.
*/}}
{{- define "airlock.imageImport.nodeObjects" -}}
{{- $byName := dict }}
{{- $imagePull := .Values.imagePull }}
{{- /* Named nodes are read only when something must come from them: installers without "get nodes" set both. */}}
{{- $needStatus := or (not $imagePull.importer.hostImage) (eq $imagePull.runtime "auto") }}
{{- if $imagePull.nodes }}
{{- range $name := $imagePull.nodes }}
{{- $node := dict }}
{{- if $needStatus }}
{{- $node = lookup "v1" "Node" "" $name | default dict }}
{{- end }}
{{- if not $node }}
{{- $node = dict "metadata" (dict "name" $name) }}
{{- end }}
{{- $_ := set $byName $name $node }}
{{- end }}
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
{{- $_ := set $byName $node.metadata.name $node }}
{{- end }}
{{- end }}
{{- end }}
{{- $nodes := list }}
{{- range $name := keys $byName | sortAlpha }}
{{- $nodes = append $nodes (get $byName $name) }}
{{- end }}
{{- $nodes | toJson }}
{{- end }}

{{/*
Where the hook imports, as JSON {"targets": [...nodeTarget], "notReady": [names], "named": bool}.
NotReady nodes get no Job: their pods would never start and would hold the release until the deadline.
Without any node name (helm template with imagePull.nodes empty, client dry runs) a single target without
a name stands for "whichever node the scheduler picks" and "named" is false.
*/}}
{{- define "airlock.imageImport.plan" -}}
{{- $targets := list }}
{{- $notReady := list }}
{{- $nodes := include "airlock.imageImport.nodeObjects" . | fromJsonArray }}
{{- range $node := $nodes }}
{{- if eq (include "airlock.imageImport.nodeReady" $node) "true" }}
{{- $targets = append $targets (include "airlock.imageImport.nodeTarget" (dict "node" $node "context" $) | fromJson) }}
{{- else }}
{{- $notReady = append $notReady $node.metadata.name }}
{{- end }}
{{- end }}
{{- if not $nodes }}
{{- $targets = list (include "airlock.imageImport.nodeTarget" (dict "node" dict "context" .) | fromJson) }}
{{- end }}
{{- dict "targets" $targets "notReady" $notReady "named" (not (empty $nodes)) | toJson }}
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
The bundle's loader for an architecture (contract of the exporter's importer/linux-<arch>/ layout).
*/}}
{{- define "airlock.imageImport.loader" -}}
{{- if eq . "arm64" }}ld-linux-aarch64.so.1{{ else }}ld-linux-x86-64.so.2{{ end }}
{{- end }}

{{/*
The container command that starts the bundle's importer through its own loader, so nothing in the host
image (no shell, no libc) is used.
Usage: {{ include "airlock.imageImport.bundleCommand" "amd64" }}
*/}}
{{- define "airlock.imageImport.bundleCommand" -}}
{{- $dir := printf "/images/importer/linux-%s" . -}}
- {{ printf "%s/lib/%s" $dir (include "airlock.imageImport.loader" .) | quote }}
- "--library-path"
- {{ printf "%s/lib" $dir | quote }}
- {{ printf "%s/bin/node" $dir | quote }}
- {{ printf "%s/importer.mjs" $dir | quote }}
{{- end }}

{{/*
The importer's environment (flags and env twins of importer/src/main.ts) for one target.
Usage: {{ include "airlock.imageImport.env" (dict "target" $target "context" $) }}
*/}}
{{- define "airlock.imageImport.env" -}}
{{- $imagePull := .context.Values.imagePull -}}
- name: AIRLOCK_DIR
  value: /images
- name: AIRLOCK_RUNTIME
  value: {{ .target.runtime | quote }}
{{- if eq .target.runtime "docker" }}
- name: AIRLOCK_DOCKER_HOST
  value: {{ printf "unix://%s" .target.socket | quote }}
{{- else }}
- name: AIRLOCK_CONTAINERD_ADDRESS
  value: {{ .target.socket | quote }}
- name: AIRLOCK_NAMESPACE
  value: {{ $imagePull.containerd.namespace | quote }}
{{- end }}
- name: AIRLOCK_IMAGES
  value: {{ include "airlock.imageImport.releaseImages" .context | quote }}
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
{{- /* A young generation of 1 MiB collects the import's dead buffers as it goes: peak RSS -25 MiB, same speed. */}}
- name: NODE_OPTIONS
  value: "--max-semi-space-size=1"
{{- end }}

{{/*
The refusal when bundle mode has no image to run in on a node.
*/}}
{{- define "airlock.imageImport.noHostImage" -}}
{{- $node := .name | default "NODE" -}}
imagePull.importer.hostImage is empty and {{ if .name }}node {{ .name }} lists no image{{ else }}no node could be looked up (helm template and client dry runs cannot){{ end }} to run the importer in: set imagePull.importer.hostImage to an image every node already holds, such as its pause image; list a node's images with: kubectl get node {{ $node }} -o jsonpath='{.status.images[*].names}'
{{- end }}

{{/*
The hook's part of NOTES.txt: how to read each node's import log, the nodes left out, or a warning when the
import runs on one node only.
*/}}
{{- define "airlock.imageImport.notes" -}}
{{- if .Values.imagePull.enabled -}}
{{- $plan := include "airlock.imageImport.plan" . | fromJson -}}
{{- $targets := $plan.targets -}}
{{- $selector := printf "app.kubernetes.io/instance=%s,app.kubernetes.io/component=image-import" .Release.Name -}}
Image import: archives in {{ include "airlock.imageImport.imagesPath" . }} on each node, importer in {{ .Values.imagePull.importer.mode }} mode.
{{- if $plan.named }}
{{- range $target := $targets }}
  {{ $target.name }}: {{ $target.runtime }} at {{ $target.socket }}{{ if eq $.Values.imagePull.importer.mode "bundle" }}, runs in {{ $target.hostImage }} ({{ $target.arch }}){{ end }}
{{- end }}
{{- with $plan.notReady }}

NOT READY, no images imported: {{ join ", " . }}. Once such a node is Ready, upgrade the release again
(same command as the install) to import there.
{{- end }}
{{- if $targets }}

One Job per node ({{ len $targets }}), kept {{ .Values.imagePull.ttlSecondsAfterFinished }} s after it finishes. What each node imported:

  kubectl logs -n {{ .Release.Namespace }} -l {{ $selector }} --prefix --tail=-1{{ if gt (len $targets) 5 }} --max-log-requests={{ len $targets }}{{ end }}
{{- range $target := $targets }}
  kubectl logs -n {{ $.Release.Namespace }} job/{{ include "airlock.imageImport.jobName" (dict "node" $target.name "context" $) }}
{{- end }}
{{- end }}
{{- else }}
{{- $target := first $targets }}
No node could be looked up: {{ $target.runtime }} at {{ $target.socket }} is assumed{{ if eq .Values.imagePull.runtime "auto" }} (imagePull.runtime auto falls back to containerd){{ end }}.

WARNING: images are imported on ONE node only.
imagePull.nodes is empty and no node was found: helm template and client-side dry runs cannot list
nodes, or no node matches imagePull.nodeSelector. A single Job runs on whichever node the scheduler
picks; pods placed on any other node fail with ErrImagePull/ImagePullBackOff. Name every node and
upgrade (from the directory that holds the chart):

  kubectl get nodes -o name
  helm upgrade {{ .Release.Name }} ./{{ .Chart.Name }} -n {{ .Release.Namespace }} --reuse-values --set 'imagePull.nodes={node-a,node-b}'

What the one node imported:

  kubectl logs -n {{ .Release.Namespace }} job/{{ include "airlock.imageImport.jobName" (dict "node" "" "context" .) }}
{{- end }}
{{- end }}
{{- end }}

{{/*
The keeper's image: imagePull.keeper.image, else the first pause image among the current nodes' status.images
(a node that joins later has its runtime's sandbox image too), else imagePull.importer.hostImage.
*/}}
{{- define "airlock.imageImport.keeperImage" -}}
{{- $image := .Values.imagePull.keeper.image }}
{{- if not $image }}
{{- range $node := include "airlock.imageImport.nodeObjects" . | fromJsonArray }}
{{- $candidate := include "airlock.imageImport.nodeHostImage" $node }}
{{- if and (not $image) (regexMatch "(^|[/-])pause[:@]" $candidate) }}
{{- $image = $candidate }}
{{- end }}
{{- end }}
{{- end }}
{{- $image | default .Values.imagePull.importer.hostImage }}
{{- end }}

{{/*
A keeper container that runs the bundle importer (the init container, and the main container in watch mode):
image, command, environment, securityContext and mounts; the caller adds name and resources.
Usage: {{ include "airlock.imageImport.keeperImporter" (dict "image" $image "target" $target "context" $ "watch" true) }}
*/}}
{{- define "airlock.imageImport.keeperImporter" -}}
image: {{ .image | quote }}
imagePullPolicy: Never
command:
  {{- include "airlock.imageImport.bundleCommand" .target.arch | nindent 2 }}
workingDir: /
env:
  {{- include "airlock.imageImport.env" (dict "target" .target "context" .context) | nindent 2 }}
  {{- if .watch }}
  - name: AIRLOCK_WATCH
    value: "true"
  - name: AIRLOCK_INTERVAL
    value: {{ .context.Values.imagePull.keeper.interval | quote }}
  {{- end }}
securityContext:
  # Root for the root-owned runtime socket, every capability dropped, as in the hook.
  privileged: false
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsUser: 0
  runAsGroup: 0
  runAsNonRoot: false
  capabilities:
    drop:
      - ALL
volumeMounts:
  - name: images
    mountPath: /images
    readOnly: true
  - name: runtime-socket
    mountPath: {{ .target.socket }}
  - name: tmp
    mountPath: /tmp
{{- end }}
