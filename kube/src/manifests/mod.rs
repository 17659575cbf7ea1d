//! The `--manifests DIR` source: Kubernetes objects from YAML and JSON files, watched live.

pub(crate) mod decode;
mod parse;
mod watch;

pub use parse::{ParseError, ParsedFile, SkippedObject, parse_manifest};
pub use watch::{ManifestsError, run_manifests_source};
