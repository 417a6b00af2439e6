{{/* ---------------------------------------------------------------- names */}}

{{- define "tme.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tme.fullname" -}}
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

{{- define "tme.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The four services, in start order. */}}
{{- define "tme.components" -}}
users tracking subscriber gateway
{{- end }}

{{- define "tme.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "tme.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- labels
Call with (dict "root" $ "component" "gateway"). */}}

{{- define "tme.selectorLabels" -}}
app.kubernetes.io/name: {{ include "tme.name" .root }}
app.kubernetes.io/instance: {{ .root.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "tme.labels" -}}
helm.sh/chart: {{ include "tme.chart" .root }}
{{ include "tme.selectorLabels" . }}
app.kubernetes.io/version: {{ .root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: trackmyevents
app.kubernetes.io/managed-by: {{ .root.Release.Service }}
{{- end }}

{{/* Labels shared by every pod of the release (used by the default-deny NetworkPolicy). */}}
{{- define "tme.releaseSelector" -}}
app.kubernetes.io/name: {{ include "tme.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{/* ---------------------------------------------------------------- images */}}

{{/* (dict "root" $ "name" "gateway") -> registry/prefix+name:tag */}}
{{- define "tme.image" -}}
{{- $img := .root.Values.image }}
{{- $repo := printf "%s%s" $img.repositoryPrefix .name }}
{{- if $img.registry }}{{ $repo = printf "%s/%s" $img.registry $repo }}{{ end }}
{{- printf "%s:%s" $repo (default .root.Chart.AppVersion $img.tag | toString) }}
{{- end }}

{{- define "tme.utilityImage" -}}
{{- include "tme.image" (dict "root" . "name" .Values.utilityImage) }}
{{- end }}

{{- define "tme.imagePullSecrets" -}}
imagePullSecrets:
{{- range .Values.image.pullSecrets }}
  - name: {{ . }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- PostgreSQL */}}

{{- define "tme.postgresql.fullname" -}}
{{- printf "%s-postgresql" (include "tme.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tme.postgresql.secretName" -}}
{{- default (include "tme.postgresql.fullname" .) .Values.postgresql.auth.existingSecret }}
{{- end }}

{{- define "tme.externalSecretName" -}}
{{- printf "%s-external" (include "tme.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* True when the migrations can run before anything of the release exists. */}}
{{- define "tme.migrations.hookEvents" -}}
{{- if .Values.migrations.hookEvents }}
{{- .Values.migrations.hookEvents }}
{{- else if and (not .Values.postgresql.enabled) .Values.externalDatabase.existingSecret }}
{{- "pre-install,pre-upgrade" }}
{{- else }}
{{- "post-install,pre-upgrade" }}
{{- end }}
{{- end }}

{{/* env entries giving TME_DATABASE_URL */}}
{{- define "tme.databaseEnv" -}}
{{- if .Values.postgresql.enabled }}
- name: DATABASE_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "tme.postgresql.secretName" . }}
      key: {{ .Values.postgresql.auth.passwordKey }}
- name: TME_DATABASE_URL
  value: {{ printf "postgresql://%s:$(DATABASE_PASSWORD)@%s:5432/%s" .Values.postgresql.auth.username (include "tme.postgresql.fullname" .) .Values.postgresql.auth.database | quote }}
{{- else if .Values.externalDatabase.existingSecret }}
- name: TME_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalDatabase.existingSecret }}
      key: {{ .Values.externalDatabase.existingSecretKey }}
{{- else if .Values.externalDatabase.url }}
- name: TME_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tme.externalSecretName" . }}
      key: database-url
{{- else }}
{{- fail "postgresql.enabled=false needs externalDatabase.url or externalDatabase.existingSecret" }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- Redis */}}

{{- define "tme.redis.fullname" -}}
{{- printf "%s-redis" (include "tme.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "tme.redis.secretName" -}}
{{- default (include "tme.redis.fullname" .) .Values.redis.auth.existingSecret }}
{{- end }}

{{/* env entries giving TME_REDIS_URL */}}
{{- define "tme.redisEnv" -}}
{{- if .Values.redis.enabled }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ include "tme.redis.secretName" . }}
      key: {{ .Values.redis.auth.passwordKey }}
- name: TME_REDIS_URL
  value: {{ printf "redis://:$(REDIS_PASSWORD)@%s:6379/0" (include "tme.redis.fullname" .) | quote }}
{{- else if .Values.externalRedis.existingSecret }}
- name: TME_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.externalRedis.existingSecret }}
      key: {{ .Values.externalRedis.existingSecretKey }}
{{- else if .Values.externalRedis.url }}
- name: TME_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ include "tme.externalSecretName" . }}
      key: redis-url
{{- else }}
{{- fail "redis.enabled=false needs externalRedis.url or externalRedis.existingSecret" }}
{{- end }}
{{- end }}

{{- define "tme.internalToken.secretName" -}}
{{- default (printf "%s-internal" (include "tme.fullname" .) | trunc 63 | trimSuffix "-") .Values.internalToken.existingSecret }}
{{- end }}

{{/* the TME_INTERNAL_TOKEN env entry of the gateway, users and tracking (services/shared/internal_auth.py) */}}
{{- define "tme.internalTokenEnv" -}}
- name: TME_INTERNAL_TOKEN
  valueFrom:
    secretKeyRef:
      name: {{ include "tme.internalToken.secretName" . }}
      key: {{ .Values.internalToken.existingSecretKey }}
{{- end }}

{{/* Invitations and the SMTP server that mails them (users service); the password from a Secret. */}}
{{- define "tme.mailEnv" -}}
{{- $mail := .Values.mail }}
- name: TME_INVITATION_TTL_HOURS
  value: {{ $mail.invitationTtlHours | quote }}
{{- with $mail.publicUrl }}
- name: TME_PUBLIC_URL
  value: {{ . | quote }}
{{- end }}
{{- if $mail.smtp.host }}
- name: TME_SMTP_HOST
  value: {{ $mail.smtp.host | quote }}
- name: TME_SMTP_PORT
  value: {{ $mail.smtp.port | quote }}
- name: TME_SMTP_SECURITY
  value: {{ $mail.smtp.security | quote }}
- name: TME_SMTP_USERNAME
  value: {{ $mail.smtp.username | quote }}
- name: TME_SMTP_FROM
  value: {{ $mail.smtp.from | quote }}
{{- if or $mail.smtp.existingSecret $mail.smtp.password }}
- name: TME_SMTP_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $mail.smtp.existingSecret | default (printf "%s-smtp" (include "tme.fullname" .)) }}
      key: {{ $mail.smtp.existingSecretKey }}
{{- end }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- secrets */}}

