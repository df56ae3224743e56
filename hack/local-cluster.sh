#!/usr/bin/env bash
# A real single-node Kubernetes cluster on this machine, with no Docker and no systemd:
# etcd, the control plane, containerd, the kubelet and kube-proxy run as background
# processes inside a network namespace of their own, joined to the host by a veth pair.
#
#   hack/local-cluster.sh up       start a fresh cluster (about 10 s once the binaries are built)
#   hack/local-cluster.sh down     stop it and remove what it made (binaries stay cached)
#   hack/local-cluster.sh status   processes, node, kubeconfig, memory
#   hack/local-cluster.sh images   build Scrutin's images (hack/images) and import them (and
#                                  SeaweedFS's, for the archive test, when bin/ holds it)
#   hack/local-cluster.sh deploy   images, then config/default with them; waits for the manager
#                                  (LC_INSTALL=helm: charts/scrutin with them instead, by helm)
#
# Why a namespace: the node gets a real, non-loopback IP (the kubelet refuses loopback)
# and kube-proxy's and the CNI's rules stay out of the host's tables. The host reaches it
# by routes over the veth: the API server at https://10.10.0.2:6443, pods (10.244.0.0/16)
# and ClusterIPs (10.96.0.0/16); pods reach the host at 10.10.0.1 (a PostgreSQL there).
# Nothing leaves the machine: no NAT, and the host drops whatever would be forwarded from
# or to the veth. Facts and traps behind the choices: /work/shared/local-cluster.md.
#
# Cluster DNS: CoreDNS (built from hack/tools/coredns, cached in bin/coredns/) runs as the
# Deployment kube-system/coredns, pods labelled k8s-app=kube-dns (what the election
# namespaces' NetworkPolicies let the voting pods query), behind the Service kube-dns at
# $LC_SERVICE_CIDR's .10, the kubelet's clusterDNS. It answers for cluster.local and the
# reverse zones only: it has no upstream (no `forward`), so another name fails at once
# (SERVFAIL) and no query leaves the machine. LC_CLUSTER_DNS= (empty) runs none.
#
# Everything lives under $LC_STATE (_output/local-cluster, ignored by git): pki/, conf/,
# logs/, pids/, images/, kubeconfig, images.env. Every `up` starts from an empty etcd.
# hack/local-cluster/addons.sh, when present, is run with `up` once the node is Ready and
# with `down` once the pods are stopped; it gets the LC_* variables below.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
KUBE_VERSION=${KUBE_VERSION:-v1.37.2}
export LC_BIN=${LC_BIN:-$root/bin/k8s/$KUBE_VERSION}
export LC_STATE=${LC_STATE:-$root/_output/local-cluster}
export LC_NETNS=${LC_NETNS:-scrutin-node}
# Namespaces with these labels are the ingress path to voting pods (the manager's
# --ingress-namespace-labels): the end-to-end tests' voters come through one.
export LC_INGRESS_LABELS=${LC_INGRESS_LABELS:-scrutin.dev/ingress=true}
# The domain of the Gateway's wildcard listener (add-on `gateway`), the manager's --base-domain:
# an election's voters reach it at https://<election>.<its namespace>.$LC_BASE_DOMAIN/.
export LC_BASE_DOMAIN=${LC_BASE_DOMAIN:-scrutin.test}
# How `deploy` installs Scrutin: kustomize (config/default, kubectl apply) or helm (the chart
# charts/scrutin, the release scrutin: the same objects and names); helm from bin/ (hack/build-helm.sh).
LC_INSTALL=${LC_INSTALL:-kustomize}
export LC_NODE_NAME=${LC_NODE_NAME:-scrutin-node}
export LC_NODE_IP=${LC_NODE_IP:-10.10.0.2}
export LC_NODE_DEV=eth0 # the node's end of the veth, inside the namespace
export LC_HOST_IP=${LC_HOST_IP:-10.10.0.1}
export LC_POD_CIDR=${LC_POD_CIDR:-10.244.0.0/16}
export LC_NODE_POD_CIDR=${LC_NODE_POD_CIDR:-10.244.0.0/24} # what the controller-manager gives the first node
export LC_SERVICE_CIDR=${LC_SERVICE_CIDR:-10.96.0.0/16}
export LC_CNI_CONF_DIR=${LC_CNI_CONF_DIR:-$LC_STATE/cni/net.d}
export LC_CNI_BIN_DIR=${LC_CNI_BIN_DIR:-/usr/lib/cni}
export LC_KUBECONFIG=$LC_STATE/kubeconfig
export LC_CONTAINERD_SOCK=$LC_STATE/containerd/containerd.sock
HOST_DEV=${LC_HOST_DEV:-scrutin0}   # the host's end of the veth
# The cluster DNS Service's IP, the kubelet's clusterDNS; empty: no cluster DNS (pods get an
# empty resolv.conf and no name resolves, the manager cannot reach the runtimes by name).
CLUSTER_DNS=${LC_CLUSTER_DNS-${LC_SERVICE_CIDR%.*/*}.10}
PV_COUNT=${LC_PV_COUNT:-16}         # hostPath volumes for PersistentVolumeClaims (no provisioner)
KUBERNETES_SVC_IP=${LC_SERVICE_CIDR%.*/*}.1 # the first address of the service range
ADDONS=$root/hack/local-cluster/addons.sh
COREDNS_VERSION=$(awk '$1 == "require" && $2 == "github.com/coredns/coredns" {print $3}' "$root/hack/tools/coredns/go.mod")
COREDNS_BIN=$root/bin/coredns/coredns-$COREDNS_VERSION
PKI=$LC_STATE/pki CONF=$LC_STATE/conf LOGS=$LC_STATE/logs PIDS=$LC_STATE/pids IMAGES=$LC_STATE/images
NS_PATH=/run/netns/$LC_NETNS
# The cluster's data, volumes included: wiped at every up and down (logs stay, for post-mortems).
DATA_DIRS=(etcd containerd kubelet cni volumes pod-logs)
COMPONENTS=(kube-proxy kubelet containerd kube-scheduler kube-controller-manager kube-apiserver etcd)

log() { echo ">> $*" >&2; }
die() { echo "local-cluster: $*" >&2; exit 1; }
kc() { "$LC_BIN/kubectl" --kubeconfig "$LC_KUBECONFIG" "$@"; }
ctr_() { ctr --address "$LC_CONTAINERD_SOCK" -n k8s.io "$@"; }
in_node() { nsenter --net="$NS_PATH" "$@"; }

# Phase timings: `phase NAME` prints the time since the previous phase.
T0=${EPOCHREALTIME/./} TP=$T0
phase() {
  local now=${EPOCHREALTIME/./}
  printf '>> %-34s %6.1fs  (total %.1fs)\n' "$1" "$(((now - TP) / 100000))e-1" "$(((now - T0) / 100000))e-1" >&2
  TP=$now
}

# ---------------------------------------------------------------- processes

# start NAME CMD...: runs CMD in the node's namespace, detached from this shell, logging
# to logs/NAME.log. setsid and nsenter both exec, so $! is CMD's own PID.
start() {
  local name=$1; shift
  setsid nsenter --net="$NS_PATH" "$@" </dev/null >"$LOGS/$name.log" 2>&1 &
  echo $! >"$PIDS/$name.pid"
}

# pid_of FILE: the PID recorded in FILE if that process still runs the program the file
# is named after (a PID reused by another program is left alone).
pid_of() {
  local f=$1 pid
  [ -f "$f" ] || return 1
  pid=$(cat "$f")
  grep -qaF -- "$(basename "$f" .pid)" "/proc/$pid/cmdline" 2>/dev/null && echo "$pid"
}
running() { pid_of "$PIDS/$1.pid" >/dev/null; }

# alive PID: running, and not a zombie (once `up` has returned, our processes belong to
# init, which may take seconds to reap them).
alive() {
  local state
  state=$(sed -n 's/.*) \(.\).*/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
  [ -n "$state" ] && [ "$state" != Z ]
}

# stop_pidfile FILE [SECONDS]: SIGTERM, then SIGKILL after SECONDS (10).
stop_pidfile() {
  local f=$1 grace=${2:-10} pid i
  if pid=$(pid_of "$f"); then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "$(basename "$f" .pid) (pid $pid) ignored SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    elif ((i >= 10)); then
      log "$(basename "$f" .pid) took $((i / 10)).$((i % 10))s to stop"
    fi
  fi
  rm -f "$f"
}

# wait_until SECONDS WHAT CMD...: polls CMD every 0.2 s; fails with the logs' tails.
wait_until() {
  local secs=$1 what=$2 i; shift 2
  for ((i = 0; i < secs * 5; i++)); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  for i in "$LOGS"/*.log; do echo "--- $i" >&2; tail -5 "$i" >&2; done
  die "$what: not after ${secs}s (logs in $LOGS)"
}

# The processes the pods run in (cgroup v1 hierarchy made by the kubelet's cgroupfs driver).
pod_pids() { find /sys/fs/cgroup/pids/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null || true; }
# containerd's shims: they outlive containerd (they are reparented to init); ours are
# those given our containerd's socket.
shim_pids() {
  local f c
  for f in /proc/[0-9]*/cmdline; do
    c=$({ tr '\0' ' ' <"$f"; } 2>/dev/null) || continue
    [[ $c == *containerd-shim*" -address $LC_CONTAINERD_SOCK "* ]] || continue
    f=${f#/proc/}; echo "${f%/cmdline}"
  done
}
# The pods' network namespaces (/run/netns/cni-UUID, made by containerd's CRI plugin, which
# removes them only when a sandbox is stopped through it). Read from containerd's own
# database, which names them in clear, so that a crashed run's are found too.
pod_netns() {
  grep -aoh 'netns/cni-[0-9a-f-]\{36\}' "$LC_STATE"/containerd/root/io.containerd.metadata.v1.bolt/meta.db 2>/dev/null |
    sed 's|netns/||' | sort -u || true
}

# ---------------------------------------------------------------- packages and binaries

install_packages() {
  local pkgs=(containerd runc containernetworking-plugins iptables conntrack socat iproute2 openssl curl) missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null; }
}

build_binaries() {
  KUBE_VERSION=$KUBE_VERSION "$root/hack/build-k8s.sh" etcd kube-apiserver kube-controller-manager kube-scheduler kubelet kube-proxy kubectl
}

# build_images ARGS...: hack/images into images/, and records NAME_IMAGE=REF in images.env.
build_images() {
  local refs name ref
  mkdir -p "$IMAGES"
  refs=$(cd "$root" && go run ./hack/images -out "$IMAGES" "$@")
  while IFS='=' read -r name ref; do
    [ -n "$ref" ] || continue
    name=$(tr 'a-z-' 'A-Z_' <<<"$name")_IMAGE
    touch "$LC_STATE/images.env"
    sed -i "/^$name=/d" "$LC_STATE/images.env"
    echo "$name=$ref" >>"$LC_STATE/images.env"
  done <<<"$refs"
}

import_image() { ctr_ images import "$IMAGES/$1.tar" >/dev/null; }

# build_coredns: the CoreDNS binary, built in its own tools module (its dependencies stay
# out of the root go.mod) and kept in bin/ under its version: about 1-2 minutes cold.
build_coredns() {
  [ ! -x "$COREDNS_BIN" ] || return 0
  log "building CoreDNS $COREDNS_VERSION from the Go module proxy (hack/tools/coredns)"
  mkdir -p "$(dirname "$COREDNS_BIN")"
  local total; total=$(cd "$root/hack/tools/coredns" && go list -deps github.com/coredns/coredns | wc -l)
  (cd "$root/hack/tools/coredns" && CGO_ENABLED=0 go build -v -trimpath -ldflags "-s -w" -o "$COREDNS_BIN.tmp" github.com/coredns/coredns) 2>&1 |
    "$root/hack/build-progress.sh" coredns "$total"
  mv "$COREDNS_BIN.tmp" "$COREDNS_BIN"
}

# binary_image NAME FILE: the image of a ready binary (hack/images -binary), made again
# only for another binary: images/NAME.sha256 holds the digest of the binary that
# images/NAME.tar holds.
binary_image() {
  local name=$1 file=$2 var sum
  var=$(tr 'a-z-' 'A-Z_' <<<"$name")_IMAGE
  sum=$(sha256sum <"$file") sum=${sum%% *}
  if [ -f "$IMAGES/$name.tar" ] && [ "$(cat "$IMAGES/$name.sha256" 2>/dev/null)" = "$sum" ] &&
    grep -q "^$var=" "$LC_STATE/images.env" 2>/dev/null; then
    return 0
  fi
  build_images -binary "$name=$file"
  echo "$sum" >"$IMAGES/$name.sha256"
}
coredns_image() { binary_image coredns "$COREDNS_BIN"; }

# ---------------------------------------------------------------- network

# fence: the cluster's ranges are unreachable from the host unless the veth routes
# (more specific or lower metric) are there. Without it, a kubectl or a test run while
# the cluster is down would follow the host's default route off the machine. Kept
# after down, on purpose.
fence() {
  local cidr
  for cidr in "${LC_HOST_IP%.*}.0/24" "$LC_POD_CIDR" "$LC_SERVICE_CIDR"; do
    ip route replace unreachable "$cidr" metric 4242
  done
}

net_up() {
  fence
  ip netns add "$LC_NETNS"
  ip link add "$HOST_DEV" type veth peer name "$LC_NODE_DEV" netns "$LC_NETNS"
  ip addr add "$LC_HOST_IP/24" dev "$HOST_DEV"
  ip link set "$HOST_DEV" up
  in_node ip link set lo up
  in_node ip addr add "$LC_NODE_IP/24" dev "$LC_NODE_DEV"
  in_node ip link set "$LC_NODE_DEV" up
  # The kubelet wants a default route; it only leads to the host, which does not forward.
  in_node ip route add default via "$LC_HOST_IP"
  ip route add "$LC_POD_CIDR" via "$LC_NODE_IP"
  ip route add "$LC_SERVICE_CIDR" via "$LC_NODE_IP"
  # The node routes between its veth and the pods' bridge, and kube-proxy's rules must see
  # bridged traffic (pod to a Service whose backend is on the same bridge).
  in_node sysctl -qw net.ipv4.ip_forward=1
  in_node sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || log "warning: no br_netfilter in the namespace: pod to Service on the same bridge may fail"
  # Whatever the host's ip_forward, nothing from the node goes further than the host.
  iptables -I FORWARD -i "$HOST_DEV" -m comment --comment scrutin-local-cluster -j DROP
  iptables -I FORWARD -o "$HOST_DEV" -m comment --comment scrutin-local-cluster -j DROP
}

net_down() {
  fence
  if [ -e "$NS_PATH" ]; then ip netns del "$LC_NETNS"; fi
  # The routes go with the host's end of the veth. Deleting the namespace removes it
  # too, a moment later: gone between the look and the delete is gone.
  if ip link show "$HOST_DEV" >/dev/null 2>&1; then
    ip link del "$HOST_DEV" 2>/dev/null || ! ip link show "$HOST_DEV" >/dev/null 2>&1 || ip link del "$HOST_DEV"
  fi
  while iptables -D FORWARD -i "$HOST_DEV" -m comment --comment scrutin-local-cluster -j DROP 2>/dev/null; do :; done
  while iptables -D FORWARD -o "$HOST_DEV" -m comment --comment scrutin-local-cluster -j DROP 2>/dev/null; do :; done
  return 0
}

# ---------------------------------------------------------------- PKI and kubeconfigs

# cert NAME CN O USAGE [SANS] [CA]: a P-256 key and a certificate signed by CA (ca).
cert() {
  local name=$1 o=$3 usage=$4 sans=${5:-} ca=${6:-ca} subj="/CN=$2"
  [ -z "$o" ] || subj="/O=$o$subj"
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
    -keyout "$PKI/$name.key" -out "$PKI/$name.csr" 2>/dev/null
  {
    echo "keyUsage=critical,digitalSignature,keyEncipherment"
    echo "extendedKeyUsage=$usage"
    [ -z "$sans" ] || echo "subjectAltName=$sans"
  } >"$PKI/$name.ext"
  openssl x509 -req -in "$PKI/$name.csr" -CA "$PKI/$ca.crt" -CAkey "$PKI/$ca.key" -CAcreateserial \
    -days 365 -extfile "$PKI/$name.ext" -out "$PKI/$name.crt" 2>/dev/null
  rm -f "$PKI/$name.csr" "$PKI/$name.ext"
}

ca() {
  openssl req -x509 -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
    -subj "/CN=$2" -keyout "$PKI/$1.key" -out "$PKI/$1.crt" 2>/dev/null
}

# A fresh PKI for each fresh cluster: nothing outlives the etcd that trusted it.
make_pki() {
  rm -rf "$PKI" && mkdir -p "$PKI" && chmod 700 "$PKI"
  ca ca scrutin-local-ca
  ca front-proxy-ca scrutin-local-front-proxy-ca
  cert apiserver kube-apiserver "" serverAuth \
    "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,DNS:localhost,IP:127.0.0.1,IP:$LC_NODE_IP,IP:$KUBERNETES_SVC_IP"
  cert admin kubernetes-admin system:masters clientAuth
  cert apiserver-kubelet-client kube-apiserver-kubelet-client system:masters clientAuth
  cert kube-controller-manager system:kube-controller-manager "" clientAuth
  cert kube-scheduler system:kube-scheduler "" clientAuth
  cert kubelet "system:node:$LC_NODE_NAME" system:nodes clientAuth
  cert kubelet-serving "system:node:$LC_NODE_NAME" system:nodes serverAuth "DNS:$LC_NODE_NAME,IP:$LC_NODE_IP"
  cert kube-proxy system:kube-proxy "" clientAuth
  cert front-proxy-client front-proxy-client "" clientAuth "" front-proxy-ca
  openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$PKI/sa.key" 2>/dev/null
  openssl pkey -in "$PKI/sa.key" -pubout -out "$PKI/sa.pub" 2>/dev/null
}

# kubeconfig FILE CERT: the API server by its node address, which the host and the node
# both reach; certificates embedded, so the file can be copied.
kubeconfig() {
  cat >"$1" <<EOF
apiVersion: v1
kind: Config
clusters:
- name: scrutin-local
  cluster:
    server: https://$LC_NODE_IP:6443
    certificate-authority-data: $(base64 -w0 <"$PKI/ca.crt")
users:
- name: $2
  user:
    client-certificate-data: $(base64 -w0 <"$PKI/$2.crt")
    client-key-data: $(base64 -w0 <"$PKI/$2.key")
contexts:
- name: scrutin-local
  context: {cluster: scrutin-local, user: $2}
current-context: scrutin-local
EOF
  chmod 600 "$1"
}

# ---------------------------------------------------------------- configuration files

write_configs() {
  local c
  for c in kube-controller-manager kube-scheduler kubelet kube-proxy; do kubeconfig "$CONF/$c.kubeconfig" "$c"; done
  kubeconfig "$LC_KUBECONFIG" admin
  : >"$CONF/resolv.conf"

  cat >"$CONF/containerd.toml" <<EOF
version = 2
root = "$LC_STATE/containerd/root"
state = "$LC_STATE/containerd/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$LC_CONTAINERD_SOCK"
[plugins."io.containerd.grpc.v1.cri"]
  # Nothing can be pulled: the sandbox image is ours, imported before the kubelet starts.
  sandbox_image = "$PAUSE_IMAGE"
  # Root here lacks CAP_SYS_RESOURCE: runc fails to write a negative oom_score_adj, and
  # every pod sandbox fails with "can't get final child's PID from pipe: EOF".
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        Root = "$LC_STATE/containerd/runc"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "$LC_CNI_BIN_DIR"
    conf_dir = "$LC_CNI_CONF_DIR"
EOF

  mkdir -p "$LC_CNI_CONF_DIR"
  # No ipMasq: pods reach the host with their own address, and nothing beyond it.
  cat >"$LC_CNI_CONF_DIR/10-bridge.conflist" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "scrutin-bridge",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "$LC_STATE/cni/ipam",
              "ranges": [[{"subnet": "$LC_NODE_POD_CIDR"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
EOF

  cat >"$CONF/kubelet.yaml" <<EOF
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
containerRuntimeEndpoint: unix://$LC_CONTAINERD_SOCK
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: $PKI/ca.crt}
authorization: {mode: Webhook}
tlsCertFile: $PKI/kubelet-serving.crt
tlsPrivateKeyFile: $PKI/kubelet-serving.key
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
resolvConf: $CONF/resolv.conf
clusterDomain: cluster.local
clusterDNS: [${CLUSTER_DNS}]
podLogsDir: $LC_STATE/pod-logs
staticPodPath: ""
readOnlyPort: 0
# No image can be pulled again: never collect them, and do not evict for a disk that
# the machine's builds fill.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 2%, imagefs.available: 2%}
EOF

  cat >"$CONF/kube-proxy.yaml" <<EOF
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection: {kubeconfig: $CONF/kube-proxy.kubeconfig}
mode: iptables
clusterCIDR: $LC_POD_CIDR
hostnameOverride: $LC_NODE_NAME
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
iptables: {localhostNodePorts: false}
# conntrack sysctls are the host's (read-only in a namespace): leave them as they are.
conntrack: {maxPerCore: 0, min: 0, tcpEstablishedTimeout: 0s, tcpCloseWaitTimeout: 0s}
EOF
}

# ---------------------------------------------------------------- components

start_control_plane() {
  start etcd "$LC_BIN/etcd" --name=node --data-dir="$LC_STATE/etcd" \
    --listen-client-urls=http://127.0.0.1:2379 --advertise-client-urls=http://127.0.0.1:2379 \
    --listen-peer-urls=http://127.0.0.1:2380 --initial-advertise-peer-urls=http://127.0.0.1:2380 \
    --initial-cluster=node=http://127.0.0.1:2380 --unsafe-no-fsync --log-level=warn
  # The kubelet by its IP: its name resolves nowhere, and a lookup would go to the host's
  # resolver. The front-proxy flags give the aggregation layer (metrics-server's API).
  start kube-apiserver "$LC_BIN/kube-apiserver" \
    --advertise-address="$LC_NODE_IP" --secure-port=6443 \
    --etcd-servers=http://127.0.0.1:2379 \
    --service-cluster-ip-range="$LC_SERVICE_CIDR" \
    --client-ca-file="$PKI/ca.crt" \
    --tls-cert-file="$PKI/apiserver.crt" --tls-private-key-file="$PKI/apiserver.key" \
    --kubelet-client-certificate="$PKI/apiserver-kubelet-client.crt" --kubelet-client-key="$PKI/apiserver-kubelet-client.key" \
    --kubelet-certificate-authority="$PKI/ca.crt" --kubelet-preferred-address-types=InternalIP \
    --service-account-issuer=https://kubernetes.default.svc.cluster.local \
    --service-account-key-file="$PKI/sa.pub" --service-account-signing-key-file="$PKI/sa.key" \
    --authorization-mode=Node,RBAC --enable-admission-plugins=NodeRestriction \
    --allow-privileged=true --profiling=false \
    --requestheader-client-ca-file="$PKI/front-proxy-ca.crt" --requestheader-allowed-names=front-proxy-client \
    --requestheader-username-headers=X-Remote-User --requestheader-group-headers=X-Remote-Group \
    --requestheader-extra-headers-prefix=X-Remote-Extra- \
    --proxy-client-cert-file="$PKI/front-proxy-client.crt" --proxy-client-key-file="$PKI/front-proxy-client.key" \
    --enable-aggregator-routing=true
  wait_until 60 "kube-apiserver ready" kc get --raw /readyz
  phase "etcd, kube-apiserver ready"
  local kcm=$CONF/kube-controller-manager.kubeconfig ks=$CONF/kube-scheduler.kubeconfig
  start kube-controller-manager "$LC_BIN/kube-controller-manager" \
    --kubeconfig="$kcm" --authentication-kubeconfig="$kcm" --authorization-kubeconfig="$kcm" \
    --bind-address=127.0.0.1 --leader-elect=false \
    --allocate-node-cidrs --cluster-cidr="$LC_POD_CIDR" --node-cidr-mask-size=24 \
    --service-cluster-ip-range="$LC_SERVICE_CIDR" \
    --cluster-signing-cert-file="$PKI/ca.crt" --cluster-signing-key-file="$PKI/ca.key" \
    --root-ca-file="$PKI/ca.crt" --service-account-private-key-file="$PKI/sa.key" \
    --use-service-account-credentials
  start kube-scheduler "$LC_BIN/kube-scheduler" \
    --kubeconfig="$ks" --authentication-kubeconfig="$ks" --authorization-kubeconfig="$ks" \
    --bind-address=127.0.0.1 --leader-elect=false
}

start_node() {
  start containerd containerd --config "$CONF/containerd.toml"
  wait_until 30 "containerd" ctr_ version
  import_image pause
  phase "containerd, pause image"
  start kubelet "$LC_BIN/kubelet" --config="$CONF/kubelet.yaml" --kubeconfig="$CONF/kubelet.kubeconfig" \
    --node-ip="$LC_NODE_IP" --hostname-override="$LC_NODE_NAME" --root-dir="$LC_STATE/kubelet"
  start kube-proxy "$LC_BIN/kube-proxy" --config="$CONF/kube-proxy.yaml"
  wait_until 60 "node $LC_NODE_NAME registered" kc get node "$LC_NODE_NAME"
  wait_until 60 "node $LC_NODE_NAME Ready" kc wait --for=condition=Ready --timeout=1s node "$LC_NODE_NAME"
  phase "kubelet, kube-proxy, node Ready"
}

# Static hostPath PersistentVolumes: there is no provisioner, and the Embedded store of an
# Election claims a volume. Without a default StorageClass, a claim naming no class binds to
# a volume of no class. The directories are writable by any uid, since hostPath volumes are
# not given to the pod's fsGroup. Retained: a released one is not reused (this cluster is
# short-lived; raise LC_PV_COUNT for more).
create_volumes() {
  local i
  for ((i = 0; i < PV_COUNT; i++)); do
    mkdir -p "$LC_STATE/volumes/pv-$i" && chmod 0777 "$LC_STATE/volumes/pv-$i"
    cat <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-pv-$i, labels: {scrutin.dev/local-cluster: "true"}}
spec:
  capacity: {storage: 10Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  hostPath: {path: $LC_STATE/volumes/pv-$i, type: Directory}
---
EOF
  done | kc apply -f - >/dev/null
}

# The cluster DNS: CoreDNS as kube-system/coredns behind the Service kube-dns at
# $CLUSTER_DNS, the kubelet's clusterDNS; waits until it is Ready (it is once its
# kubernetes plugin has listed Services and EndpointSlices).
# - Labels k8s-app=kube-dns: the election namespaces' NetworkPolicies allow DNS only to
#   such pods in kube-system (the manager's --dns-namespace and --dns-pod-labels).
# - It listens on 53, not 1053 behind a targetPort: a NetworkPolicy's port is the pod's
#   port, and those policies allow 53. As uid 65532 with no capability, it may bind 53
#   because the pod lowers net.ipv4.ip_unprivileged_port_start, a namespaced sysctl that
#   Pod Security `restricted` allows (the pod meets `restricted` in full).
# - No `forward` in the Corefile: names outside cluster.local get SERVFAIL at once and no
#   query leaves the machine. dnsPolicy Default: CoreDNS itself never queries itself.
# - No `loop` plugin: it only detects loops through a forwarder.
start_dns() {
  local image
  image=$(sed -n 's/^COREDNS_IMAGE=//p' "$LC_STATE/images.env")
  import_image coredns
  kc apply -f - >/dev/null <<EOF
apiVersion: v1
kind: ServiceAccount
metadata: {name: coredns, namespace: kube-system}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: "system:coredns", labels: {k8s-app: kube-dns}}
rules:
# What the kubernetes plugin lists and watches (pods only with "pods verified").
- apiGroups: [""]
  resources: [services, pods, namespaces]
  verbs: [list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: "system:coredns", labels: {k8s-app: kube-dns}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:coredns"}
subjects:
- {kind: ServiceAccount, name: coredns, namespace: kube-system}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: coredns, namespace: kube-system}
data:
  Corefile: |
    .:53 {
        errors
        health {
            lameduck 5s
        }
        ready :8181
        kubernetes cluster.local in-addr.arpa ip6.arpa {
            pods insecure
            fallthrough in-addr.arpa ip6.arpa
            ttl 30
        }
        prometheus :9153
        cache 30
        reload
        loadbalance
    }
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: coredns, namespace: kube-system, labels: {k8s-app: kube-dns}}
spec:
  replicas: 1
  selector: {matchLabels: {k8s-app: kube-dns}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 0, maxSurge: 1}}
  template:
    metadata: {labels: {k8s-app: kube-dns}}
    spec:
      serviceAccountName: coredns
      priorityClassName: system-cluster-critical
      dnsPolicy: Default
      securityContext:
        runAsNonRoot: true
        runAsUser: 65532
        runAsGroup: 65532
        seccompProfile: {type: RuntimeDefault}
        sysctls: [{name: net.ipv4.ip_unprivileged_port_start, value: "53"}]
      containers:
      - name: coredns
        image: $image
        imagePullPolicy: IfNotPresent
        args: [-conf, /etc/coredns/Corefile]
        ports:
        - {name: dns, containerPort: 53, protocol: UDP}
        - {name: dns-tcp, containerPort: 53, protocol: TCP}
        - {name: metrics, containerPort: 9153, protocol: TCP}
        resources:
          requests: {cpu: 50m, memory: 70Mi}
          limits: {memory: 170Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        livenessProbe:
          httpGet: {path: /health, port: 8080}
          initialDelaySeconds: 10
          periodSeconds: 10
          failureThreshold: 5
        readinessProbe:
          httpGet: {path: /ready, port: 8181}
          periodSeconds: 2
        volumeMounts:
        - {name: config, mountPath: /etc/coredns, readOnly: true}
      volumes:
      - name: config
        configMap:
          name: coredns
          items: [{key: Corefile, path: Corefile}]
---
apiVersion: v1
kind: Service
metadata:
  name: kube-dns
  namespace: kube-system
  labels: {k8s-app: kube-dns, kubernetes.io/name: CoreDNS}
spec:
  selector: {k8s-app: kube-dns}
  clusterIP: $CLUSTER_DNS
  ports:
  - {name: dns, port: 53, targetPort: 53, protocol: UDP}
  - {name: dns-tcp, port: 53, targetPort: 53, protocol: TCP}
  - {name: metrics, port: 9153, targetPort: 9153, protocol: TCP}
EOF
  wait_dns
}

wait_dns() {
  kc -n kube-system rollout status deployment/coredns --timeout=90s >/dev/null ||
    { kc -n kube-system describe pods -l k8s-app=kube-dns | tail -20 >&2; die "CoreDNS not Ready after 90s"; }
}

# ---------------------------------------------------------------- teardown

# Unmounts what the kubelet and containerd left under the state dir (pod volumes, sandbox
# /dev/shm, rootfs overlays), deepest first.
unmount_state() {
  local m
  findmnt -rn -o TARGET | awk -v p="$LC_STATE/" 'index($0, p) == 1' | sort -r | while read -r m; do
    umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || log "warning: cannot unmount $m"
  done
}

teardown() {
  local f pid netns
  netns=$(pod_netns)
  stop_pidfile "$PIDS/kube-proxy.pid"
  stop_pidfile "$PIDS/kubelet.pid"
  # The pods: their tasks through containerd while it runs, then whatever is left in the
  # kubelet's cgroups; while their network still works, so that their connections to the
  # API server close (else it waits for them when it stops).
  if running containerd; then
    for f in $(ctr_ tasks ls -q 2>/dev/null); do ctr_ tasks rm -f "$f" >/dev/null 2>&1 || true; done
  fi
  for pid in $(pod_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  phase "pods stopped"
  if [ -f "$ADDONS" ] && [ -e "$NS_PATH" ]; then
    bash "$ADDONS" down || log "warning: $ADDONS down failed"
    phase "add-ons stopped"
  fi
  stop_pidfile "$PIDS/containerd.pid"
  for pid in $(shim_pids); do kill -KILL "$pid" 2>/dev/null || true; done
  # A killed shim leaves its socket in /run/containerd/s; its task's bundle names it.
  for f in "$LC_STATE"/containerd/state/io.containerd.runtime.v2.task/*/*/address; do
    if [ -f "$f" ]; then rm -f "$(sed 's|^unix://||' "$f")"; fi
  done
  phase "containerd stopped"
  # The API server before etcd, else it takes over 10 s to exit.
  for f in kube-scheduler kube-controller-manager kube-apiserver etcd; do stop_pidfile "$PIDS/$f.pid" 15; done
  # Anything else recorded (an add-on whose own down could not run).
  for f in "$PIDS"/*.pid "$LC_STATE"/addons/*.pid; do
    if [ -e "$f" ]; then stop_pidfile "$f"; fi
  done
  phase "control plane stopped"
  unmount_state
  for f in $netns; do [ ! -e "/run/netns/$f" ] || ip netns del "$f"; done
  net_down
  # The kubelet's cgroups and its container log links (it makes them, nobody removes them).
  find /sys/fs/cgroup/*/kubepods -depth -type d -exec rmdir {} + 2>/dev/null || true
  find /var/log/containers -maxdepth 1 -lname "$LC_STATE/*" -delete 2>/dev/null || true
  if findmnt -rn -o TARGET | awk -v p="$LC_STATE/" 'index($0, p) == 1' | grep -q .; then
    log "warning: mounts remain under $LC_STATE: data left in place"
  else
    local d
    for d in "${DATA_DIRS[@]}"; do rm -rf --one-file-system "${LC_STATE:?}/$d"; done
  fi
}

# ---------------------------------------------------------------- commands

healthy() {
  local c
  for c in "${COMPONENTS[@]}"; do running "$c" || return 1; done
  [ -e "$NS_PATH" ] && kc get --raw /readyz >/dev/null 2>&1
}

cmd_up() {
  if healthy; then log "already up"; cmd_status; return 0; fi
  [ "$(id -u)" = 0 ] || die "needs root (network namespace, mounts, containerd)"
  install_packages
  phase "packages"
  build_binaries
  phase "Kubernetes binaries"
  if [ -n "$CLUSTER_DNS" ]; then
    build_coredns
    phase "CoreDNS binary"
  fi
  if [ -e "$NS_PATH" ] || [ -d "$PIDS" ] || ip link show "$HOST_DEV" >/dev/null 2>&1; then
    log "cleaning up a previous run"
    teardown
    phase "cleanup of the previous run"
  fi
  mkdir -p "$CONF" "$LOGS" "$PIDS" "$IMAGES"
  for d in "${DATA_DIRS[@]}"; do mkdir -p "$LC_STATE/$d"; done
  chmod 700 "$LC_STATE/etcd"
  build_images pause=./hack/images/pause
  PAUSE_IMAGE=$(sed -n 's/^PAUSE_IMAGE=//p' "$LC_STATE/images.env")
  [ -z "$CLUSTER_DNS" ] || coredns_image
  phase "pause${CLUSTER_DNS:+ and CoreDNS} image${CLUSTER_DNS:+s}"
  make_pki
  write_configs
  phase "PKI and configuration"
  net_up
  phase "network namespace $LC_NETNS"
  start_control_plane
  start_node
  create_volumes
  # Pods are refused until the controller-manager has made their namespace's ServiceAccount.
  wait_until 30 "the default ServiceAccount" kc -n default get serviceaccount default
  phase "$PV_COUNT volumes, ServiceAccounts"
  if [ -n "$CLUSTER_DNS" ]; then
    start_dns
    phase "cluster DNS $CLUSTER_DNS Ready"
  fi
  if [ -f "$ADDONS" ]; then
    bash "$ADDONS" up || die "$ADDONS up failed; the cluster itself is up (hack/local-cluster.sh down stops it)"
    # A CNI add-on recreates the pods started on the bridge, CoreDNS among them.
    [ -z "$CLUSTER_DNS" ] || wait_dns
    phase "add-ons"
  fi
  log "up; export KUBECONFIG=$LC_KUBECONFIG (kubectl: $LC_BIN/kubectl)"
}

cmd_down() {
  teardown
  rmdir "$PIDS" 2>/dev/null || true
  phase "down"
}

cmd_status() {
  local c pid dns total=0
  for c in "${COMPONENTS[@]}"; do
    if pid=$(pid_of "$PIDS/$c.pid"); then
      printf '%-24s running  pid %-7s %5s MiB\n' "$c" "$pid" "$(($(rss_kib "$pid") / 1024))"
    else
      printf '%-24s stopped\n' "$c"
    fi
  done
  for pid in $(cluster_pids); do total=$((total + $(rss_kib "$pid"))); done
  printf '%-24s %s MiB RSS (components, add-ons, shims and pods)\n' memory "$((total / 1024))"
  if [ -e "$NS_PATH" ] && kc get node "$LC_NODE_NAME" >/dev/null 2>&1; then
    printf '%-24s %s\n' "node $LC_NODE_NAME" "Ready=$(kc get node "$LC_NODE_NAME" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')"
    if [ -n "$CLUSTER_DNS" ]; then
      dns=$(kc -n kube-system get deployment coredns -o jsonpath='{.status.readyReplicas}/{.spec.replicas}' 2>/dev/null) &&
        dns="CoreDNS ${dns/#\//0/} ready" || dns="no CoreDNS Deployment"
      printf '%-24s %s\n' "cluster DNS" "$CLUSTER_DNS, $dns"
    fi
  else
    printf '%-24s %s\n' "node $LC_NODE_NAME" "no answer"
  fi
  printf '%-24s %s\n' kubeconfig "$LC_KUBECONFIG"
  [ ! -f "$LC_STATE/images.env" ] || printf '%-24s %s\n' images "$(tr '\n' ' ' <"$LC_STATE/images.env")"
  if [ -f "$ADDONS" ] && [ -e "$NS_PATH" ]; then bash "$ADDONS" status || true; fi
}

rss_kib() { awk '/^VmRSS/ {print $2; found=1} END {if (!found) print 0}' "/proc/$1/status" 2>/dev/null || echo 0; }
cluster_pids() {
  local f
  for f in "$PIDS"/*.pid "$LC_STATE"/addons/*.pid; do pid_of "$f" 2>/dev/null || true; done
  shim_pids
  pod_pids
}

cmd_images() {
  running containerd || die "the cluster is not up (hack/local-cluster.sh up)"
  # TLS to mail, SMS and database servers needs the CA certificates in the images.
  build_images -ca-bundle /etc/ssl/certs/ca-certificates.crt manager=. voting-runtime=./voting-runtime/cmd/voting-runtime
  import_image manager
  import_image voting-runtime
  # the end-to-end tests' network probe (test/e2e/probe)
  build_images probe=./test/e2e/probe
  import_image probe
  # SeaweedFS, the S3-compatible server of the archive test, only where it is built
  # (make e2e-archive builds it: its cold build is too long for every run); without
  # it, images.env names no SEAWEEDFS_IMAGE and the test is skipped.
  local weed
  weed=$("$root/hack/build-seaweedfs.sh" --path)
  if [ -x "$weed" ]; then
    binary_image seaweedfs "$weed"
    import_image seaweedfs
  else
    sed -i '/^SEAWEEDFS_IMAGE=/d' "$LC_STATE/images.env"
  fi
  phase "images built and imported"
  cat "$LC_STATE/images.env"
}

# helm_ ARGS...: helm on the cluster, its caches and configuration under $LC_STATE/helm.
helm_() {
  HELM_CACHE_HOME=$LC_STATE/helm/cache HELM_CONFIG_HOME=$LC_STATE/helm/config HELM_DATA_HOME=$LC_STATE/helm/data \
    "$HELM" --kubeconfig "$LC_KUBECONFIG" "$@"
}

# image_values KEY REF: the chart's values of an image (image, runtimeImage) for REF,
# repository@digest or repository:tag.
image_values() {
  local key=$1 ref=$2
  if [[ $ref == *@* ]]; then
    printf '%s:\n  repository: "%s"\n  digest: "%s"\n' "$key" "${ref%@*}" "${ref#*@}"
  elif [[ ${ref##*/} == *:* ]]; then
    printf '%s:\n  repository: "%s"\n  tag: "%s"\n' "$key" "${ref%:*}" "${ref##*:}"
  else
    die "image $ref has neither a tag nor a digest"
  fi
}

