{{- define "containertask.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "containertask.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{- define "containertask.selectorLabels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "containertask.serviceAccountName" -}}
{{- default (include "containertask.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "containertask.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "containertask.copilotImage" -}}
{{- $repository := default .Values.image.repository .Values.copilot.image.repository -}}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) .Values.copilot.image.tag -}}
{{- printf "%s:%s" $repository $tag -}}
{{- end -}}

{{/* The operator's permissions, shared by the ClusterRole and the per-namespace Roles. */}}
{{- define "containertask.rules" -}}
# ContainerTasks: kopf lists them, then watches for changes (it never patches them: the operator
# uses event handlers only, so kopf stores no progress annotations and adds no finalizers). get:
# a live read of a task the operator does not know, before it lets that task's pods go; delete:
# a finished task past its spec.ttlSecondsAfterFinished.
- apiGroups: ["containertask.io"]
  resources: ["containertasks"]
  verbs: ["get", "list", "watch", "delete"]
# Status: the operator writes phase, attempts, outputs and conditions (a merge patch guarded by
# resourceVersion).
- apiGroups: ["containertask.io"]
  resources: ["containertasks/status"]
  verbs: ["patch"]
# Pods carry an owner reference with blockOwnerDeletion; clusters with the
# OwnerReferencesPermissionEnforcement admission plugin require update on the owner's finalizers.
- apiGroups: ["containertask.io"]
  resources: ["containertasks/finalizers"]
  verbs: ["update"]
# Pods: create one per attempt; get one that already exists (to check who controls it before
# treating AlreadyExists as success, and to confirm one missing from the watch); list and watch
# (the operator's informer of its own pods, selected by label); delete on cancel, timeout and the
# pending deadline; patch to remove the containertask.io/tracking finalizer once an attempt's
# result is in the task's status.
- apiGroups: [""]
  resources: ["pods"]
  verbs: ["create", "get", "list", "watch", "delete", "patch"]
# PodTemplates named by a task (Flyte's pod_template="name"): read when its pod is built.
- apiGroups: [""]
  resources: ["podtemplates"]
  verbs: ["get"]
# Events: create on ContainerTasks (PodCreated, AttemptFailed, Succeeded, ...); list and watch
# the Warning events about pods (a field selector), which say why a pod does not start (a failed
# image pull, a volume that cannot be mounted) seconds before, or instead of, the pod's status.
- apiGroups: [""]
  resources: ["events"]
  verbs: ["create", "list", "watch"]
# Not needed: kopf's peering resources (the operator runs --standalone, one replica), and listing
# namespaces or CRDs (resource scanning is off: namespaces are given, resources found at startup).
{{- end -}}
