use std::sync::{Arc, Barrier};

use super::*;

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn records_use_host_local_layout() {
    let data = tempfile::tempdir().unwrap();
    let store = DiskStore::open(data.path(), "pods").unwrap();
    let mut locked = store.lock().unwrap();
    assert!(locked.reserve(ip("10.0.0.2"), "abc", "eth0", 0).unwrap());
    assert!(
        !locked.reserve(ip("10.0.0.2"), "def", "eth0", 0).unwrap(),
        "taken"
    );
    let dir = data.path().join("pods");
    assert_eq!(
        fs::read_to_string(dir.join("10.0.0.2")).unwrap(),
        "abc\r\neth0"
    );
    assert_eq!(
        fs::read_to_string(dir.join("last_reserved_ip.0")).unwrap(),
        "10.0.0.2"
    );
    assert_eq!(locked.last_reserved(0).unwrap(), Some(ip("10.0.0.2")));
    assert_eq!(locked.last_reserved(1).unwrap(), None);
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".tmp"))
        .collect();
    assert!(names.is_empty(), "temporary files left: {names:?}");
}

#[test]
fn release_frees_only_that_attachment_and_is_idempotent() {
    let data = tempfile::tempdir().unwrap();
    let store = DiskStore::open(data.path(), "pods").unwrap();
    let mut locked = store.lock().unwrap();
    locked.reserve(ip("10.0.0.2"), "abc", "eth0", 0).unwrap();
    locked.reserve(ip("fd00::2"), "abc", "eth0", 1).unwrap();
    locked.reserve(ip("10.0.0.3"), "abc", "net1", 0).unwrap();
    locked.reserve(ip("10.0.0.4"), "def", "eth0", 0).unwrap();
    // A record from an old host-local, without the interface.
    fs::write(data.path().join("pods/10.0.0.5"), "abc").unwrap();
    let mut released = locked.release("abc", "eth0").unwrap();
    released.sort();
    assert_eq!(released, [ip("10.0.0.2"), ip("10.0.0.5"), ip("fd00::2")]);
    assert!(locked.release("abc", "eth0").unwrap().is_empty());
    let left: Vec<IpAddr> = locked.attachments().unwrap().iter().map(|a| a.ip).collect();
    assert_eq!(left, [ip("10.0.0.3"), ip("10.0.0.4")]);
}

#[test]
fn the_lock_serializes_threads_and_no_address_is_handed_out_twice() {
    // 16 threads each take the lock, look for the first free address among 32 and take it.
    let data = tempfile::tempdir().unwrap();
    let start = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|t| {
            let path = data.path().to_path_buf();
            let start = Arc::clone(&start);
            std::thread::spawn(move || {
                let store = DiskStore::open(&path, "pods").unwrap();
                start.wait();
                let mut locked = store.lock().unwrap();
                let taken: Vec<IpAddr> =
                    locked.attachments().unwrap().iter().map(|a| a.ip).collect();
                let free = (2..34)
                    .map(|n| IpAddr::from([10, 0, 0, n]))
                    .find(|candidate| !taken.contains(candidate))
                    .unwrap();
                // Without the lock two threads could both see `free` as free; the reserve
                // would then fail for one, which this test counts as a failure.
                assert!(locked.reserve(free, &format!("c{t}"), "eth0", 0).unwrap());
                free
            })
        })
        .collect();
    let mut got: Vec<IpAddr> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    got.sort();
    got.dedup();
    assert_eq!(got.len(), 16);
}
