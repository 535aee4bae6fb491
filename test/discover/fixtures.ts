import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach } from 'vitest';

/** A chart as files: relative path -> content. */
export type ChartFiles = Record<string, string>;

const created: string[] = [];

/** Writes files under a fresh temporary directory (removed after each test) and returns it. */
export const writeTree = async (files: ChartFiles): Promise<string> => {
  const root = await mkdtemp(join(tmpdir(), 'airlock-discover-'));
  created.push(root);
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
  return root;
};

afterEach(async () => {
  for (const dir of created.splice(0)) await rm(dir, { recursive: true, force: true });
});

export const AGENT_DIGEST = `sha256:${'ab'.repeat(32)}`;

/** A bitnami-style helper: `global.imageRegistry` wins, a digest replaces the tag, an empty tag is appVersion. */
const IMAGE_HELPER = `{{- define "shop.image" -}}
{{- $registry := default .image.registry .global.imageRegistry -}}
{{- $tag := default .appVersion (toString .image.tag) -}}
{{- if .image.digest -}}
{{ $registry }}/{{ .image.repository }}@{{ .image.digest }}
{{- else -}}
{{ $registry }}/{{ .image.repository }}:{{ $tag }}
{{- end -}}
{{- end -}}
`;

/**
 * "shop": a web Deployment (digest-pinned init container, optional metrics sidecar), a pre-install hook Job,
 * a CronJob, a Prometheus custom resource with spec.image, Chart.yaml image annotations, and a "cache"
 * subchart (bitnami conventions) behind the condition cache.enabled.
 */
