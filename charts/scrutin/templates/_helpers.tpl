{{/* The prefix of every object's name: "scrutin" for the release "scrutin". */}}
{{- define "scrutin.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 40 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 40 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* The manager's ServiceAccount, and the user name the API server gives it. */}}
{{- define "scrutin.serviceAccountName" -}}
{{- include "scrutin.fullname" . }}-manager
{{- end -}}

{{- define "scrutin.managerUser" -}}
system:serviceaccount:{{ .Release.Namespace }}:{{ include "scrutin.serviceAccountName" . }}
{{- end -}}

{{/* Labels of every object: config/default's, and Helm's own. */}}
{{- define "scrutin.labels" -}}
app.kubernetes.io/name: scrutin
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
{{- end -}}

{{/* The manager's pods, as config/manager selects them (a Deployment's selector
cannot change: the same as the kustomize install's, so one can replace the other). */}}
{{- define "scrutin.managerSelector" -}}
app.kubernetes.io/name: scrutin
app.kubernetes.io/component: manager
{{- end -}}

{{/* An image reference: repository@digest, else repository:tag (tag defaults to
appVersion). Argument: (list $image $). */}}
{{- define "scrutin.image" -}}
{{- $img := index . 0 -}}
{{- $root := index . 1 -}}
{{- if $img.digest -}}
{{- printf "%s@%s" $img.repository $img.digest -}}
{{- else -}}
{{- printf "%s:%s" $img.repository (default $root.Chart.AppVersion $img.tag | toString) -}}
{{- end -}}
{{- end -}}

{{/* A map of labels as the manager's flags take them: k=v,k=v, sorted by key. */}}
{{- define "scrutin.labelList" -}}
{{- $pairs := list -}}
{{- range $k, $v := . -}}
{{- $pairs = append $pairs (printf "%s=%s" $k ($v | toString)) -}}
{{- end -}}
{{- join "," $pairs -}}
{{- end -}}

{{/* The route values that the manager would refuse (it exits) or ignore, refused at
install time instead. */}}
{{- define "scrutin.checkRoute" -}}
{{- $r := .Values.route -}}
{{- if and $r.gateway $r.ingressClass -}}
{{- fail "route.gateway and route.ingressClass exclude each other (--gateway, --ingress-class): set one" -}}
{{- end -}}
{{- if and (not $r.gateway) (or $r.gatewayNamespace $r.gatewayListener) -}}
{{- fail "route.gatewayNamespace and route.gatewayListener need route.gateway" -}}
{{- end -}}
{{- if and $r.certManagerIssuer (not (or $r.gateway $r.ingressClass)) -}}
{{- fail "route.certManagerIssuer needs route.gateway or route.ingressClass: the manager makes certificates only for its routes" -}}
{{- end -}}
{{- end -}}

{{/* The namespace of route.gateway: its own "namespace/", else route.gatewayNamespace,
else the release's (the manager's, as --gateway-namespace defaults to). */}}
{{- define "scrutin.gatewayNamespace" -}}
{{- $r := .Values.route -}}
{{- if contains "/" $r.gateway -}}
{{- index (splitList "/" $r.gateway) 0 -}}
{{- else -}}
{{- default .Release.Namespace $r.gatewayNamespace -}}
{{- end -}}
{{- end -}}
