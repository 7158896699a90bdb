{{/* The chart name, or nameOverride. */}}
{{- define "berth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* The release's full name: fullnameOverride, or <release>-berth (or the
release name alone when it already contains the chart name). */}}
{{- define "berth.fullname" -}}
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

{{- define "berth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "berth.labels" -}}
helm.sh/chart: {{ include "berth.chart" . }}
{{ include "berth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "berth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "berth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "berth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "berth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* The Service's name: the name set in the expose section in use, or the full name. */}}
{{- define "berth.serviceName" -}}
{{- $name := "" }}
{{- if eq .Values.expose.type "clusterIP" }}{{ $name = .Values.expose.clusterIP.name }}{{ end }}
{{- if eq .Values.expose.type "nodePort" }}{{ $name = .Values.expose.nodePort.name }}{{ end }}
{{- if eq .Values.expose.type "loadBalancer" }}{{ $name = .Values.expose.loadBalancer.name }}{{ end }}
{{- default (include "berth.fullname" .) $name }}
{{- end }}

{{/* The Secret berth's secrets come from: existingSecret, or the chart's. */}}
{{- define "berth.secretName" -}}
{{- default (include "berth.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "berth.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{/* The registry host clients use: externalURL without scheme and path. */}}
{{- define "berth.registryHost" -}}
{{- $u := urlParse .Values.externalURL }}
{{- $u.host }}
{{- end }}

{{- define "berth.claimName" -}}
{{- default (printf "%s-data" (include "berth.fullname" .)) .Values.persistence.persistentVolumeClaim.registry.existingClaim }}
{{- end }}

{{/* True when the data dir is a ReadWriteOnce claim, which pods cannot share. */}}
{{- define "berth.rwoVolume" -}}
{{- $pvc := .Values.persistence.persistentVolumeClaim.registry }}
{{- if and .Values.persistence.enabled (not $pvc.existingClaim) (ne $pvc.accessMode "ReadWriteMany") }}true{{ end }}
{{- end }}

{{/* The TLS Secret of the ingress. */}}
{{- define "berth.tlsSecretName" -}}
{{- if eq .Values.expose.tls.certSource "secret" }}
{{- required "expose.tls.secret.secretName is required when expose.tls.certSource is secret" .Values.expose.tls.secret.secretName }}
{{- else }}
{{- printf "%s-ingress-tls" (include "berth.fullname" .) }}
{{- end }}
{{- end }}

{{/* The PostgreSQL URL built from database.external. */}}
{{- define "berth.databaseURL" -}}
{{- $db := .Values.database.external }}
{{- $user := $db.username | urlquery | replace "+" "%20" }}
{{- $pass := $db.password | urlquery | replace "+" "%20" }}
{{- printf "postgres://%s:%s@%s:%v/%s?sslmode=%s" $user $pass $db.host $db.port $db.coreDatabase $db.sslmode }}
{{- end }}

{{/* The Redis URL built from redis.external. */}}
{{- define "berth.redisURL" -}}
{{- $r := .Values.redis.external }}
{{- $auth := "" }}
{{- if or $r.username $r.password }}
{{- $auth = printf "%s:%s@" ($r.username | urlquery | replace "+" "%20") ($r.password | urlquery | replace "+" "%20") }}
{{- end }}
{{- printf "%s://%s%s/%v" (ternary "rediss" "redis" (eq (toString $r.tls) "true")) $auth $r.addr $r.coreDatabaseIndex }}
{{- end }}

{{/* A value kept from the release's existing Secret, so generated
passwords and keys survive upgrades; otherwise a fresh random one. */}}
{{- define "berth.keptRandom" -}}
{{- $secret := lookup "v1" "Secret" .ctx.Release.Namespace (include "berth.fullname" .ctx) }}
{{- if and $secret $secret.data (hasKey $secret.data .key) }}
{{- index $secret.data .key | b64dec }}
{{- else }}
{{- randAlphaNum .length }}
{{- end }}
{{- end }}

{{/* The key berth encrypts stored secrets with (BERTH_SECRET_KEY):
secretKey, else the one kept in the release's Secret, else 32 random
bytes in base64. A kept value of another shape was made by a chart from
before berth read the key (randAlphaNum, which berth refuses): nothing was
encrypted with it, so a new key replaces it. */}}
{{- define "berth.secretKey" -}}
{{- if .Values.secretKey }}
{{- .Values.secretKey }}
{{- else }}
{{- $secret := lookup "v1" "Secret" .Release.Namespace (include "berth.fullname" .) }}
{{- $kept := "" }}
{{- if and $secret $secret.data (hasKey $secret.data "BERTH_SECRET_KEY") }}
{{- $kept = index $secret.data "BERTH_SECRET_KEY" | b64dec }}
{{- end }}
{{- if regexMatch "^[A-Za-z0-9+/]{43}=$" $kept }}
{{- $kept }}
{{- else }}
{{- randBytes 32 }}
{{- end }}
{{- end }}
{{- end }}

{{/* Checks that fail the install early with a line saying what to change. */}}
{{- define "berth.validate" -}}
{{- $types := list "ingress" "clusterIP" "nodePort" "loadBalancer" }}
{{- if not (has .Values.expose.type $types) }}
{{- fail (printf "expose.type %q is not ingress, clusterIP, nodePort or loadBalancer" .Values.expose.type) }}
{{- end }}
{{- if not (has .Values.expose.tls.certSource (list "auto" "secret" "none")) }}
{{- fail (printf "expose.tls.certSource %q is not auto, secret or none" .Values.expose.tls.certSource) }}
{{- end }}
{{- $u := urlParse (required "externalURL is required" .Values.externalURL) }}
{{- if or (not (has $u.scheme (list "http" "https"))) (not $u.host) }}
{{- fail (printf "externalURL %q is not an absolute http(s) URL" .Values.externalURL) }}
{{- end }}
{{- if not (has .Values.database.type (list "internal" "external")) }}
{{- fail (printf "database.type %q is not internal or external" .Values.database.type) }}
{{- end }}
{{- if not (has .Values.redis.type (list "internal" "external")) }}
{{- fail (printf "redis.type %q is not internal or external" .Values.redis.type) }}
{{- end }}
{{- if not (has .Values.persistence.imageChartStorage.type (list "filesystem" "s3")) }}
{{- fail (printf "persistence.imageChartStorage.type %q is not filesystem or s3" .Values.persistence.imageChartStorage.type) }}
{{- end }}
{{- if and (eq .Values.persistence.imageChartStorage.type "s3") (not .Values.persistence.imageChartStorage.s3.bucket) }}
{{- fail "persistence.imageChartStorage.s3.bucket is required when the storage type is s3" }}
{{- end }}
{{- if not (has .Values.auth.mode (list "db" "oidc")) }}
{{- fail (printf "auth.mode %q is not db or oidc" .Values.auth.mode) }}
{{- end }}
{{- if and .Values.secretKey (not (regexMatch "^([A-Za-z0-9+/_-]{43,}={0,2}|[0-9a-fA-F]{64,})$" .Values.secretKey)) }}
{{- fail "secretKey must be 32 random bytes in base64 or hex: generate it with `openssl rand -base64 32`" }}
{{- end }}
{{- if and (eq .Values.auth.mode "oidc") (or (not .Values.auth.oidc.issuer) (not .Values.auth.oidc.clientID)) }}
{{- fail "auth.oidc.issuer and auth.oidc.clientID are required when auth.mode is oidc" }}
{{- end }}
{{- if or (gt (int .Values.replicas) 1) .Values.autoscaling.enabled }}
{{- if eq .Values.database.type "internal" }}
{{- fail "more than one replica needs database.type=external: SQLite has one writer and lives in one pod's volume" }}
{{- end }}
{{- if eq .Values.redis.type "internal" }}
{{- fail "more than one replica needs redis.type=external: events and caches must reach every replica" }}
{{- end }}
{{- if and (eq .Values.persistence.imageChartStorage.type "filesystem") (include "berth.rwoVolume" .) }}
{{- fail "more than one replica needs shared blob storage: persistence.imageChartStorage.type=s3, or a ReadWriteMany claim" }}
{{- end }}
{{- end }}
{{- range $k, $v := .Values.extraConfig }}
{{- if not (hasPrefix "BERTH_" $k) }}
{{- fail (printf "extraConfig key %q is not a BERTH_* setting" $k) }}
{{- end }}
{{- if has $k (list "BERTH_DATABASE_URL" "BERTH_REDIS_URL" "BERTH_S3_ACCESS_KEY" "BERTH_S3_SECRET_KEY" "BERTH_SECRET_KEY" "BERTH_ADMIN_PASSWORD" "BERTH_OIDC_CLIENT_SECRET") }}
{{- fail (printf "extraConfig key %s is a secret: set it through its value or existingSecret, not the ConfigMap" $k) }}
{{- end }}
{{- end }}
{{- end }}
