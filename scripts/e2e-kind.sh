#!/usr/bin/env bash
# End-to-end on a throwaway local cluster, for users who have Docker and kind or k3d:
#   1. builds the image (both binaries) from this checkout;
#   2. creates a cluster (kind, else k3d) and loads the image into it;
#   3. runs a throwaway PostgreSQL and creates the database Secret;
#   4. installs charts/webedt-operator with a WebEDT (webedt.enabled), as in the README;
#   5. waits for the WebEDT to be Ready and checks /health and /ready through the Service;
#   6. upgrades the release (2 → 3 API replicas) and waits again;
#   7. uninstalls and deletes the cluster (KEEP=1 keeps both for a look around).
#
# Usage: scripts/e2e-kind.sh
# Needs: docker, kubectl, helm (v3.8+ or v4; scripts/check-delivery leaves one in target/tools/),
# and kind or k3d (CLUSTER_TOOL=kind|k3d to choose). Not run by CI (no Docker engine there).
set -euo pipefail

cd "$(dirname "$0")/.."

CLUSTER=${CLUSTER:-webedt-e2e}
NS=${NS:-webedt}
IMAGE=${IMAGE:-webedt:e2e}
KEEP=${KEEP:-0}
POSTGRES_IMAGE=${POSTGRES_IMAGE:-postgres:16-alpine}
HELM=${HELM:-$(command -v helm || echo target/tools/helm)}
CLUSTER_TOOL=${CLUSTER_TOOL:-$(command -v kind >/dev/null && echo kind || echo k3d)}

need() { command -v "$1" >/dev/null || { echo "e2e-kind: $1 is required" >&2; exit 2; }; }
need docker
need kubectl
need "$CLUSTER_TOOL"
[[ -x $HELM ]] || need "$HELM"

step_start=$(date +%s)
step() {
  echo "::: $* (+$(( $(date +%s) - step_start ))s)"
}

cleanup() {
  local rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "e2e-kind: FAILED; state for debugging:" >&2
    kubectl -n "$NS" get wedt,deploy,job,pod,svc,events 2>/dev/null | tail -40 >&2 || true
  fi
  if [[ $KEEP == 1 ]]; then
    echo "KEEP=1: cluster $CLUSTER kept (kubectl context: $(kubectl config current-context))"
  else
    step "deleting cluster $CLUSTER"
    case $CLUSTER_TOOL in
      kind) kind delete cluster --name "$CLUSTER" >/dev/null 2>&1 || true ;;
      k3d) k3d cluster delete "$CLUSTER" >/dev/null 2>&1 || true ;;
    esac
  fi
  exit "$rc"
}

step "building $IMAGE"
docker build -t "$IMAGE" \
  --build-arg BUILD_COMMIT_SHA="$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
  --build-arg BUILD_TIMESTAMP="$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --build-arg BUILD_VERSION=e2e .

step "creating the $CLUSTER_TOOL cluster $CLUSTER"
trap cleanup EXIT
case $CLUSTER_TOOL in
  kind)
    kind create cluster --name "$CLUSTER" --wait 120s
    kind load docker-image "$IMAGE" --name "$CLUSTER"
    ;;
  k3d)
    k3d cluster create "$CLUSTER" --wait
    k3d image import "$IMAGE" --cluster "$CLUSTER"
    ;;
  *) echo "e2e-kind: CLUSTER_TOOL must be kind or k3d" >&2; exit 2 ;;
esac
kubectl create namespace "$NS"

step "starting PostgreSQL ($POSTGRES_IMAGE)"
password=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
kubectl -n "$NS" create secret generic postgres --from-literal=password="$password"
kubectl -n "$NS" apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata:
  name: postgres
spec:
  selector:
    matchLabels: {app: postgres}
  template:
    metadata:
      labels: {app: postgres}
    spec:
      containers:
        - name: postgres
          image: $POSTGRES_IMAGE
          env:
            - {name: POSTGRES_USER, value: webedt}
            - {name: POSTGRES_DB, value: webedt}
            - name: POSTGRES_PASSWORD
              valueFrom: {secretKeyRef: {name: postgres, key: password}}
          ports: [{containerPort: 5432}]
          readinessProbe:
            exec: {command: [pg_isready, -U, webedt]}
            periodSeconds: 2
---
apiVersion: v1
kind: Service
metadata:
  name: postgres
spec:
  selector: {app: postgres}
  ports: [{port: 5432}]
EOF
kubectl -n "$NS" rollout status deployment/postgres --timeout=180s
# The database Secret the WebEDT references (README: "Create the database Secret").
kubectl -n "$NS" create secret generic webedt-db \
  --from-literal=uri="postgres://webedt:$password@postgres.$NS.svc:5432/webedt"

step "installing the chart with a WebEDT"
repo=${IMAGE%:*}
tag=${IMAGE##*:}
"$HELM" upgrade --install webedt-operator charts/webedt-operator -n "$NS" --wait --timeout 3m \
  --set image.repository="$repo" --set image.tag="$tag" --set image.pullPolicy=Never \
  --set webedt.enabled=true --set webedt.spec.imagePullPolicy=Never

step "waiting for wedt/webedt to be Ready"
kubectl -n "$NS" wait --for=condition=Ready wedt/webedt --timeout=5m
kubectl -n "$NS" get wedt

step "checking /health and /ready through the Service"
kubectl -n "$NS" port-forward svc/webedt 18080:80 >/dev/null 2>&1 &
pf=$!
ok=0
for _ in $(seq 1 30); do
  if curl -fsS http://127.0.0.1:18080/ready >/dev/null 2>&1; then ok=1; break; fi
  sleep 1
done
curl -fsS http://127.0.0.1:18080/health; echo
kill "$pf"
[[ $ok == 1 ]] || { echo "e2e-kind: /ready never answered 200" >&2; exit 1; }

step "upgrading: 3 API replicas"
"$HELM" upgrade webedt-operator charts/webedt-operator -n "$NS" --reuse-values --wait --timeout 3m \
  --set webedt.spec.replicas=3
kubectl -n "$NS" wait --for=jsonpath='{.status.availableReplicas}'=3 wedt/webedt --timeout=5m
kubectl -n "$NS" wait --for=condition=Ready wedt/webedt --timeout=5m

if [[ $KEEP != 1 ]]; then
  step "uninstalling"
  "$HELM" uninstall webedt-operator -n "$NS" --wait
  # The CRD stays (Helm never deletes crds/); remove it to drop every WebEDT:
  kubectl delete crd webedts.webedt.dev
fi
step "e2e-kind: passed"
