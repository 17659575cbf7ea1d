//! Manifest files → objects (`portcullis_kube::manifests::parse_manifest`), as the
//! `--manifests DIR` source reads them: any bytes, as YAML and as JSON. The parser must never
//! panic; a file either gives objects that are well-formed as stored, or an error that points
//! at a line of the file.
#![no_main]

use libfuzzer_sys::fuzz_target;
use portcullis_fuzz::{JSON_FILE, YAML_FILE, debug, parse_file, snapshot_of, text_of};
use portcullis_kube::manifests::{ParseError, ParsedFile};
use portcullis_kube::objects::Kind;

fuzz_target!(|data: &[u8]| {
    let text = text_of(data);
    // Lines of the file as an editor counts them: an error may point one past the last
    // newline (the end of the file), never further.
    let lines = text.matches('\n').count() + 1;
    for file in [YAML_FILE, JSON_FILE] {
        let result = parse_file(file, data);
        debug(|| match &result {
            Ok(parsed) => format!(
                "{file}: {} objects, {} skipped",
                parsed.objects.len(),
                parsed.skipped.len()
            ),
            Err(error) => format!("{file}: {error}"),
        });
        match result {
            Ok(parsed) => check_parsed(parsed),
            Err(error) => check_error(file, &error, lines),
        }
    }
});

fn check_parsed(parsed: ParsedFile) {
    for skipped in &parsed.skipped {
        assert!(skipped.line >= 1, "skipped object at line 0: {skipped:?}");
        assert!(
            Kind::from_name(&skipped.kind).is_none(),
            "a kind we read was skipped: {skipped:?}"
        );
    }
    for object in &parsed.objects {
        let key = object.key();
        assert!(!key.name.is_empty(), "object without a name: {key:?}");
        assert_eq!(
            key.namespace.is_empty(),
            !key.kind.is_namespaced(),
            "namespace of {key:?}"
        );
        assert_eq!(Kind::from_name(key.kind.as_str()), Some(key.kind));
        // Slimming keeps the identity.
        assert_eq!(object.clone().slimmed().key(), key);
    }
    // What the commands read: the store's merged view.
    let count = parsed.objects.len();
    let snapshot = snapshot_of(parsed);
    let stored = snapshot.ingress_classes.len()
        + snapshot.ingresses.len()
        + snapshot.services.len()
        + snapshot.endpoint_slices.len()
        + snapshot.endpoints.len()
        + snapshot.secrets.len()
        + snapshot.nodes.len()
        + snapshot.pods.len()
        + snapshot.namespaces.len()
        + snapshot.network_policies.len();
    assert!(stored <= count, "{stored} stored from {count} objects");
}

fn check_error(file: &str, error: &ParseError, lines: usize) {
    assert_eq!(error.file, file);
    assert!(
        (1..=lines).contains(&error.line),
        "error at line {} of a {lines}-line file: {error}",
        error.line
    );
    assert!(
        !error.message.is_empty(),
        "error without a message: {error:?}"
    );
    let _ = error.to_string();
}
