# The local cluster's Gateway: the add-on `gateway` of hack/local-cluster/addons.sh, which
# sources this file (it runs nothing by itself). Traefik v3 (bin/addons/traefik, built by
# hack/build-addons.sh from the Go module proxy) serves the Gateway API as a pod, so that the
# election namespaces' NetworkPolicies, which admit the Gateway's namespace to the voters'
# port, apply to it as to any ingress.
#
# `up` (about 30 s once the binary is built):
#   - the Gateway API CRDs of the standard channel, from the module version the root go.mod
#     requires (sigs.k8s.io/gateway-api, the one the manager and envtest use);
#   - a CA of its own (openssl, EC P-256; kept while the state dir lives) and the listener's
#     wildcard certificate for *.$LC_BASE_DOMAIN signed by it, as the TLS Secret
#     scrutin-gateway/voters-tls;
#   - the image of the binary (hack/images -binary, imported into containerd: nothing pulled);
#   - the namespace scrutin-gateway (labelled $LC_INGRESS_LABELS), Traefik's ServiceAccount
#     and RBAC, its Deployment and the Service traefik (ClusterIP, port 443 to the entry point
#     websecure on 8443: the pod runs as a non-root user);
#   - the GatewayClass traefik and the Gateway scrutin-gateway/voters, with the HTTPS listener
#     websecure on *.$LC_BASE_DOMAIN; waits until the Gateway is Programmed;
#   - $LC_STATE/gateway.env for the tests and the demo: GATEWAY_ADDRESS (Traefik's pod
#     IP:8443, which the host reaches over the cluster's routes with its own address, so that
#     Traefik sees the host; a recreated pod has another: run `up` again), GATEWAY_CA and
#     GATEWAY_CA_KEY (the CA's certificate and key), GATEWAY_BASE_DOMAIN, GATEWAY
#     (namespace/name) and GATEWAY_LISTENER.
#
# A wildcard covers one label, and an election's host has two under the base domain
# (<election>.<tenant>): as a platform would, the tests and the demo give each tenant a
# listener for *.<tenant>.$LC_BASE_DOMAIN with a certificate of the same CA
# (internal/localcluster.Gateway.AddTenant); routes attach to the listener websecure, and
# Traefik picks the certificate by the host the client names. (Traefik v3.6 reads only the
# first certificateRef of a listener, hence a listener per tenant.)
# `down` removes gateway.env; the objects go with the cluster.
#
# Traefik trusts the X-Forwarded-For of the host only ($LC_HOST_IP, where the tests play the
# load balancer in front of the Gateway and declare each simulated voter's address); from
# anyone else it replaces the header with the connection's address. It never calls home
# (--global.checkNewVersion=false, --global.sendAnonymousUsage=false).

GATEWAY_NS=scrutin-gateway
GATEWAY_NAME=voters
GATEWAY_LISTENER=websecure

addons_gateway_up() {
  local t0 d bin image crds
  t0=$(addons_now)
  addons_need_bins traefik
  d=$S/gateway
  mkdir -p "$d"
  bin=$(readlink -f "$ADDONS_BIN/traefik")

  crds=$(cd "$ADDONS_ROOT" && go list -m -f '{{.Dir}}' sigs.k8s.io/gateway-api)/config/crd/standard
  addons_kc apply --server-side --force-conflicts -f "$crds" >/dev/null
  # (the directory also holds a ValidatingAdmissionPolicy, which has no Established)
  local f names=()
  for f in "$crds"/gateway.networking.k8s.io_*.yaml; do
    f=$(basename "$f" .yaml)
    [[ "$f" == *_vap_* ]] || names+=("crd/${f#gateway.networking.k8s.io_}.gateway.networking.k8s.io")
  done
  addons_kc wait --for=condition=Established --timeout=120s "${names[@]}" >/dev/null
  addons_log "Gateway API CRDs established ($(addons_since "$t0"))"

  gateway_cert "$d"
  image=$(gateway_image "$bin" "$d")

  local k v
  k=${LC_INGRESS_LABELS%%=*} v=${LC_INGRESS_LABELS#*=}
  addons_kc apply --server-side --force-conflicts -f - >/dev/null <<EOF
apiVersion: v1
kind: Namespace
metadata:
  name: $GATEWAY_NS
  labels: {"$k": "$v", pod-security.kubernetes.io/enforce: restricted}
---
apiVersion: v1
kind: Secret
metadata: {name: voters-tls, namespace: $GATEWAY_NS}
type: kubernetes.io/tls
data:
  tls.crt: $(base64 -w0 <"$d/tls.crt")
  tls.key: $(base64 -w0 <"$d/tls.key")
---
apiVersion: v1
kind: ServiceAccount
metadata: {name: traefik, namespace: $GATEWAY_NS}
---
# What Traefik's kubernetesGateway and kubernetesIngress providers read and write (as in
# Traefik's own RBAC for them).
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: scrutin-gateway-traefik}
rules:
- apiGroups: [""]
  resources: [namespaces, services, secrets, configmaps, nodes]
  verbs: [get, list, watch]
- apiGroups: [discovery.k8s.io]
  resources: [endpointslices]
  verbs: [list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses, ingressclasses]
  verbs: [get, list, watch]
- apiGroups: [networking.k8s.io]
  resources: [ingresses/status]
  verbs: [update]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses, gateways, httproutes, grpcroutes, referencegrants, backendtlspolicies, tcproutes, tlsroutes]
  verbs: [get, list, watch]