# deploy_helm: what the kustomize path installs, from charts/scrutin: the release scrutin in
# scrutin-system (so the same names), the images of images.env and the same manager flags
# as values (written to deploy-helm/values.yaml). The namespace is made first with
# config/default's labels (Pod Security restricted), as docs/sre-guide.md tells Helm users.
deploy_helm() {
  local dir=$LC_STATE/deploy-helm pairs pair owner
  HELM=$(HELM_VERSION=${HELM_VERSION:-v3.22.0} "$root/hack/build-helm.sh")
  # helm refuses objects it did not make: say so before it fails on the first of them
  owner=$(kc -n scrutin-system get deployment scrutin-manager --ignore-not-found \
    -o jsonpath='{.metadata.name}={.metadata.labels.app\.kubernetes\.io/managed-by}')
  [ -z "$owner" ] || [ "$owner" = scrutin-manager=Helm ] ||
    die "Scrutin is already installed here by kustomize: hack/local-cluster.sh up starts a fresh cluster"
  mkdir -p "$dir"
  {
    echo "# Generated by hack/local-cluster.sh deploy (LC_INSTALL=helm)."
    image_values image "$MANAGER_IMAGE"
    image_values runtimeImage "$VOTING_RUNTIME_IMAGE"
    echo "networkPolicy:"
    echo "  ingressNamespaceLabels:"
    IFS=, read -ra pairs <<<"$LC_INGRESS_LABELS"
    for pair in "${pairs[@]}"; do printf '    "%s": "%s"\n' "${pair%%=*}" "${pair#*=}"; done
    echo "  clientIPHeader: X-Forwarded-For"
    # as the kustomize path: each election's HTTPRoute on the add-on's Gateway, the host
    # (the tests) as the load balancer in front of Traefik
    if [ -f "$LC_STATE/gateway.env" ]; then
      # shellcheck source=/dev/null
      . "$LC_STATE/gateway.env"
      printf '  clientIPTrustedProxies: ["%s/32"]\n' "$LC_HOST_IP"
      printf 'manager:\n  baseDomain: "%s"\n' "$GATEWAY_BASE_DOMAIN"
      printf 'route:\n  gateway: "%s"\n  gatewayListener: "%s"\n' "$GATEWAY" "$GATEWAY_LISTENER"
    fi
  } >"$dir/values.yaml"
  kc apply --server-side -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: scrutin-system
  labels:
    app.kubernetes.io/name: scrutin
    pod-security.kubernetes.io/enforce: restricted
YAML
  # helm creates the CRD at install but never updates it: an upgrade applies it first
  if helm_ -n scrutin-system status scrutin >/dev/null 2>&1; then
    kc apply --server-side --force-conflicts -f "$root/charts/scrutin/crds/" >/dev/null
  fi
  helm_ upgrade --install scrutin "$root/charts/scrutin" -n scrutin-system \
    -f "$dir/values.yaml" --wait --timeout 300s >/dev/null
  kc -n scrutin-system rollout status deployment/scrutin-manager --timeout=180s
  phase "deployed with helm, manager available"
}

