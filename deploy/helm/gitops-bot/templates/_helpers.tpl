{{/* The name of every object: the release name, "gitops-bot" when they are the same. */}}
{{- define "gitops-bot.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "gitops-bot.labels" -}}
app.kubernetes.io/name: gitops-bot
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "gitops-bot.selector" -}}
app.kubernetes.io/name: gitops-bot
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "gitops-bot.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{- define "gitops-bot.external" -}}
{{- if eq .Values.store.mode "external" }}true{{ else if eq .Values.store.mode "sqlite" }}{{ else }}{{ fail "store.mode must be sqlite or external" }}{{ end -}}
{{- end -}}

{{/* Pod spec parts shared by the web and worker Deployments. */}}
{{- define "gitops-bot.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 10001
  runAsGroup: 10001
  fsGroup: 10001
  seccompProfile:
    type: RuntimeDefault
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- end -}}

{{- define "gitops-bot.containerSecurity" -}}
securityContext:
  runAsNonRoot: true
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities:
    drop: [ALL]
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "gitops-bot.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "gitops-bot.fullname" . }}
  - secretRef:
      name: {{ required "credentials.existingSecret names the Secret with the bot's credentials" .Values.credentials.existingSecret }}
env:
  # The namespace the bot runs in: the default change policies keep app folders out of it.
  - name: GITOPS_BOT_NAMESPACE
    valueFrom:
      fieldRef: {fieldPath: metadata.namespace}
{{- if include "gitops-bot.external" . }}
  # Required keys: a Secret without them fails the pod start instead of falling back to
  # SQLite on a scratch volume.
  - name: GITOPS_BOT_DATABASE_URL
    valueFrom:
      secretKeyRef: {name: {{ .Values.credentials.existingSecret }}, key: GITOPS_BOT_DATABASE_URL}
  - name: GITOPS_BOT_QUEUE_URL
    valueFrom:
      secretKeyRef: {name: {{ .Values.credentials.existingSecret }}, key: GITOPS_BOT_QUEUE_URL}
{{- end }}
{{- end -}}

{{- define "gitops-bot.mounts" -}}
volumeMounts:
  - name: data
    mountPath: /var/lib/gitops-bot
  - name: tmp
    mountPath: /tmp
{{- if .Values.githubApp.existingSecret }}
  - name: github-app
    mountPath: /etc/gitops-bot/github-app
    readOnly: true
{{- end }}
{{- end -}}

{{/* (dict "root" $ "scratch" "1Gi") */}}
{{- define "gitops-bot.volumes" -}}
{{- $root := .root -}}
volumes:
{{- if include "gitops-bot.external" $root }}
  - name: data
    emptyDir:
      sizeLimit: {{ .scratch }}
{{- else }}
  - name: data
    persistentVolumeClaim:
      claimName: {{ include "gitops-bot.fullname" $root }}-data
{{- end }}
  - name: tmp
    emptyDir:
      sizeLimit: 1Gi
{{- if $root.Values.githubApp.existingSecret }}
  - name: github-app
    secret:
      secretName: {{ $root.Values.githubApp.existingSecret }}
      defaultMode: 0400
{{- end }}
{{- end -}}

{{/* Where the pods run: with SQLite, on the node of the shared volume; else spread.
     (dict "root" $ "component" "web") */}}
{{- define "gitops-bot.affinity" -}}
{{- $root := .root -}}
affinity:
{{- if include "gitops-bot.external" $root }}
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "gitops-bot.selector" $root | nindent 14 }}
              app.kubernetes.io/component: {{ .component }}
{{- else }}
  podAffinity:
    requiredDuringSchedulingIgnoredDuringExecution:
      - topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "gitops-bot.selector" $root | nindent 12 }}
{{- end }}
{{- end -}}