{{/* A password generated once: the value already in the cluster's Secret when there is one
(upgrades), a new random one otherwise. (dict "root" $ "secret" name "key" key) */}}
{{- define "tme.generatedPassword" -}}
{{- $existing := lookup "v1" "Secret" .root.Release.Namespace .secret }}
{{- if and $existing (hasKey $existing "data") (hasKey (default dict $existing.data) .key) }}
{{- index $existing.data .key | b64dec }}
{{- else }}
{{- randAlphaNum 40 }}
{{- end }}
{{- end }}

{{/* ---------------------------------------------------------------- pods */}}

{{- define "tme.podSecurityContext" -}}
{{- toYaml .Values.podSecurityContext }}
{{- end }}

{{- define "tme.containerSecurityContext" -}}
{{- toYaml .Values.containerSecurityContext }}
{{- end }}

{{/* emptyDir for /tmp: the root filesystem is read-only */}}
{{- define "tme.tmpVolume" -}}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end }}

{{/* Init container waiting for the schema (migrations.initContainer). */}}
{{- define "tme.waitForSchemaContainer" -}}
- name: wait-for-schema
  image: {{ include "tme.utilityImage" . }}
  imagePullPolicy: {{ .Values.image.pullPolicy }}
  command:
    - python
    - -c
    - |
{{ .Files.Get "files/wait_for_db.py" | indent 6 }}
    - --until
    - schema
    - --timeout
    - {{ .Values.migrations.activeDeadlineSeconds | quote }}
  env:
{{- include "tme.databaseEnv" . | trim | nindent 4 }}
  resources:
{{- toYaml .Values.migrations.resources | nindent 4 }}
  securityContext:
{{- include "tme.containerSecurityContext" . | nindent 4 }}
  volumeMounts:
    - name: tmp
      mountPath: /tmp
{{- end }}
