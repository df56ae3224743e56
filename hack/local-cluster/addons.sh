#!/usr/bin/env bash
# Add-ons of the local cluster (hack/local-cluster.sh): Cilium, so that NetworkPolicies are
# enforced (the bridge CNI ignores them), metrics-server, so that `kubectl top` and the
# HorizontalPodAutoscaler's CPU metrics work, and the Gateway scrutin-gateway/voters served by
# Traefik, through which voters reach the elections over HTTPS (hack/local-cluster/gateway.sh).
#
#   hack/local-cluster/addons.sh up      after the node is Ready (cluster and node network up)
#   hack/local-cluster/addons.sh down    before the cluster is torn down
#   hack/local-cluster/addons.sh status
#
# hack/local-cluster.sh runs it (executed or sourced: both work, it runs in a subshell and
# never exits the caller). Everything runs as a process inside the node's network namespace,
# entered with `nsenter --net` (no mount namespace: the kubelet's and containerd's mounts,
# bpffs and /var/run/cilium are the host's), and is stopped by its PID.
#
# Inputs (environment; the defaults match hack/local-cluster.sh):
#   LC_STATE          state dir of the cluster                 (_output/local-cluster)
#   LC_NETNS          node network namespace, /run/netns/NAME  (scrutin-node)
#   LC_KUBECONFIG     admin kubeconfig (system:masters)        ($LC_STATE/kubeconfig)
#   LC_NODE_IP        node IP, inside the namespace            (10.10.0.2)
#   LC_NODE_DEV       node-side veth (Cilium's --devices)      (the link holding LC_NODE_IP)
#   LC_NODE_NAME      the Node's name                          (the only Node)
#   LC_POD_CIDR       cluster pod CIDR                         (10.244.0.0/16)
#   LC_CNI_CONF_DIR   containerd's CNI conf_dir                ($LC_STATE/cni/net.d)
#   LC_CNI_BIN_DIR    containerd's CNI bin_dir                 (/usr/lib/cni)
#   LC_BIN            dir of kubectl (Kubernetes binaries)     (bin/k8s/v1.37.2)
#   LC_ADDONS         add-ons to run                           ("cilium metrics-server gateway"; "" for none)
#   LC_BASE_DOMAIN    the Gateway's wildcard domain            (scrutin.test)
#   LC_HOST_IP        the host's end of the veth               (10.10.0.1)
#   LC_INGRESS_LABELS labels of the Gateway's namespace        (scrutin.dev/ingress=true)
#   LC_CONTAINERD_SOCK containerd's socket, to import images   ($LC_STATE/containerd/containerd.sock)
#
# Outputs: $LC_STATE/addons/ (logs, PIDs, certificates, the bridge CNI config set aside), and
# $LC_STATE/gateway.env (the Gateway's address and CA, for the tests and the demo).
# The binaries come from hack/build-addons.sh (run here when missing: about 8 minutes cold for
# Cilium and metrics-server, plus Traefik's build).
#
# metrics-server needs the API server's aggregation layer: kube-apiserver started with
# --requestheader-client-ca-file, --requestheader-allowed-names=front-proxy-client,
# --requestheader-{username,group,extra-headers-prefix}-headers, --proxy-client-cert-file,
# --proxy-client-key-file (a front-proxy-client certificate signed by that CA) and
# --enable-aggregator-routing=true. Without them `up` warns and `kubectl top` fails.
#
# What `up` does, in order:
#   Cilium: mounts bpffs on /sys/fs/bpf, copies the BPF sources under the agent's --lib-dir,
#   applies Cilium's CRDs (there is no cilium-operator: --identity-allocation-mode=crd), starts
#   the agent in the namespace and waits until it is healthy (2-3 s after its start, 6 s with
#   the CRDs; it compiles its BPF programs with clang-19), then installs cilium-cni in LC_CNI_BIN_DIR, sets the bridge
#   conflist aside and writes a cilium one, deletes the pods still on the bridge network (their
#   controllers recreate them on Cilium; a bare pod is left alone, with a warning) and removes
#   the bridge once nothing is attached to it.
#   metrics-server: a ServiceAccount token, RBAC as upstream's manifests, a serving certificate
#   from its own small CA, the kubelets' certificates checked against $LC_STATE/pki/ca.crt
#   when it exists, the process in the namespace listening on LC_NODE_IP:4443, a
#   selector-less Service with an EndpointSlice pointing there, and the APIService
#   v1beta1.metrics.k8s.io; waits until the APIService is Available.
# `down` undoes it (about 5 s): APIService, Service and EndpointSlice deleted, processes
# stopped (SIGTERM, then SIGKILL after 15 s), the bridge conflist put back, cilium-cni removed,
# Cilium's links in the namespace, its /var/run/cilium and pinned maps removed, and what `up`
# mounted unmounted. Meant for the cluster's teardown: after `down` and `up` on a running
# cluster, the pods of the earlier agent are recreated like pods of the bridge.
# kubectl runs inside the namespace: once it is gone, no request can leave by the host's
# default route. hack/local-cluster/test-addons.sh checks both add-ons on a running cluster.