- apiGroups: [gateway.networking.k8s.io]
  resources: [gatewayclasses/status, gateways/status, httproutes/status, grpcroutes/status, backendtlspolicies/status, tcproutes/status, tlsroutes/status]
  verbs: [update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: scrutin-gateway-traefik}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: scrutin-gateway-traefik}
subjects:
- {kind: ServiceAccount, name: traefik, namespace: $GATEWAY_NS}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: traefik, namespace: $GATEWAY_NS, labels: {app.kubernetes.io/name: traefik}}
spec:
  replicas: 1
  selector: {matchLabels: {app.kubernetes.io/name: traefik}}
  template:
    metadata: {labels: {app.kubernetes.io/name: traefik}}
    spec:
      serviceAccountName: traefik
      securityContext:
        runAsNonRoot: true
        seccompProfile: {type: RuntimeDefault}
      containers:
      - name: traefik
        image: $image
        imagePullPolicy: IfNotPresent
        args:
        - --global.checkNewVersion=false
        - --global.sendAnonymousUsage=false
        - --log.level=INFO
        - --accessLog=true
        - --ping=true
        - --entryPoints.traefik.address=:8080
        - --entryPoints.$GATEWAY_LISTENER.address=:8443
        - --entryPoints.$GATEWAY_LISTENER.forwardedHeaders.trustedIPs=$LC_HOST_IP/32
        - --providers.kubernetesGateway=true
        - --providers.kubernetesIngress=true
        ports:
        - {name: $GATEWAY_LISTENER, containerPort: 8443, protocol: TCP}
        - {name: traefik, containerPort: 8080, protocol: TCP}
        resources:
          requests: {cpu: 50m, memory: 64Mi}
          limits: {memory: 256Mi}
        securityContext:
          allowPrivilegeEscalation: false
          readOnlyRootFilesystem: true
          capabilities: {drop: [ALL]}
        readinessProbe:
          httpGet: {path: /ping, port: 8080}
          periodSeconds: 2
        livenessProbe:
          httpGet: {path: /ping, port: 8080}
          initialDelaySeconds: 20
          periodSeconds: 10
          failureThreshold: 6
---
apiVersion: v1
kind: Service
metadata: {name: traefik, namespace: $GATEWAY_NS, labels: {app.kubernetes.io/name: traefik}}
spec:
  selector: {app.kubernetes.io/name: traefik}
  ports:
  - {name: https, port: 443, targetPort: 8443, protocol: TCP}
---
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: traefik}
spec:
  controllerName: traefik.io/gateway-controller
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: $GATEWAY_NAME, namespace: $GATEWAY_NS}
spec:
  gatewayClassName: traefik
  listeners:
  - name: $GATEWAY_LISTENER
    protocol: HTTPS
    port: 8443
    hostname: "*.$LC_BASE_DOMAIN"
    tls:
      mode: Terminate
      certificateRefs: [{kind: Secret, name: voters-tls}]
    allowedRoutes:
      namespaces: {from: All}
      kinds: [{kind: HTTPRoute}]
