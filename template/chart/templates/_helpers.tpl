{{/*
Helpers of the chart's templates. Each service is an entry of .Values.services; its objects are named after it
(the services find each other by these names, as in compose), so one release of the chart per namespace.
*/}}

{{/* Labels of every object of the release. */}}
{{- define "stack.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/part-of: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
{{- end }}

{{/* The labels that select the pods of one service: (dict "root" $ "name" <service>). */}}
{{- define "stack.selectorLabels" -}}
app.kubernetes.io/name: {{ .name }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
{{- end }}

{{/* The image of a service: its pinned image, or the one `make images` builds from its folder. */}}
{{- define "stack.image" -}}
{{- if .service.build -}}
{{- $tag := .root.Values.image.tag | default .root.Chart.AppVersion -}}
{{- with .root.Values.image.registry }}{{ trimSuffix "/" . }}/{{ end }}{{ .root.Chart.Name }}-{{ .name }}:{{ $tag }}
{{- else -}}
{{ .service.image }}
{{- end -}}
{{- end }}

{{/*
The name of the Secret with the passwords. The chart never holds them: rendering stops here when the name is
empty, and, talking to a cluster (not helm template), when the namespace has no such Secret.
*/}}
{{- define "stack.secretName" -}}
{{- $name := required "secrets.name is empty: name the Secret that holds the stack's passwords; `make k8s-secrets` creates it from .env" .Values.secrets.name -}}
{{- if lookup "v1" "ConfigMap" .Release.Namespace "kube-root-ca.crt" -}}
{{- if not (lookup "v1" "Secret" .Release.Namespace $name) -}}
{{- fail (printf "the Secret %s is not in namespace %s: run `make k8s-secrets NAMESPACE=%s` first (it reads .env), or set secrets.name" $name .Release.Namespace .Release.Namespace) -}}
{{- end -}}
{{- end -}}
{{- $name -}}
{{- end }}