addons_main() {
  set -euo pipefail
  local root
  root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
  LC_STATE=${LC_STATE:-$root/_output/local-cluster}
  LC_NETNS=${LC_NETNS:-scrutin-node}
  LC_KUBECONFIG=${LC_KUBECONFIG:-$LC_STATE/kubeconfig}
  LC_NODE_IP=${LC_NODE_IP:-10.10.0.2}
  LC_POD_CIDR=${LC_POD_CIDR:-10.244.0.0/16}
  LC_CNI_CONF_DIR=${LC_CNI_CONF_DIR:-$LC_STATE/cni/net.d}
  LC_CNI_BIN_DIR=${LC_CNI_BIN_DIR:-/usr/lib/cni}
  LC_BIN=${LC_BIN:-$root/bin/k8s/v1.37.2}
  LC_ADDONS=${LC_ADDONS-cilium metrics-server gateway}
  LC_BASE_DOMAIN=${LC_BASE_DOMAIN:-scrutin.test}
  LC_HOST_IP=${LC_HOST_IP:-10.10.0.1}
  LC_INGRESS_LABELS=${LC_INGRESS_LABELS:-scrutin.dev/ingress=true}
  LC_CONTAINERD_SOCK=${LC_CONTAINERD_SOCK:-$LC_STATE/containerd/containerd.sock}
  ADDONS_ROOT=$root
  ADDONS_BIN=$root/bin/addons
  S=$LC_STATE/addons
  NS_PATH=/run/netns/$LC_NETNS

  case "${1:-}" in
    up)
      [ -e "$NS_PATH" ] || { echo "addons: no network namespace $NS_PATH: is the cluster up?" >&2; return 1; }
      mkdir -p "$S"
      addons_lock
      if addons_has cilium; then addons_cilium_up; fi
      if addons_has metrics-server; then addons_metrics_up; fi
      if addons_has gateway; then addons_gateway_up; fi
      ;;
    down)
      [ ! -d "$S" ] || addons_lock
      # Best effort: go on past a failing step, so that everything started is stopped.
      set +e
      addons_gateway_down
      addons_metrics_down
      addons_cilium_down
      set -e
      ;;
    status) addons_status ;;
    *) echo "usage: $0 up|down|status" >&2; return 2 ;;
  esac
}

# One up or down at a time (fd 9, closed for the processes started: see addons_start).
addons_lock() {
  exec 9>"$S/.lock"
  flock -w 300 9 || { echo "addons: another addons.sh up/down holds $S/.lock" >&2; return 1; }
}
addons_has() { [[ " $LC_ADDONS " == *" $1 "* ]]; }
addons_log() { echo ">> addons: $*" >&2; }
addons_now() { date +%s.%N; }
addons_since() { awk -v a="$1" -v b="$(addons_now)" 'BEGIN { printf "%.1fs", b - a }'; }
# kubectl from inside the node's namespace: the API server's address is local there, and
# when the namespace is gone nsenter fails, so no request can follow the host's default route.
addons_kc() { nsenter --net="$NS_PATH" "$LC_BIN/kubectl" --kubeconfig "$LC_KUBECONFIG" "$@"; }