EOF
  # Ready in seconds on an idle machine; a machine busy with builds takes much longer.
  if ! addons_kc -n "$GATEWAY_NS" rollout status deployment/traefik --timeout=300s >/dev/null; then
    addons_kc -n "$GATEWAY_NS" describe pods -l app.kubernetes.io/name=traefik | tail -20 >&2
    addons_kc -n "$GATEWAY_NS" logs deployment/traefik --tail=30 >&2 || true
    echo "Traefik not Ready after 300s" >&2
    return 1
  fi
  if ! addons_kc -n "$GATEWAY_NS" wait --for=condition=Programmed --timeout=300s "gateway/$GATEWAY_NAME" >/dev/null; then
    addons_kc -n "$GATEWAY_NS" get gateway "$GATEWAY_NAME" -o jsonpath='{.status}{"\n"}' >&2 || true
    addons_kc -n "$GATEWAY_NS" logs deployment/traefik --tail=30 >&2 || true
    echo "Gateway $GATEWAY_NS/$GATEWAY_NAME not Programmed after 300s" >&2
    return 1
  fi
  # The pod's address, not the Service's: kube-proxy masquerades what comes from outside
  # the pod network to a ClusterIP, and Traefik would then see the node, not the host.
  local ip
  ip=$(addons_kc -n "$GATEWAY_NS" get pods -l app.kubernetes.io/name=traefik --field-selector=status.phase=Running \
    -o jsonpath='{.items[0].status.podIP}')
  [ -n "$ip" ] || { echo "no address for Traefik's pod" >&2; return 1; }
  cat >"$LC_STATE/gateway.env" <<EOF
GATEWAY=$GATEWAY_NS/$GATEWAY_NAME
GATEWAY_LISTENER=$GATEWAY_LISTENER
GATEWAY_BASE_DOMAIN=$LC_BASE_DOMAIN
GATEWAY_ADDRESS=$ip:8443
GATEWAY_CA=$d/ca.crt
GATEWAY_CA_KEY=$d/ca.key
EOF
  addons_log "gateway $GATEWAY_NS/$GATEWAY_NAME Programmed at $ip:8443 for *.$LC_BASE_DOMAIN (CA $d/ca.crt) in $(addons_since "$t0")"
}

# gateway_cert DIR: the CA (kept across runs of `up` on the same state dir) and the
# listener's certificate, ECDSA P-256, valid for *.$LC_BASE_DOMAIN.
gateway_cert() {
  local d=$1
  if [ ! -s "$d/ca.crt" ] || [ ! -s "$d/ca.key" ]; then
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 365 \
      -subj "/CN=scrutin local cluster gateway CA" -keyout "$d/ca.key" -out "$d/ca.crt" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
  fi
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj "/CN=*.$LC_BASE_DOMAIN" -keyout "$d/tls.key" -out "$d/tls.csr" 2>/dev/null
  openssl x509 -req -in "$d/tls.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" -CAcreateserial -days 90 -out "$d/tls.crt" \
    -extfile <(printf 'subjectAltName=DNS:*.%s,DNS:%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\nbasicConstraints=critical,CA:FALSE\n' \
      "$LC_BASE_DOMAIN" "$LC_BASE_DOMAIN") 2>/dev/null
  rm -f "$d/tls.csr"
}

# gateway_image BIN DIR: imports the image of the Traefik binary into containerd and prints
# its reference (made again only for another binary).
gateway_image() {
  local bin=$1 d=$2 sum ref
  sum=$(sha256sum "$bin" | cut -d' ' -f1)
  if [ -f "$d/images/traefik.tar" ] && [ "$(cat "$d/images/traefik.sha256" 2>/dev/null)" = "$sum" ] && [ -s "$d/images/traefik.ref" ]; then
    ref=$(cat "$d/images/traefik.ref")
  else
    mkdir -p "$d/images"
    ref=$(cd "$ADDONS_ROOT" && go run ./hack/images -out "$d/images" -binary "traefik=$bin" | sed -n 's/^traefik=//p')
    echo "$sum" >"$d/images/traefik.sha256"
    echo "$ref" >"$d/images/traefik.ref"
  fi
  ctr --address "$LC_CONTAINERD_SOCK" -n k8s.io images import "$d/images/traefik.tar" >/dev/null
  echo "$ref"
}

addons_gateway_down() {
  rm -f "$LC_STATE/gateway.env"
}
