#!/usr/bin/env bash
# Checks the local cluster's add-ons (hack/local-cluster/addons.sh) on a running cluster:
#   1. NetworkPolicy is enforced (Cilium): a server and two clients; with no policy both
#      clients reach the server; with a default-deny-ingress policy plus one allowing ingress
#      from pods labelled access=granted, the labelled client still reaches it (pod IP and
#      ClusterIP) and the other times out; with the policies deleted, both reach it again.
#   2. The metrics API works (metrics-server): `kubectl top nodes` and `kubectl top pods`.
# Prints one line per check and a closing "N passed, N failed"; exits 1 if any failed.
# Leaves nothing behind (namespace addons-check deleted at the end).
#
# Same environment as addons.sh (LC_STATE, LC_KUBECONFIG, LC_BIN, LC_NETNS), plus
#   LC_CTR    the command importing an image tarball into the node's containerd, namespace
#             k8s.io ("ctr --address $LC_STATE/containerd/containerd.sock -n k8s.io")
# The traffic stays between pods of the node's network namespace.
set -euo pipefail
[ -e "/run/netns/${LC_NETNS:-scrutin-node}" ] || { echo "no network namespace ${LC_NETNS:-scrutin-node}: is the cluster up (hack/local-cluster.sh up)?" >&2; exit 1; }
root=$(cd "$(dirname "$0")/../.." && pwd)
LC_STATE=${LC_STATE:-$root/_output/local-cluster}
LC_KUBECONFIG=${LC_KUBECONFIG:-$LC_STATE/kubeconfig}
LC_BIN=${LC_BIN:-$root/bin/k8s/v1.37.2}
LC_CTR=${LC_CTR:-ctr --address $LC_STATE/containerd/containerd.sock -n k8s.io}
ns=addons-check
LC_NETNS=${LC_NETNS:-scrutin-node}
# kubectl from inside the node's namespace: if the cluster goes away, nsenter fails and no
# request follows the host's default route.
kc() { nsenter --net="/run/netns/$LC_NETNS" "$LC_BIN/kubectl" --kubeconfig "$LC_KUBECONFIG" "$@"; }
passed=0 failed=0
check() { # description, then the command that must succeed
  local what=$1; shift
  if "$@"; then echo "PASS $what"; passed=$((passed + 1)); else echo "FAIL $what"; failed=$((failed + 1)); fi
}
not() { ! "$@"; }
t() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(t)" 'BEGIN { printf "%.2fs", b - a }'; }
cleanup() { kc delete namespace "$ns" --ignore-not-found --wait=false >/dev/null 2>&1 || true; }
trap cleanup EXIT

# The workload image: hack/local-cluster/netcheck, one static binary.
img_dir=$LC_STATE/addons/images
ref=$(cd "$root" && go run ./hack/images -out "$img_dir" netcheck=./hack/local-cluster/netcheck | sed -n 's/^netcheck=//p')
$LC_CTR images import "$img_dir/netcheck.tar" >/dev/null
echo "image $ref imported"

kc delete namespace "$ns" --ignore-not-found --wait=true >/dev/null
kc create namespace "$ns" >/dev/null
kc label namespace "$ns" pod-security.kubernetes.io/enforce=restricted >/dev/null
pod() { # name, labels (k: v, ...), args
  cat <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1, namespace: $ns, labels: {$2}}
spec:
  terminationGracePeriodSeconds: 1
  automountServiceAccountToken: false
  securityContext: {runAsNonRoot: true, runAsUser: 65532, seccompProfile: {type: RuntimeDefault}}
  containers:
  - name: main
    image: $ref
    imagePullPolicy: IfNotPresent
    args: [$3]
    resources: {requests: {cpu: 10m, memory: 16Mi}, limits: {memory: 64Mi}}
    securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}, readOnlyRootFilesystem: true}
---
EOF
}
start=$(t)
{
  pod server "app: server" "serve"
  pod client-granted "access: granted" "idle"
  pod client-other "access: none" "idle"
  cat <<EOF
apiVersion: v1
kind: Service
metadata: {name: server, namespace: $ns}
spec: {selector: {app: server}, ports: [{port: 80, targetPort: 8080}]}
EOF
} | kc apply -f - >/dev/null
kc -n "$ns" wait --for=condition=Ready pod --all --timeout=120s >/dev/null
echo "3 pods Ready in $(since "$start")"
kc -n "$ns" get pods -o wide

server_ip=$(kc -n "$ns" get pod server -o jsonpath='{.status.podIP}')
svc_ip=$(kc -n "$ns" get service server -o jsonpath='{.spec.clusterIP}')
reach() { # client, URL
  local out
  out=$(kc -n "$ns" exec "$1" -- netcheck get -timeout 3s "$2" 2>&1) && { echo "   $1 -> $out"; return 0; }
  echo "   $1 -> $out"; return 1
}
# Cilium endpoints of the three pods (the agent manages them; the bridge would not).
check "the 3 pods are Cilium endpoints" \
  bash -c "[ \"\$(nsenter --net=/run/netns/$LC_NETNS $LC_BIN/kubectl --kubeconfig $LC_KUBECONFIG -n $ns get ciliumendpoints -o name | wc -l)\" -eq 3 ]"

check "no policy: client-granted reaches the server's pod IP" reach client-granted "http://$server_ip:8080/"
check "no policy: client-other reaches the server's pod IP" reach client-other "http://$server_ip:8080/"

start=$(t)
kc apply -f - >/dev/null <<EOF
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: default-deny-ingress, namespace: $ns}
spec: {podSelector: {}, policyTypes: [Ingress]}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: allow-granted, namespace: $ns}
spec:
  podSelector: {matchLabels: {app: server}}
  policyTypes: [Ingress]
  ingress: [{from: [{podSelector: {matchLabels: {access: granted}}}], ports: [{port: 8080}]}]
EOF
sleep 1
echo "policies applied (+1 s)"
check "policies: client-granted reaches the server's pod IP" reach client-granted "http://$server_ip:8080/"
check "policies: client-granted reaches the server's ClusterIP" reach client-granted "http://$svc_ip/"
check "policies: client-other is refused on the pod IP" not reach client-other "http://$server_ip:8080/"
check "policies: client-other is refused on the ClusterIP" not reach client-other "http://$svc_ip/"
echo "policy checks took $(since "$start")"

kc -n "$ns" delete networkpolicy --all >/dev/null
sleep 1
check "policies deleted: client-other reaches the server again" reach client-other "http://$server_ip:8080/"

# metrics-server: node metrics after its first two scrapes (15 s apart).
start=$(t)
ok=
for i in $(seq 60); do
  if out=$(kc top nodes 2>&1); then ok=1; break; fi
  sleep 2
done
if [ -n "$ok" ]; then echo "$out"; echo "kubectl top nodes answered after $(since "$start")"; else echo "$out"; fi
check "kubectl top nodes" test -n "$ok"
ok=
for i in $(seq 45); do
  if out=$(kc -n "$ns" top pods 2>&1) && grep -q server <<<"$out"; then ok=1; break; fi
  sleep 2
done
echo "$out"
check "kubectl top pods" test -n "$ok"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
