//! The translation as stable, reviewable text: the format of the golden files.

use std::fmt;

use crate::{Condition, GatewayTranslation, Protocol};

fn condition(f: &mut fmt::Formatter<'_>, name: &str, c: &Condition) -> fmt::Result {
    write!(
        f,
        " {name}={}({})",
        if c.status { "True" } else { "False" },
        c.reason
    )
}

impl fmt::Display for GatewayTranslation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for port in &self.ports {
            let protocol = match port.protocol {
                Protocol::Http => "HTTP",
                Protocol::Https => "HTTPS",
                Protocol::TlsPassthrough => "TLS Passthrough",
            };
            writeln!(f, "port {} {protocol}", port.port)?;
            for line in port.table.to_string().lines() {
                writeln!(f, "  {line}")?;
            }
            if let Some(tls) = &port.tls {
                for line in tls.to_string().lines() {
                    writeln!(f, "  {line}")?;
                }
            }
        }
        for class in &self.status.classes {
            write!(f, "status GatewayClass {}", class.name)?;
            condition(f, "Accepted", &class.accepted)?;
            writeln!(f)?;
        }
        for gateway in &self.status.gateways {
            write!(f, "status {}", gateway.gateway)?;
            condition(f, "Accepted", &gateway.accepted)?;
            condition(f, "Programmed", &gateway.programmed)?;
            writeln!(f)?;
            for listener in &gateway.listeners {
                write!(
                    f,
                    "  listener {} routes={} kinds={:?}",
                    listener.name, listener.attached_routes, listener.supported_kinds
                )?;
                condition(f, "Accepted", &listener.accepted)?;
                condition(f, "ResolvedRefs", &listener.resolved_refs)?;
                condition(f, "Programmed", &listener.programmed)?;
                condition(f, "Conflicted", &listener.conflicted)?;
                writeln!(f)?;
            }
        }
        for route in &self.status.routes {
            writeln!(f, "status {}", route.route)?;
            for parent in &route.parents {
                let p = &parent.parent;
                write!(f, "  parent {}/{}", p.namespace, p.name)?;
                if let Some(section) = &p.section_name {
                    write!(f, " section {section}")?;
                }
                if let Some(port) = p.port {
                    write!(f, " port {port}")?;
                }
                condition(f, "Accepted", &parent.accepted)?;
                condition(f, "ResolvedRefs", &parent.resolved_refs)?;
                writeln!(f)?;
            }
        }
        for policy in &self.status.policies {
            write!(f, "status {}", policy.policy)?;
            condition(f, "Accepted", &policy.accepted)?;
            condition(f, "ResolvedRefs", &policy.resolved_refs)?;
            writeln!(f, " ancestors {:?}", policy.ancestors)?;
        }
        for diagnostic in &self.diagnostics {
            writeln!(f, "{:?}: {diagnostic}", diagnostic.severity)?;
        }
        Ok(())
    }
}