# Starts a long-running command in the node's namespace, detached, logging to $S/NAME.log
# and recording its PID in $S/NAME.pid (nsenter execs the command: same PID).
addons_start() {
  local name=$1; shift
  if addons_running "$name"; then addons_log "$name already running (pid $(cat "$S/$name.pid"))"; return 0; fi
  # The process writes its own PID, then becomes nsenter and the add-on (exec keeps
  # the PID). Taking $! instead races with setsid, which forks when it happens to
  # lead its process group, leaving $! to a process that exits at once.
  rm -f "$S/$name.pid"
  setsid sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$S/$name.pid" nsenter --net="$NS_PATH" "$@" >"$S/$name.log" 2>&1 </dev/null 9>&- &
  local i
  for i in $(seq 300); do [ -s "$S/$name.pid" ] && break; sleep 0.1; done
}
# The PID recorded for NAME, if that process still runs NAME (a reused PID is left alone).
addons_pid() {
  local pid
  [ -f "$S/$1.pid" ] || return 1
  pid=$(cat "$S/$1.pid")
  grep -qaF -- "$1" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}
addons_running() { addons_pid "$1" >/dev/null; }
# addons_exited NAME: NAME's process is gone, by two looks a second apart: one read of
# /proc/PID/cmdline can come back empty while the process is between its execs
# (sh, nsenter, env, the add-on) on a busy machine, which once failed a healthy start.
addons_exited() { ! addons_running "$1" && sleep 1 && ! addons_running "$1"; }
addons_stop() {
  local name=$1 pid i
  [ -f "$S/$name.pid" ] || return 0
  if pid=$(addons_pid "$name"); then
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then addons_log "$name (pid $pid) ignored SIGTERM: SIGKILL"; kill -KILL "$pid" 2>/dev/null || true; fi
    addons_log "stopped $name (pid $pid)"
  fi
  rm -f "$S/$name.pid"
}
addons_need_bins() {
  local missing=() c
  for c in "$@"; do [ -x "$ADDONS_BIN/$c" ] || missing+=("$c"); done
  [ -d "$ADDONS_BIN/cilium-data/bpf" ] || [[ " $* " != *" cilium-agent "* ]] || missing+=(cilium-agent)
  command -v clang-19 >/dev/null && command -v ipset >/dev/null || missing=(packages "${missing[@]}")
  [ ${#missing[@]} -eq 0 ] || "$ADDONS_ROOT/hack/build-addons.sh" "${missing[@]}"
}
addons_node_name() {
  [ -n "${LC_NODE_NAME:-}" ] || LC_NODE_NAME=$(addons_kc get nodes -o jsonpath='{.items[0].metadata.name}')
  echo "$LC_NODE_NAME"
}
addons_node_dev() {
  [ -n "${LC_NODE_DEV:-}" ] || LC_NODE_DEV=$(ip -n "$LC_NETNS" -o -4 addr show | awk -v ip="$LC_NODE_IP" '$4 ~ "^"ip"/" {print $2; exit}')
  [ -n "$LC_NODE_DEV" ] || { echo "no link holds $LC_NODE_IP in namespace $LC_NETNS (set LC_NODE_DEV)" >&2; return 1; }
  echo "$LC_NODE_DEV"
}

# ---------------------------------------------------------------- Cilium

CILIUM_RUN=/var/run/cilium

addons_cilium_health() {
  curl -s --max-time 2 --unix-socket "$CILIUM_RUN/cilium.sock" http://localhost/v1/healthz 2>/dev/null
}

# addons_rm_cilium_run removes $CILIUM_RUN, unmounting first what is mounted under it (the
# agent's cgroup2, left mounted when the agent was killed): rm cannot remove a mounted
# filesystem's files, and a leftover once failed a CI run's `up` that way.
addons_rm_cilium_run() {
  local run mnt
  run=$(readlink -f "$CILIUM_RUN")
  while read -r mnt; do
    [ -n "$mnt" ] || continue
    umount "$mnt" 2>/dev/null || umount -l "$mnt"
    addons_log "unmounted $mnt"
  done < <(awk -v r="$run" '$2 == r || index($2, r "/") == 1 {print $2}' /proc/mounts | sort -r)
  rm -rf "$CILIUM_RUN"
}

addons_cilium_up() {
  local t0 node dev
  t0=$(addons_now)
  addons_need_bins cilium-agent cilium-cni
  node=$(addons_node_name); dev=$(addons_node_dev)

  # bpffs: the agent pins its maps there; the namespace shares the host's mounts.
  if ! mountpoint -q /sys/fs/bpf || [ "$(stat -f -c %T /sys/fs/bpf)" != bpf_fs ]; then
    mount -t bpf bpffs /sys/fs/bpf
    touch "$S/bpffs.mounted"
  fi
  # State of an agent of another cluster (a down that did not run, its processes killed):
  # its endpoints are gone. Its cgroup2 mount stays under $CILIUM_RUN until unmounted.
  local cluster other
  cluster=$(addons_kc get namespace kube-system -o jsonpath='{.metadata.uid}')
  if [ -d "$CILIUM_RUN" ] && ! addons_running cilium-agent && [ "$(cat "$S/cluster-uid" 2>/dev/null)" != "$cluster" ]; then
    other=$(pgrep -x cilium-agent | head -1 || true)
    if [ -n "$other" ]; then
      echo "addons: the cilium-agent of another cluster (pid $other) holds $CILIUM_RUN: stop that cluster first (hack/local-cluster.sh down with its LC_STATE)" >&2
      return 1
    fi
    addons_log "removing $CILIUM_RUN, left by an agent of another cluster"
    addons_rm_cilium_run
  fi
  echo "$cluster" >"$S/cluster-uid"
  # Mounted by the agent itself when missing (cgroup2, for its socket programs): note it, to unmount.
  mountpoint -q /run/cilium/cgroupv2 2>/dev/null || touch "$S/cgroupv2.mine"
  [ -d "$CILIUM_RUN" ] || touch "$S/cilium-run.mine"

  # The BPF C sources, compiled by the agent at start (bpf/ under --lib-dir).
  local lib=$S/cilium/lib
  if [ ! -d "$lib/bpf" ] || [ "$(readlink -f "$ADDONS_BIN/cilium-data")" != "$(cat "$lib/.from" 2>/dev/null)" ]; then
    rm -rf "$lib" && mkdir -p "$lib"
    cp -r "$ADDONS_BIN/cilium-data/bpf" "$lib/bpf"
    readlink -f "$ADDONS_BIN/cilium-data" >"$lib/.from"
  fi

  # CRDs: the cilium-operator normally registers them; the agent waits for them.
  # (kubectl warns that it does not know the schemas' "idn-hostname" format: harmless.)
  addons_kc apply --server-side --force-conflicts -f "$ADDONS_BIN/cilium-data/crds/" 2>&1 >/dev/null |
    { grep -v 'unrecognized format "idn-hostname"' >&2 || true; }
  addons_kc wait --for=condition=Established --timeout=60s -f "$ADDONS_BIN/cilium-data/crds/" >/dev/null
  addons_log "cilium CRDs established ($(addons_since "$t0"))"

  # The agent's kubeconfig: the admin one (the agent needs wide rights, as its ClusterRole does).
  addons_start cilium-agent env \
    PATH="/usr/lib/llvm-19/bin:$PATH" K8S_NODE_NAME="$node" CILIUM_K8S_NAMESPACE=kube-system \
    "$ADDONS_BIN/cilium-agent" \
    --k8s-kubeconfig-path="$LC_KUBECONFIG" \
    --lib-dir="$lib" \
    --enable-ipv4=true --enable-ipv6=false \
    --routing-mode=native --ipv4-native-routing-cidr="$LC_POD_CIDR" \
    --ipam=kubernetes \
    --kube-proxy-replacement=false \
    --enable-l7-proxy=false --external-envoy-proxy=false \
    --enable-hubble=false \
    --enable-ipv4-masquerade=false --enable-bpf-masquerade=false \
    --install-iptables-rules=true \
    --enable-health-checking=false --enable-endpoint-health-checking=false \
    --identity-allocation-mode=crd \
    --cni-exclusive=false \
    --devices="$dev" \
    --cluster-name=default \
    --enable-policy=default
  addons_log "cilium-agent started (pid $(cat "$S/cilium-agent.pid"), log $S/cilium-agent.log)"

  # Healthy in seconds on an idle machine; a CI machine busy with builds can take minutes.
  local i state=
  for i in $(seq 600); do
    ! addons_exited cilium-agent || { tail -30 "$S/cilium-agent.log" >&2; echo "cilium-agent exited (log: $S/cilium-agent.log)" >&2; return 1; }
    state=$(addons_cilium_health | jq -r '.cilium.state // empty' 2>/dev/null || true)
    [ "$state" = Ok ] && break
    sleep 0.5
  done
  [ "$state" = Ok ] || { tail -30 "$S/cilium-agent.log" >&2; echo "cilium-agent not healthy after 300s (state: ${state:-no answer}; log: $S/cilium-agent.log)" >&2; return 1; }
  addons_log "cilium-agent healthy ($(addons_since "$t0"))"

  # CNI: cilium-cni where containerd looks, and the only conflist in its conf_dir.
  mkdir -p "$LC_CNI_CONF_DIR" "$S/cni-aside"
  if ! cmp -s "$ADDONS_BIN/cilium-cni" "$LC_CNI_BIN_DIR/cilium-cni"; then
    [ -e "$LC_CNI_BIN_DIR/cilium-cni" ] || touch "$S/cilium-cni.mine"
    install -m 0755 "$ADDONS_BIN/cilium-cni" "$LC_CNI_BIN_DIR/cilium-cni.tmp"
    mv "$LC_CNI_BIN_DIR/cilium-cni.tmp" "$LC_CNI_BIN_DIR/cilium-cni"
  fi
  local f bridge=
  for f in "$LC_CNI_CONF_DIR"/*; do
    [ -f "$f" ] || continue
    [ "$(basename "$f")" = 05-cilium.conflist ] && continue
    bridge=$(jq -r '[.plugins[]? // . | select(.type=="bridge") | .bridge // "cni0"][0] // empty' "$f" 2>/dev/null || true)
    [ -z "$bridge" ] || echo "$bridge" >"$S/bridge-name"
    mv "$f" "$S/cni-aside/"
  done
  cat >"$LC_CNI_CONF_DIR/05-cilium.conflist.tmp" <<EOF
{
  "cniVersion": "0.3.1",
  "name": "cilium",
  "plugins": [
    {"type": "cilium-cni", "enable-debug": false, "log-file": "$S/cilium-cni.log"}
  ]
}
EOF
  mv "$LC_CNI_CONF_DIR/05-cilium.conflist.tmp" "$LC_CNI_CONF_DIR/05-cilium.conflist"
  addons_log "CNI: cilium-cni in $LC_CNI_BIN_DIR, $LC_CNI_CONF_DIR/05-cilium.conflist (bridge config set aside in $S/cni-aside)"

  addons_cilium_adopt_pods "$node"
  addons_log "cilium up in $(addons_since "$t0")"
}

# Pods started on the bridge before Cilium have no Cilium endpoint: no policy applies to them.
# Delete those a controller will recreate (on Cilium), then the bridge once nothing is on it.
# (The same holds for pods of an earlier agent after `down` and `up` on a running cluster:
# `down` removes the agent's state, as it is meant to run before the cluster's teardown.)
addons_cilium_adopt_pods() {
  local node=$1 ns name owner ceps deleted=()
  while read -r ns name owner; do
    [ -n "$name" ] || continue
    if [ "$owner" = "<none>" ]; then
      addons_log "warning: bare pod $ns/$name has no Cilium endpoint (started on the bridge, or by an agent whose state was removed): no NetworkPolicy applies to it until it is recreated"
      continue
    fi
    addons_kc -n "$ns" delete pod "$name" --wait=false >/dev/null && deleted+=("$ns/$name")
  done < <(
    # Pods of this node with the pod network and no CiliumEndpoint (named as the pod).
    ceps=$(addons_kc get ciliumendpoints -A -o json | jq -c '[.items[] | "\(.metadata.namespace)/\(.metadata.name)"]')
    addons_kc get pods -A --field-selector "spec.nodeName=$node" -o json | jq -r --argjson ceps "$ceps" '
      .items[] | select(.spec.hostNetwork != true) | select(.metadata.deletionTimestamp == null)
      | select(("\(.metadata.namespace)/\(.metadata.name)") as $p | $ceps | index($p) | not)
      | "\(.metadata.namespace) \(.metadata.name) \(.metadata.ownerReferences[0].kind // "<none>")"')
  if [ ${#deleted[@]} -gt 0 ]; then
    addons_log "recreating on Cilium the pods that were on the bridge: ${deleted[*]}"
    local p
    for p in "${deleted[@]}"; do
      addons_kc -n "${p%%/*}" wait --for=delete "pod/${p#*/}" --timeout=60s >/dev/null 2>&1 ||
        addons_log "warning: pod $p not gone after 60s"
    done
  fi
  local br
  br=$(cat "$S/bridge-name" 2>/dev/null || echo cni0)
  if ip -n "$LC_NETNS" link show "$br" >/dev/null 2>&1; then
    local i
    # A deleted pod's veth goes with its sandbox, shortly after the pod object.
    for i in $(seq 10); do
      [ -z "$(ip -n "$LC_NETNS" -o link show master "$br" 2>/dev/null)" ] && break
      sleep 0.5
    done
    if [ -z "$(ip -n "$LC_NETNS" -o link show master "$br" 2>/dev/null)" ]; then
      ip -n "$LC_NETNS" link del "$br" && addons_log "removed the bridge $br"
    else
      addons_log "warning: the bridge $br still has ports (bare pods?): left in place"
    fi
  fi
}

addons_cilium_down() {
  # CNI first, so that no new pod is set up on a stopping agent.
  if [ -f "$LC_CNI_CONF_DIR/05-cilium.conflist" ]; then
    rm -f "$LC_CNI_CONF_DIR/05-cilium.conflist"
  fi
  if [ -d "$S/cni-aside" ]; then
    local f
    for f in "$S/cni-aside"/*; do [ -f "$f" ] && mv "$f" "$LC_CNI_CONF_DIR/"; done
    rmdir "$S/cni-aside" 2>/dev/null || true
  fi
  rm -f "$S/bridge-name"
  if [ -f "$S/cilium-cni.mine" ]; then rm -f "$LC_CNI_BIN_DIR/cilium-cni" "$S/cilium-cni.mine"; fi
  addons_stop cilium-agent
  # The agent's links in the namespace (also gone with the namespace itself).
  if [ -e "$NS_PATH" ]; then
    local l
    for l in cilium_host cilium_vxlan cilium_geneve; do
      ip -n "$LC_NETNS" link del "$l" 2>/dev/null || true
    done
  fi
  if [ -f "$S/cgroupv2.mine" ]; then
    mountpoint -q /run/cilium/cgroupv2 2>/dev/null && umount /run/cilium/cgroupv2
    rm -f "$S/cgroupv2.mine"
  fi
  if [ -f "$S/cilium-run.mine" ]; then addons_rm_cilium_run; rm -f "$S/cilium-run.mine"; fi
  # Cilium's pinned maps and programs.
  rm -rf /sys/fs/bpf/tc/globals/cilium_* /sys/fs/bpf/cilium 2>/dev/null || true
  if [ -f "$S/bpffs.mounted" ]; then
    umount /sys/fs/bpf 2>/dev/null || true
    rm -f "$S/bpffs.mounted"
  fi
}

# ---------------------------------------------------------------- metrics-server

MS_PORT=4443

addons_metrics_up() {
  local t0
  t0=$(addons_now)
  addons_need_bins metrics-server

  # The aggregation layer: without a front-proxy CA the API server cannot authenticate to
  # metrics-server, and the APIService answers 401.
  if [ -z "$(addons_kc -n kube-system get configmap extension-apiserver-authentication -o jsonpath='{.data.requestheader-client-ca-file}' 2>/dev/null)" ]; then
    addons_log "warning: kube-apiserver runs without --requestheader-client-ca-file/--proxy-client-cert-file: the metrics API will not be served (see the top of $0)"
  fi

  # Identity: a ServiceAccount, with upstream's RBAC (kubelet /metrics/resource, delegated
  # authentication and authorization); token by TokenRequest (the kubelet, with webhook
  # authentication, accepts it too).
  addons_kc apply --server-side -f - >/dev/null <<'EOF'
apiVersion: v1
kind: ServiceAccount
metadata: {name: metrics-server, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata:
  name: system:aggregated-metrics-reader
  labels:
    rbac.authorization.k8s.io/aggregate-to-view: "true"
    rbac.authorization.k8s.io/aggregate-to-edit: "true"
    rbac.authorization.k8s.io/aggregate-to-admin: "true"
rules:
- {apiGroups: [metrics.k8s.io], resources: [pods, nodes], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: system:metrics-server}
rules:
- {apiGroups: [""], resources: [nodes/metrics], verbs: [get]}
- {apiGroups: [""], resources: [pods, nodes], verbs: [get, list, watch]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: system:metrics-server}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: system:metrics-server}
subjects: [{kind: ServiceAccount, name: metrics-server, namespace: kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "metrics-server:system:auth-delegator"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:auth-delegator"}
subjects: [{kind: ServiceAccount, name: metrics-server, namespace: kube-system}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: metrics-server-auth-reader, namespace: kube-system}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: extension-apiserver-authentication-reader}
subjects: [{kind: ServiceAccount, name: metrics-server, namespace: kube-system}]
EOF
  local d=$S/metrics-server token server ca
  mkdir -p "$d"
  token=$(addons_kc -n kube-system create token metrics-server --duration=8760h)
  server=$(addons_kc config view --raw --minify -o jsonpath='{.clusters[0].cluster.server}')
  ca=$(addons_kc config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority-data}')
  if [ -z "$ca" ]; then
    ca=$(base64 -w0 <"$(addons_kc config view --raw --minify -o jsonpath='{.clusters[0].cluster.certificate-authority}')")
  fi
  (umask 077; cat >"$d/kubeconfig" <<EOF
apiVersion: v1
kind: Config
clusters: [{name: local, cluster: {server: "$server", certificate-authority-data: "$ca"}}]
users: [{name: metrics-server, user: {token: "$token"}}]
contexts: [{name: metrics-server, context: {cluster: local, user: metrics-server, namespace: kube-system}}]
current-context: metrics-server
EOF
  )

  # Serving certificate, from a CA of its own that the APIService's caBundle names.
  if [ ! -f "$d/tls.crt" ] || ! openssl x509 -checkend 86400 -noout -in "$d/tls.crt" >/dev/null; then
    (cd "$d" && umask 077 &&
      openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=scrutin-local-metrics-server-ca" \
        -keyout ca.key -out ca.crt 2>/dev/null &&
      openssl req -newkey rsa:2048 -nodes -subj "/CN=metrics-server.kube-system.svc" \
        -keyout tls.key -out tls.csr 2>/dev/null &&
      printf 'subjectAltName=DNS:metrics-server.kube-system.svc,DNS:metrics-server.kube-system.svc.cluster.local,DNS:metrics-server.kube-system,IP:%s\nextendedKeyUsage=serverAuth\n' "$LC_NODE_IP" >tls.ext &&
      openssl x509 -req -in tls.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -extfile tls.ext -out tls.crt 2>/dev/null &&
      rm -f tls.csr tls.ext ca.srl)
  fi

  # The kubelet's serving certificate is signed by the cluster CA when local-cluster.sh made it.
  local kubelet_tls=--kubelet-insecure-tls
  [ ! -f "$LC_STATE/pki/ca.crt" ] || kubelet_tls=--kubelet-certificate-authority=$LC_STATE/pki/ca.crt
  addons_start metrics-server "$ADDONS_BIN/metrics-server" \
    --kubeconfig="$d/kubeconfig" \
    --authentication-kubeconfig="$d/kubeconfig" --authorization-kubeconfig="$d/kubeconfig" \
    --bind-address="$LC_NODE_IP" --secure-port="$MS_PORT" \
    --tls-cert-file="$d/tls.crt" --tls-private-key-file="$d/tls.key" \
    --kubelet-preferred-address-types=InternalIP \
    --kubelet-use-node-status-port \
    "$kubelet_tls" \
    --metric-resolution=15s
  addons_log "metrics-server started (pid $(cat "$S/metrics-server.pid"), log $S/metrics-server.log)"

  # Registration: a Service without selector, its EndpointSlice to the process, the APIService.
  addons_kc apply --server-side --force-conflicts -f - >/dev/null <<EOF
apiVersion: v1
kind: Service
metadata: {name: metrics-server, namespace: kube-system, labels: {app.kubernetes.io/name: metrics-server}}
spec:
  ports: [{name: https, port: 443, protocol: TCP, targetPort: $MS_PORT}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: metrics-server-local
  namespace: kube-system
  labels:
    kubernetes.io/service-name: metrics-server
    endpointslice.kubernetes.io/managed-by: scrutin.dev-local-cluster
addressType: IPv4
endpoints: [{addresses: ["$LC_NODE_IP"], conditions: {ready: true}}]
ports: [{name: https, port: $MS_PORT, protocol: TCP}]
---
apiVersion: apiregistration.k8s.io/v1
kind: APIService
metadata: {name: v1beta1.metrics.k8s.io, labels: {app.kubernetes.io/name: metrics-server}}
spec:
  group: metrics.k8s.io
  version: v1beta1
  groupPriorityMinimum: 100
  versionPriority: 100
  service: {name: metrics-server, namespace: kube-system, port: 443}
  caBundle: $(base64 -w0 <"$d/ca.crt")
EOF
  # Available in seconds on an idle machine; allow for a busy one.
  if ! addons_kc wait --for=condition=Available --timeout=180s apiservice/v1beta1.metrics.k8s.io >/dev/null; then
    tail -20 "$S/metrics-server.log" >&2
    addons_kc get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[0].message}{"\n"}' >&2 || true
    echo "APIService v1beta1.metrics.k8s.io not Available after 180s (log: $S/metrics-server.log)" >&2
    return 1
  fi
  addons_log "metrics-server up, APIService Available in $(addons_since "$t0") (node metrics after its first scrapes, 15-30 s)"
}

addons_metrics_down() {
  if [ -f "$S/metrics-server.pid" ] && addons_kc get --request-timeout=5s apiservice v1beta1.metrics.k8s.io >/dev/null 2>&1; then
    addons_kc delete --request-timeout=10s --ignore-not-found --wait=false apiservice/v1beta1.metrics.k8s.io \
      -n kube-system service/metrics-server endpointslice/metrics-server-local >/dev/null 2>&1 || true
  fi
  addons_stop metrics-server
}

addons_status() {
  local c
  for c in cilium-agent metrics-server; do
    if addons_running "$c"; then
      printf '%-15s running (pid %s, %s MiB RSS)\n' "$c" "$(cat "$S/$c.pid")" \
        "$(( $(awk '/VmRSS/ {print $2}' "/proc/$(cat "$S/$c.pid")/status") / 1024 ))"
    else
      printf '%-15s stopped\n' "$c"
    fi
  done
  if addons_running cilium-agent; then
    printf '%-15s %s\n' cilium "$(addons_cilium_health | jq -r '"state \(.cilium.state), \(.controllers // [] | length) controllers, cni \(."cni-file".msg // "?")"' 2>/dev/null || echo 'no answer')"
  fi
  if [ -f "$LC_STATE/gateway.env" ]; then
    printf '%-15s %s\n' gateway "$(tr '\n' ' ' <"$LC_STATE/gateway.env")"
  fi
  if addons_running metrics-server; then
    printf '%-15s %s\n' apiservice "$(addons_kc get apiservice v1beta1.metrics.k8s.io -o jsonpath='{.status.conditions[?(@.type=="Available")].status} {.status.conditions[?(@.type=="Available")].message}' 2>/dev/null || echo '?')"
  fi
}

# shellcheck source=hack/local-cluster/gateway.sh
. "$(dirname "${BASH_SOURCE[0]}")/gateway.sh"

if [[ "${BASH_SOURCE[0]}" != "$0" ]]; then
  # Sourced: run in a subshell, so that set -e, variables and exit stay here.
  (addons_main "$@")
  return $?
fi
addons_main "$@"
