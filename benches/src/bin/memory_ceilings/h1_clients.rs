//! Many plain HTTP/1.1 client connections held open at once, each following one [`Script`]:
//! send nothing, send one keep-alive request, or write a request head that never ends. Each
//! records what it saw ([`Seen`]) until the load is closed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout};

use crate::seen::{End, Seen, status_of};

/// What a connection does once connected.
#[derive(Debug, Clone)]
pub enum Script {
    /// Sends nothing.
    Nothing,
    /// Sends one keep-alive `GET /` and reads its answer.
    OneRequest,
    /// Writes this request head, which never ends, [`CHUNK`] bytes every [`PACE`], as far as
    /// the kernel takes it.
    EndlessHead(Bytes),
}

/// The keep-alive request of [`Script::OneRequest`].
const REQUEST: &[u8] = b"GET / HTTP/1.1\r\nHost: bench.example\r\n\r\n";

/// How much of an endless head is written at a time, and how long after it the next.
const CHUNK: usize = 16 * 1024;
/// See [`CHUNK`].
const PACE: Duration = Duration::from_millis(20);

/// A writer that made no progress this long has written what the kernel takes.
const STALL: Duration = Duration::from_secs(1);

/// Connections being made at once; the rest wait. Below the smallest listen backlog of the
/// peers (Portcullis's 128, the standard library's): with more, a busy proxy's accept queue
/// overflowed, the kernel answered with SYN cookies and some connections were reset.
const CONNECTING: usize = 64;

/// How long one connection may take to be made.
const CONNECT_PATIENCE: Duration = Duration::from_secs(10);

/// A request head with an `X-Big` header of `bytes` letters and no end.
pub fn endless_head(bytes: usize) -> Bytes {
    let mut head = b"GET / HTTP/1.1\r\nHost: bench.example\r\nX-Big: ".to_vec();
    head.resize(head.len() + bytes, b'a');
    Bytes::from(head)
}

/// Connections in place, held open until [`Held::close`].
pub struct Held {
    stop: watch::Sender<bool>,
    connections: JoinSet<Seen>,
    /// How many had done their part when [`open`] returned.
    pub in_place: usize,
}

/// Opens `count` connections to `addr`, each following `script`; returns once each has done
/// its part (connected; answered; written what the kernel takes, or been answered) or after
/// `patience`.
pub async fn open(addr: SocketAddr, count: usize, script: Script, patience: Duration) -> Held {
    let (stop, stopped) = watch::channel(false);
    let (done, mut in_place) = mpsc::unbounded_channel();
    let connecting = Arc::new(Semaphore::new(CONNECTING));
    let mut connections = JoinSet::new();
    for _ in 0..count {
        connections.spawn(connection(
            addr,
            script.clone(),
            Arc::clone(&connecting),
            done.clone(),
            stopped.clone(),
        ));
    }
    drop(done);
    let mut placed = 0;
    let _ = timeout(patience, async {
        while placed < count && in_place.recv().await.is_some() {
            placed += 1;
        }
    })
    .await;
    Held {
        stop,
        connections,
        in_place: placed,
    }
}

impl Held {
    /// Closes every connection; what each saw.
    pub async fn close(self) -> anyhow::Result<Vec<Seen>> {
        let _ = self.stop.send(true);
        let mut seen = Vec::with_capacity(self.connections.len());
        let mut connections = self.connections;
        while let Some(one) = connections.join_next().await {
            seen.push(one?);
        }
        Ok(seen)
    }
}

/// One connection: made (at most [`CONNECTING`] at once), then its script until `stop`.
async fn connection(
    addr: SocketAddr,
    script: Script,
    connecting: Arc<Semaphore>,
    in_place: mpsc::UnboundedSender<()>,
    stop: watch::Receiver<bool>,
) -> Seen {
    let made = {
        // Never closed, so a permit always comes.
        let _permit = connecting.acquire().await.ok();
        timeout(CONNECT_PATIENCE, TcpStream::connect(addr)).await
    };
    let Ok(Ok(mut stream)) = made else {
        let _ = in_place.send(());
        return Seen::UNCONNECTED;
    };
    follow(&mut stream, script, &in_place, stop).await
}

