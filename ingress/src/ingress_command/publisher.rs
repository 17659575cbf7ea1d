//! The reconciler's [`Publisher`], from the flags: where tables, certificates, status and
//! Events go, and what happens after each publish.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use portcullis_allocator::FreeMemoryReleaser;
use portcullis_proxy::admin::Readiness;

use super::Serving;
use super::api_writers::ApiWriters;
use crate::args::IngressArgs;
use portcullis_gateway::GatewayConfig;
use rustls::sign::CertifiedKey;
use tokio::sync::watch;

use crate::reconcile::{
    CertificateTarget, GatewayPort, GatewayStatusTarget, GatewayTarget, Publisher,
};
use crate::translate::{ClassIdentity, TlsConfig, TranslateConfig};

/// The publisher into `serving`, translating as the flags say.
pub(super) fn build_publisher(
    args: &IngressArgs,
    serving: &Serving,
    writers: ApiWriters,
    certificates: Option<CertificateTarget>,
    gateway: Option<GatewayTarget>,
) -> Publisher {
    Publisher {
        live: Arc::clone(&serving.table),
        metrics: Arc::clone(&serving.metrics),
        config: translate_config(args),
        on_publish: on_publish(Arc::clone(&serving.readiness)),
        status: writers.status,
        events: writers.events,
        certificates,
        gateway,
    }
}

/// The Gateway API side: our controller name, the ports the Ingress and admin listeners hold,
/// the supervisor's inbox, and the certificate of names no listener certificate covers.
pub(super) fn gateway_target(
    args: &IngressArgs,
    ports: watch::Sender<Vec<GatewayPort>>,
    fallback: Arc<CertifiedKey>,
    status: Option<GatewayStatusTarget>,
) -> GatewayTarget {
    let mut reserved = vec![args.http_addr.port(), args.admin_addr.port()];
    reserved.extend(args.https_addr.map(|a| a.port()));
    GatewayTarget {
        config: GatewayConfig {
            controller_name: args.gateway_controller_name.clone(),
            reserved_ports: reserved,
        },
        ports,
        fallback,
        status,
    }
}

/// `--ingress-class`, `--controller-name`, `--default-backend-service`, and TLS with
/// `--https-addr`.
fn translate_config(args: &IngressArgs) -> TranslateConfig {
    TranslateConfig {
        class: ClassIdentity {
            ingress_class: args.ingress_class.clone(),
            controller_name: args.controller_name.clone(),
        },
        default_backend_service: args.default_backend_service.clone(),
        default_body_size: args.default_body_size(),
        tls: args.https_addr.map(|_| TlsConfig {
            default_certificate: args.default_ssl_certificate.clone(),
        }),
    }
}

/// After a publish: the process is ready, and the allocator hands free pages back.
fn on_publish(readiness: Arc<Readiness>) -> Box<dyn Fn() + Send> {
    // A publish ends a burst of allocation (a first table, a re-list): hand the garbage's
    // pages back to the OS instead of keeping them until threads wake up.
    let releaser = Mutex::new(FreeMemoryReleaser::new(Duration::from_secs(1)));
    Box::new(move || {
        readiness.set_ready();
        if let Ok(mut releaser) = releaser.lock() {
            releaser.after_burst();
        }
    })
}