export const shopChart = (): ChartFiles => ({
  'shop/Chart.yaml': `apiVersion: v2
name: shop
version: 0.1.0
appVersion: "2.4.1"
dependencies:
  - name: cache
    version: 0.1.0
    repository: https://charts.example.com
    condition: cache.enabled
annotations:
  artifacthub.io/images: |
    - name: web
      image: docker.io/acme/web:2.4.1
    - name: cache
      image: docker.io/bitnami/redis:7.2.5
      whitelisted: true
      platforms: [linux/amd64, linux/arm64]
  helm.sh/images: |
    - docker.io/acme/migrate:1.0
    - name: backup
      image: docker.io/acme/backup:3.1
`,
  'shop/values.yaml': `global:
  imageRegistry: ""
image:
  registry: docker.io
  repository: acme/web
  tag: ""
  digest: ""
  pullPolicy: IfNotPresent
agent:
  image: "ghcr.io/acme/agent:1.2@${AGENT_DIGEST}"
migrations:
  image: docker.io/acme/migrate:1.0
backup:
  schedule: "0 3 * * *"
  image:
    repository: acme/backup
    tag: "3.1"
metrics:
  enabled: false
  image:
    registry: quay.io
    repository: acme/exporter
    tag: "0.9"
monitor:
  image: quay.io/prometheus/prometheus:v2.53.0
cache:
  enabled: true
`,
  'shop/templates/_helpers.tpl': IMAGE_HELPER,
  'shop/templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-web
spec:
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      initContainers:
        - name: agent
          image: {{ .Values.agent.image | quote }}
      containers:
        - name: web
          image: {{ include "shop.image" (dict "image" .Values.image "global" .Values.global "appVersion" .Chart.AppVersion) | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
        {{- if .Values.metrics.enabled }}
        - name: metrics
          image: {{ include "shop.image" (dict "image" .Values.metrics.image "global" .Values.global "appVersion" .Chart.AppVersion) | quote }}
        {{- end }}
`,
  'shop/templates/migrate-job.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ .Release.Name }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: migrate
          image: {{ .Values.migrations.image }}
`,
  'shop/templates/backup-cronjob.yaml': `apiVersion: batch/v1
kind: CronJob
metadata:
  name: {{ .Release.Name }}-backup
spec:
  schedule: {{ .Values.backup.schedule | quote }}
  jobTemplate:
    spec:
      template:
        spec:
          restartPolicy: OnFailure
          containers:
            - name: backup
              image: "{{ .Values.backup.image.repository }}:{{ .Values.backup.image.tag }}"
`,
  'shop/templates/prometheus.yaml': `apiVersion: monitoring.coreos.com/v1
kind: Prometheus
metadata:
  name: {{ .Release.Name }}
spec:
  image: {{ .Values.monitor.image }}
  replicas: 1
`,
  'shop/templates/tests/test-connection.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: {{ .Release.Name }}-test
  annotations:
    helm.sh/hook: test
spec:
  containers:
    - name: wget
      image: busybox:1.36
`,
  'shop/charts/cache/Chart.yaml': `apiVersion: v2
name: cache
version: 0.1.0
appVersion: "7.2.5"
annotations:
  images: |
    - name: redis
      image: docker.io/bitnami/redis:7.2.5
`,
  'shop/charts/cache/values.yaml': `global:
  imageRegistry: ""
image:
  registry: docker.io
  repository: bitnami/redis
  tag: ""
  digest: ""
`,
  'shop/charts/cache/templates/_helpers.tpl': IMAGE_HELPER,
  'shop/charts/cache/templates/statefulset.yaml': `apiVersion: apps/v1
kind: StatefulSet
metadata:
  name: {{ .Release.Name }}-cache
spec:
  serviceName: cache
  selector:
    matchLabels: {app: cache}
  template:
    metadata:
      labels: {app: cache}
    spec:
      containers:
        - name: redis
          image: {{ include "shop.image" (dict "image" .Values.image "global" .Values.global "appVersion" .Chart.AppVersion) | quote }}
`,
});

/** The images "shop" runs with its defaults, normalized. */
export const SHOP_DEFAULT_IMAGES = [
  'docker.io/acme/backup:3.1',
  'docker.io/acme/migrate:1.0',
  'docker.io/acme/web:2.4.1',
  'docker.io/bitnami/redis:7.2.5',
  `ghcr.io/acme/agent:1.2@${AGENT_DIGEST}`,
  'quay.io/prometheus/prometheus:v2.53.0',
];

/**
 * "hooked": an app image always rendered, an install-hook image rendered only with hook.enabled=true and
 * declared in Chart.yaml, and a sidecar switched off in values and not declared.
 */
export const hookedChart = (): ChartFiles => ({
  'hooked/Chart.yaml': `apiVersion: v2
name: hooked
version: 0.1.0
annotations:
  helm.sh/images: |
    - name: app
      image: docker.io/acme/app:1.0
    - name: hook
      image: docker.io/acme/hook:2.0
`,
  'hooked/values.yaml': `global:
  imageRegistry: ""
app:
  image: {registry: docker.io, repository: acme/app, tag: "1.0"}
hook:
  enabled: false
  image: {registry: docker.io, repository: acme/hook, tag: "2.0"}
sidecar:
  enabled: false
  image: {registry: docker.io, repository: acme/sidecar, tag: "3.0"}
`,
  'hooked/templates/_helpers.tpl': IMAGE_HELPER,
  'hooked/templates/app.yaml': `apiVersion: v1
kind: Pod
metadata: {name: app}
spec:
  containers:
    - name: app
      image: {{ include "shop.image" (dict "image" .Values.app.image "global" .Values.global "appVersion" .Chart.AppVersion) | quote }}
    {{- if .Values.sidecar.enabled }}
    - name: sidecar
      image: {{ include "shop.image" (dict "image" .Values.sidecar.image "global" .Values.global "appVersion" .Chart.AppVersion) | quote }}
    {{- end }}
`,
  'hooked/templates/hook.yaml': `{{- if .Values.hook.enabled }}
apiVersion: batch/v1
kind: Job
metadata:
  name: hook
  annotations: {helm.sh/hook: pre-install}
spec:
  template:
    spec:
      restartPolicy: Never
      containers:
        - name: hook
          image: {{ include "shop.image" (dict "image" .Values.hook.image "global" .Values.global "appVersion" .Chart.AppVersion) | quote }}
{{- end }}
`,
});

export interface OperatorChartOptions {
  /** Registry host the chart's images live in; `global.image.registry` defaults to it. */
  registry: string;
  /** First path component of every repository: tests sharing a registry keep their images apart. */
  org: string;
}

/**
 * "op": an operator in the shape of real controllers. Its Deployment's image is built from
 * `global.image.registry` plus `{image, tag}` per component (ingress-nginx's way); its args hand it the solver image
 * as `--solver-image=REF` and the executor image as `--executor-image REF`; env RELOADER_IMAGE names the reloader;
 * a mounted ConfigMap holds a default image (one-line key) and a sidecar image (in a YAML config file); an unused
 * ConfigMap holds an image no workload reads. Among them, decoys that parse as references but are not images.
 * Chart.yaml declares the controller under docker.io and a dashboard no template renders.
 */
export const operatorChart = ({ registry, org }: OperatorChartOptions): ChartFiles => ({
  'op/Chart.yaml': `apiVersion: v2
name: op
version: 0.1.0
appVersion: "1.0.0"
annotations:
  artifacthub.io/images: |
    - name: controller
      image: ${org}/op-controller:1.0.0
    - name: dashboard
      image: ${registry}/${org}/op-dashboard:0.9.0
`,
  'op/values.yaml': `global:
  image:
    registry: ${registry}
controller:
  image:
    image: ${org}/op-controller
    tag: "1.0.0"
solver:
  image: ${registry}/${org}/op-solver:1.0.0
executor:
  image: ${registry}/${org}/op-executor:2.0.0
reloader:
  image: ${registry}/${org}/op-reloader:3.0.0
logFormat: text
`,
  'op/templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ .Release.Name }}-op
spec:
  selector:
    matchLabels: {app: op}
  template:
    metadata:
      labels: {app: op}
    spec:
      containers:
        - name: manager
          image: "{{ .Values.global.image.registry }}/{{ .Values.controller.image.image }}:{{ .Values.controller.image.tag }}"
          imagePullPolicy: IfNotPresent
          command: ["/manager"]
          args:
            - --solver-image={{ .Values.solver.image }}
            - --executor-image
            - {{ .Values.executor.image }}
            - --log-format
            - {{ .Values.logFormat }}
            - --image-pull-policy
            - Always
            - --metrics-bind-address=0.0.0.0:8080
            - --webhook-url=https://hooks.example.com/op
            - --callback
            - http://op.example.com:8080/callback
            - --peer
            - op-peer.example.com:9443
            - --v
            - info
            - --controller-class=k8s.io/op
            - --default-backend-service
            - op/backend:80
          env:
            - name: RELOADER_IMAGE
              value: {{ .Values.reloader.image | quote }}
            - name: LOG_LEVEL
              value: info
            - name: REDIS
              value: redis:6379
            - name: DEFAULT_IMAGE
              valueFrom:
                configMapKeyRef: {name: {{ .Release.Name }}-op-config, key: default}
          volumeMounts:
            - {name: config, mountPath: /etc/op}
      volumes:
        - name: config
          configMap: {name: {{ .Release.Name }}-op-config}
`,
  'op/templates/configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-op-config
data:
  default: ${registry}/${org}/op-default:4.0.0
  logLevel: info
  metricsEndpoint: metrics.example.com:9090
  config.yaml: |
    sidecar:
      image: ${registry}/${org}/op-sidecar:5.0.0
      pullPolicy: IfNotPresent
    url: https://example.com/api
`,
  'op/templates/unused-configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ .Release.Name }}-unused
data:
  image: ${registry}/${org}/op-unused:9.9.9
`,
});

/** The images "op" runs, normalized, for `registry` and `org`. */
export const operatorImages = ({ registry, org }: OperatorChartOptions): string[] =>
  [
    'op-controller:1.0.0',
    'op-default:4.0.0',
    'op-executor:2.0.0',
    'op-reloader:3.0.0',
    'op-sidecar:5.0.0',
    'op-solver:1.0.0',
  ].map((name) => `${registry}/${org}/${name}`);
