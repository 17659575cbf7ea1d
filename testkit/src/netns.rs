//! Network namespaces for tests and benches: created with a unique name, deleted on drop,
//! with `ip` run inside and work run on a thread that entered them. Needs root.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use nix::sched::{CloneFlags, setns};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A name unique to this test process and call, short enough for an interface.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// A network namespace with a unique name, deleted on drop.
pub struct Netns(String);

impl Netns {
    /// Creates the namespace.
    #[allow(clippy::new_without_default)] // Making a namespace is a side effect, not a default.
    pub fn new() -> Netns {
        let name = unique("pcn");
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .unwrap();
        assert!(status.success(), "ip netns add {name}");
        Netns(name)
    }

    /// Its name, for `ip netns exec` and `netns` arguments.
    pub fn name(&self) -> &str {
        &self.0
    }

    /// Its path, as `CNI_NETNS` gives it.
    pub fn path(&self) -> PathBuf {
        PathBuf::from(format!("/var/run/netns/{}", self.0))
    }

    /// Runs `ip ARGS` inside the namespace; returns stdout without trailing blanks per line.
    pub fn ip(&self, args: &str) -> String {
        let args: Vec<&str> = args.split_whitespace().collect();
        self.exec("ip", &args)
            .lines()
            .map(str::trim_end)
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs `program ARGS` inside the namespace (`ip netns exec`), which must succeed; its
    /// stdout.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.0, program])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).to_string()
    }

    /// Runs `job` on a thread inside this namespace and waits for it.
    pub fn run<T: Send>(&self, job: impl FnOnce() -> T + Send) -> T {
        let file = std::fs::File::open(self.path()).unwrap();
        std::thread::scope(|s| {
            s.spawn(move || {
                setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
                job()
            })
            .join()
            .unwrap()
        })
    }

    /// Starts `job` on a thread inside this namespace.
    pub fn spawn<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> JoinHandle<T> {
        let file = std::fs::File::open(self.path()).unwrap();
        std::thread::spawn(move || {
            setns(&file, CloneFlags::CLONE_NEWNET).unwrap();
            job()
        })
    }

    /// Listens on `port` inside the namespace (returning once it listens), echoes one
    /// connection's greeting, and yields the peer address it saw.
    pub fn accept_one(&self, port: u16) -> JoinHandle<IpAddr> {
        let (ready, wait) = std::sync::mpsc::channel();
        let handle = self.spawn(move || {
            let listener = TcpListener::bind(("0.0.0.0", port)).unwrap();
            ready.send(()).unwrap();
            let (mut stream, peer) = listener.accept().unwrap();
            let mut buffer = [0; 5];
            stream.read_exact(&mut buffer).unwrap();
            stream.write_all(&buffer).unwrap();
            peer.ip()
        });
        wait.recv().unwrap();
        handle
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

/// Connects to `to:port` from the calling thread's namespace and checks the echo of a greeting.
pub fn echo(to: IpAddr, port: u16) {
    let mut stream =
        TcpStream::connect_timeout(&SocketAddr::new(to, port), Duration::from_secs(3)).unwrap();
    stream.write_all(b"hello").unwrap();
    let mut back = [0; 5];
    stream.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"hello");
}
