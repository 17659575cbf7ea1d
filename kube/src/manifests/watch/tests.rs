use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use super::*;

fn service(name: &str) -> String {
    format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\n")
}

async fn next(events: &mut UnboundedReceiver<StoreEvent>) -> StoreEvent {
    tokio::time::timeout(Duration::from_secs(5), events.recv())
        .await
        .expect("an event within 5 s")
        .expect("source still running")
}

/// The file name and object names of a Replace event.
fn replaced(event: StoreEvent) -> (String, Vec<String>) {
    match event {
        StoreEvent::Replace { source, objects } => {
            let file = Path::new(&*source.0)
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_string();
            (file, objects.iter().map(|o| o.key().name).collect())
        }
        other => panic!("expected Replace, got {other:?}"),
    }
}

fn start(dir: &Path) -> UnboundedReceiver<StoreEvent> {
    let (sender, receiver) = mpsc::unbounded_channel();
    tokio::spawn(run_manifests_source(dir.to_path_buf(), sender));
    receiver
}

#[tokio::test]
async fn reports_every_file_then_synced_then_changes() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.yaml"), service("a")).expect("write");
    std::fs::write(dir.path().join("b.yml"), service("b")).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not a manifest").expect("write");
    std::fs::write(dir.path().join(".hidden.yaml"), service("hidden")).expect("write");
    let mut events = start(dir.path());

    assert_eq!(
        replaced(next(&mut events).await),
        ("a.yaml".into(), vec!["a".into()])
    );
    assert_eq!(
        replaced(next(&mut events).await),
        ("b.yml".into(), vec!["b".into()])
    );
    assert!(matches!(next(&mut events).await, StoreEvent::Synced));

    // Added.
    std::fs::write(
        dir.path().join("c.json"),
        r#"{"apiVersion":"v1","kind":"Service","metadata":{"name":"c"}}"#,
    )
    .expect("write");
    assert_eq!(
        replaced(next(&mut events).await),
        ("c.json".into(), vec!["c".into()])
    );
    // Changed in place.
    std::fs::write(dir.path().join("a.yaml"), service("a2")).expect("write");
    assert_eq!(
        replaced(next(&mut events).await),
        ("a.yaml".into(), vec!["a2".into()])
    );
    // Renamed over.
    std::fs::write(dir.path().join("b.tmp"), service("b2")).expect("write");
    std::fs::rename(dir.path().join("b.tmp"), dir.path().join("b.yml")).expect("rename");
    assert_eq!(
        replaced(next(&mut events).await),
        ("b.yml".into(), vec!["b2".into()])
    );
    // Removed.
    std::fs::remove_file(dir.path().join("c.json")).expect("remove");
    assert_eq!(replaced(next(&mut events).await), ("c.json".into(), vec![]));
}

#[tokio::test]
async fn a_broken_edit_sends_nothing_and_the_fix_is_picked_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("a.yaml");
    std::fs::write(&file, service("a")).expect("write");
    let mut events = start(dir.path());
    assert_eq!(replaced(next(&mut events).await).1, vec!["a".to_string()]);
    assert!(matches!(next(&mut events).await, StoreEvent::Synced));

    std::fs::write(&file, "apiVersion: v1\nkind: Service\nmetadata: {name: [\n").expect("write");
    let quiet = tokio::time::timeout(Duration::from_millis(600), events.recv()).await;
    assert!(
        quiet.is_err(),
        "a broken file must not send an event: {quiet:?}"
    );

    std::fs::write(&file, service("fixed")).expect("write");
    assert_eq!(
        replaced(next(&mut events).await).1,
        vec!["fixed".to_string()]
    );
}

#[tokio::test]
async fn a_file_broken_from_the_start_does_not_block_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("bad.yaml"), "kind: [").expect("write");
    std::fs::write(dir.path().join("good.yaml"), service("g")).expect("write");
    let mut events = start(dir.path());
    assert_eq!(replaced(next(&mut events).await).0, "good.yaml");
    assert!(matches!(next(&mut events).await, StoreEvent::Synced));
}

#[tokio::test]
async fn a_missing_folder_is_an_error_up_front() {
    let (sender, _receiver) = mpsc::unbounded_channel();
    let error = run_manifests_source(PathBuf::from("/nonexistent/portcullis"), sender)
        .await
        .expect_err("missing folder");
    assert!(
        error
            .to_string()
            .contains("--manifests /nonexistent/portcullis"),
        "{error}"
    );

    let file = tempfile::NamedTempFile::new().expect("temp file");
    let (sender, _receiver) = mpsc::unbounded_channel();
    let error = run_manifests_source(file.path().to_path_buf(), sender)
        .await
        .expect_err("not a folder");
    assert!(error.to_string().contains("not a directory"), "{error}");
}

#[test]
fn only_events_that_can_change_contents_wake_a_scan() {
    use notify::event::{AccessKind, AccessMode, CreateKind, ModifyKind, RemoveKind, RenameMode};
    use notify::{Event, EventKind};
    let cases = [
        (EventKind::Access(AccessKind::Open(AccessMode::Any)), false),
        (
            EventKind::Access(AccessKind::Close(AccessMode::Read)),
            false,
        ),
        (EventKind::Create(CreateKind::File), true),
        (EventKind::Modify(ModifyKind::Any), true),
        (EventKind::Modify(ModifyKind::Name(RenameMode::To)), true),
        (EventKind::Remove(RemoveKind::File), true),
        (EventKind::Any, true),
    ];
    for (kind, wakes) in cases {
        assert_eq!(changes_contents(&Event::new(kind)), wakes, "{kind:?}");
    }
}