/// Runs `script` on `stream`, reading whatever comes, until `stop` or the stream ends; says
/// on `in_place` when its part is done.
async fn follow(
    stream: &mut TcpStream,
    script: Script,
    in_place: &mpsc::UnboundedSender<()>,
    mut stop: watch::Receiver<bool>,
) -> Seen {
    let (mut reader, mut writer) = stream.split();
    let (out, chunk, wait_for_answer) = match &script {
        Script::Nothing => (Bytes::new(), 0, false),
        Script::OneRequest => (Bytes::from_static(REQUEST), REQUEST.len(), true),
        Script::EndlessHead(head) => (head.clone(), CHUNK, false),
    };
    let endless = matches!(script, Script::EndlessHead(_));
    let mut placed = Placed {
        done: false,
        tell: in_place,
    };
    if out.is_empty() {
        placed.now();
    }
    let (mut written, mut next_write, mut stall_at) = (0, Instant::now(), Instant::now() + STALL);
    let mut writing = !out.is_empty();
    let mut head = Vec::new();
    let mut answer = None;
    let mut buf = [0u8; 4096];
    let end = loop {
        let pacing = Instant::now() < next_write;
        tokio::select! {
            _ = stop.changed() => break End::Open,
            read = reader.read(&mut buf) => match read {
                Ok(0) => break End::Closed,
                Ok(n) => {
                    if answer.is_none() && head.len() < 1024 {
                        head.extend_from_slice(&buf[..n]);
                        answer = status_of(&head);
                    }
                    if answer.is_some() {
                        // An answer to an unfinished head ends it: stop writing.
                        writing = false;
                        placed.now();
                    }
                }
                Err(_) => break End::Reset,
            },
            () = sleep_until(next_write), if writing && pacing => {}
            wrote = writer.write(&out[written..(written + chunk).min(out.len())]), if writing && !pacing => {
                match wrote {
                    Ok(n) => {
                        written += n;
                        stall_at = Instant::now() + STALL;
                        if endless {
                            next_write = Instant::now() + PACE;
                        }
                        if written == out.len() {
                            writing = false;
                            if !wait_for_answer {
                                placed.now();
                            }
                        }
                    }
                    // Refused mid-head: what it answers, if anything, comes next.
                    Err(_) => writing = false,
                }
            }
            () = sleep_until(stall_at), if writing && !placed.done => placed.now(),
        }
    };
    placed.now();
    Seen {
        answer,
        end,
        wrote_all: endless.then_some(written == out.len()),
    }
}

/// Whether a connection has said its part is done.
struct Placed<'a> {
    done: bool,
    tell: &'a mpsc::UnboundedSender<()>,
}

impl Placed<'_> {
    /// Says so, once.
    fn now(&mut self) {
        if !self.done {
            self.done = true;
            let _ = self.tell.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::net::TcpListener;

    use super::*;

    /// A listener that answers 431 after `limit` bytes of a head, then closes its side and
    /// reads the rest (as nginx's lingering close does).
    async fn refusing_after(limit: usize) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (mut stream, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let mut got = 0;
                    let mut buf = [0u8; 4096];
                    while got < limit {
                        match stream.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got += n,
                        }
                    }
                    let _ = stream
                        .write_all(b"HTTP/1.1 431 Too Large\r\nconnection: close\r\n\r\n")
                        .await;
                    let _ = stream.shutdown().await;
                    while let Ok(1..) = stream.read(&mut buf).await {}
                });
            }
        });
        addr
    }

    #[tokio::test(flavor = "current_thread")]
    async fn writers_see_the_answer_and_idle_connections_stay_open() {
        let addr = refusing_after(10 * 1024).await;
        let held = open(
            addr,
            3,
            Script::EndlessHead(endless_head(64 * 1024)),
            Duration::from_secs(10),
        )
        .await;
        assert_eq!(held.in_place, 3);
        let seen = held.close().await.unwrap();
        assert!(seen.iter().all(|s| s.answer == Some(431)), "{seen:?}");
        assert!(seen.iter().all(|s| s.end == End::Closed), "{seen:?}");

        let held = open(addr, 2, Script::Nothing, Duration::from_secs(10)).await;
        assert_eq!(held.in_place, 2);
        let seen = held.close().await.unwrap();
        let open = Seen {
            answer: None,
            end: End::Open,
            wrote_all: None,
        };
        assert_eq!(seen, [open, open]);
    }
}
