//! Addresses for test pods: the API server refuses loopback addresses in EndpointSlices, so
//! backends that a real EndpointSlice controller lists must listen elsewhere. A network
//! namespace joined to the host by a veth pair holds them, on a /24 of 198.18.0.0/15 (the
//! range kept for network tests, RFC 2544) chosen by this process's PID; the host reaches them
//! through the veth, and nothing leaves the machine.

use std::net::{IpAddr, Ipv4Addr};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use crate::ingress_process::{TestBackend, serve_backend};
use crate::netns::{Netns, unique};

/// The pods' namespace and the next free address in it.
pub struct PodNetwork {
    netns: Netns,
    device: String,
    subnet: [u8; 3],
    next: AtomicU8,
    /// Waits for the process to end; never waited for itself.
    _watchdog: std::process::Child,
}

impl PodNetwork {
    /// The test binary's pod network, made on first use and removed when the process ends.
    pub fn shared() -> &'static PodNetwork {
        static SHARED: OnceLock<PodNetwork> = OnceLock::new();
        SHARED.get_or_init(PodNetwork::new)
    }

    fn new() -> PodNetwork {
        let netns = Netns::new();
        let pid = std::process::id();
        // Two /16s of /24s; the host side is .1, the namespace's own .2, pods from .3.
        let subnet = [198, 18 + ((pid >> 8) & 1) as u8, (pid & 0xff) as u8];
        let host = unique("pch");
        let peer = unique("pcp");
        let [a, b, c] = subnet;
        let ip = |args: &[&str]| {
            let status = Command::new("ip").args(args).status().expect("run ip");
            assert!(status.success(), "ip {}", args.join(" "));
        };
        ip(&["link", "add", &host, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "netns", netns.name()]);
        ip(&["addr", "add", &format!("{a}.{b}.{c}.1/24"), "dev", &host]);
        ip(&["link", "set", &host, "up"]);
        netns.ip(&format!("addr add {a}.{b}.{c}.2/24 dev {peer}"));
        netns.ip(&format!("link set {peer} up"));
        netns.ip("link set lo up");
        netns.ip(&format!("route add default via {a}.{b}.{c}.1"));
        // Whatever happens to this process, the namespace (and with it the veth pair) goes.
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; ip netns del {}",
            netns.name()
        );
        let watchdog = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the pod network's watchdog");
        PodNetwork {
            netns,
            device: peer,
            subnet,
            next: AtomicU8::new(3),
            _watchdog: watchdog,
        }
    }

    /// A new pod address, configured in the namespace.
    pub fn address(&self) -> IpAddr {
        let host = self.next.fetch_add(1, Ordering::Relaxed);
        assert!(host < 255, "out of pod addresses");
        let [a, b, c] = self.subnet;
        let address = Ipv4Addr::new(a, b, c, host);
        self.netns
            .ip(&format!("addr add {address}/24 dev {}", self.device));
        IpAddr::V4(address)
    }

    /// A backend (see [`TestBackend`]) named `name` on a new pod address.
    pub async fn backend(&self, name: &'static str) -> TestBackend {
        self.backend_on_port(name, 0).await
    }

    /// A backend named `name` on a new pod address and `port` (0: any), as the pods of one
    /// Deployment listen on one port.
    pub async fn backend_on_port(&self, name: &'static str, port: u16) -> TestBackend {
        let address = self.address();
        let listener = self.netns.run(move || {
            let listener =
                std::net::TcpListener::bind((address, port)).expect("bind in the pod network");
            listener.set_nonblocking(true).expect("non-blocking");
            listener
        });
        let listener = tokio::net::TcpListener::from_std(listener).expect("tokio listener");
        serve_backend(listener, name)
    }
}