cmd_deploy() {
  [[ $LC_INSTALL == kustomize || $LC_INSTALL == helm ]] || die "LC_INSTALL=$LC_INSTALL: kustomize or helm"
  cmd_images
  # shellcheck source=/dev/null
  . "$LC_STATE/images.env"
  [ "$LC_INSTALL" = kustomize ] || { deploy_helm; return; }
  local dir=$LC_STATE/deploy gateway=()
  mkdir -p "$dir"
  # Each election's HTTPRoute on the Gateway of the add-on `gateway`, when it runs.
  if [ -f "$LC_STATE/gateway.env" ]; then
    # shellcheck source=/dev/null
    . "$LC_STATE/gateway.env"
    # The tests on the host play the load balancer in front of Traefik: the runtimes skip
    # the host's entry in X-Forwarded-For, and count each simulated voter's own address.
    gateway=("--gateway=$GATEWAY" "--gateway-listener=$GATEWAY_LISTENER" "--base-domain=$GATEWAY_BASE_DOMAIN"
      "--runtime-client-ip-trusted-proxies=$LC_HOST_IP/32")
  fi
  "$root/hack/overlay.sh" "$dir" "$MANAGER_IMAGE" "$VOTING_RUNTIME_IMAGE" \
    "--ingress-namespace-labels=$LC_INGRESS_LABELS" --runtime-client-ip-header=X-Forwarded-For "${gateway[@]}"
  kc apply --server-side --force-conflicts -k "$dir" >/dev/null
  kc -n scrutin-system rollout status deployment/scrutin-manager --timeout=180s
  phase "deployed, manager available"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  images) cmd_images ;;
  deploy) cmd_deploy ;;
  *) echo "usage: $0 up|down|status|images|deploy" >&2; exit 2 ;;
esac
