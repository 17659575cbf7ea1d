//! What the fuzz targets share: reading fuzz bytes the way the manifests source reads a file.

use std::borrow::Cow;

use portcullis_kube::manifests::{ParseError, ParsedFile, parse_manifest};
use portcullis_kube::store::{Snapshot, SourceId, Store, StoreEvent};

/// The file name the targets parse under: YAML, as most manifest folders hold.
pub const YAML_FILE: &str = "fuzz.yaml";

/// The same bytes as a `.json` file.
pub const JSON_FILE: &str = "fuzz.json";

/// File bytes as text, the way the manifests source reads them (`watch.rs`): invalid UTF-8
/// becomes U+FFFD rather than an error.
pub fn text_of(data: &[u8]) -> Cow<'_, str> {
    String::from_utf8_lossy(data)
}

/// Parses `data` as a manifest file named `file`, as the manifests source does.
pub fn parse_file(file: &str, data: &[u8]) -> Result<ParsedFile, ParseError> {
    parse_manifest(file, &text_of(data))
}

/// The snapshot the commands read after a source delivered `parsed`: through the store, so
/// objects are slimmed and merged as in production.
pub fn snapshot_of(parsed: ParsedFile) -> Snapshot {
    let mut store = Store::default();
    store.apply(StoreEvent::Replace {
        source: SourceId(YAML_FILE.into()),
        objects: parsed.objects,
    });
    store.apply(StoreEvent::Synced);
    store.snapshot().0.clone()
}

/// With `PORTCULLIS_FUZZ_DEBUG` set, prints what a target made of its input (for checking
/// that a new seed reaches the code it was written for); otherwise does nothing.
pub fn debug(describe: impl FnOnce() -> String) {
    static ON: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *ON.get_or_init(|| std::env::var_os("PORTCULLIS_FUZZ_DEBUG").is_some()) {
        eprintln!("{}", describe());
    }
}
