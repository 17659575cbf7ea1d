//! The real `portcullis ingress` binary when things break around it: a backend dies in the
//! middle of a response, an endpoint is removed while requests to it are in flight, and the
//! proxy itself is told to stop under load.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use portcullis_testkit::ingress_process::{
    Portcullis, STORE, backend, client, get, slice, wait_until, write_atomically,
};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

/// A backend whose process can be killed: every socket it holds closes at once. `/wear/stream`
/// sends 100 KiB slowly (1 KiB per 20 ms, Content-Length set); other paths answer `name path`.
struct KillableBackend {
    addr: SocketAddr,
    tasks: Arc<Mutex<JoinSet<()>>>,
    streaming: Arc<AtomicBool>,
}

impl KillableBackend {
    async fn start(name: &'static str) -> KillableBackend {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let tasks = Arc::new(Mutex::new(JoinSet::new()));
        let streaming = Arc::new(AtomicBool::new(false));
        let (accepting, flag) = (Arc::clone(&tasks), Arc::clone(&streaming));
        tasks.lock().expect("lock").spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let flag = Arc::clone(&flag);
                let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                    let flag = Arc::clone(&flag);
                    async move { Ok::<_, Infallible>(answer(name, &request, &flag)) }
                });
                accepting.lock().expect("lock").spawn(async move {
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        KillableBackend {
            addr,
            tasks,
            streaming,
        }
    }

    /// Closes the listener and every connection, as the kernel does when a process dies.
    fn kill(&self) {
        self.tasks.lock().expect("lock").abort_all();
    }
}

type AnyBody = http_body_util::combinators::BoxBody<Bytes, Infallible>;

fn answer(name: &str, request: &Request<Incoming>, streaming: &AtomicBool) -> Response<AnyBody> {
    if request.uri().path() == "/wear/stream" {
        streaming.store(true, Ordering::Relaxed);
        return Response::builder()
            .header("content-length", "102400")
            .header("x-served-by", name.to_owned())
            .body(Slow::new(100).boxed())
            .expect("response");
    }
    let body = format!("{name} {}\n", request.uri().path());
    Response::builder()
        .header("x-served-by", name.to_owned())
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("response")
}

/// `left` frames of 1 KiB, one per 20 ms.
struct Slow {
    left: usize,
    tick: tokio::time::Interval,
}

impl Slow {
    fn new(frames: usize) -> Slow {
        Slow {
            left: frames,
            tick: tokio::time::interval(Duration::from_millis(20)),
        }
    }
}

impl hyper::body::Body for Slow {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.left == 0 {
            return std::task::Poll::Ready(None);
        }
        match self.tick.poll_tick(cx) {
            std::task::Poll::Ready(_) => {
                self.left -= 1;
                std::task::Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'x'; 1024])))))
            }
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    }
}

async fn proxy_for(endpoints: &[SocketAddr], flags: &[&str]) -> (Portcullis, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("store.yaml"), STORE).expect("write");
    std::fs::write(dir.path().join("endpoints.yaml"), slice("wear", endpoints)).expect("write");
    let proxy = Portcullis::start(dir.path(), flags).await;
    (proxy, dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backend_killed_mid_response_cuts_that_response_and_traffic_moves_on() {
    let dying = KillableBackend::start("dying").await;
    let healthy = backend("healthy").await;
    let (proxy, _dir) = proxy_for(&[dying.addr, healthy.addr], &[]).await;
    let url = format!("http://{}/wear/stream", proxy.http);
    let client = client();

    // Round robin: one of the first two requests reaches the dying backend.
    let mut cut = None;
    for _ in 0..2 {
        let request = Request::get(&url)
            .header("host", "shop.example.com")
            .body(http_body_util::Empty::<Bytes>::new())
            .expect("request");
        let response = client.request(request).await.expect("response head");
        if response.headers()["x-served-by"] == "dying" {
            cut = Some(response);
            break;
        }
        let body = response.into_body().collect().await.expect("healthy body");
        assert!(!body.to_bytes().is_empty());
    }
    let response = cut.expect("a request reached the dying backend");
    assert_eq!(response.status(), 200);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(dying.streaming.load(Ordering::Relaxed));
    dying.kill();
    let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .expect("the cut response ends, it does not hang");
    assert!(
        body.is_err(),
        "a response cut by its backend must reach the client as cut, not as complete"
    );

    // Everything after goes to the healthy endpoint: a refused connect is retried.
    for _ in 0..10 {
        let (status, body) = get(proxy.http, "shop.example.com", "/wear/after")
            .await
            .expect("answer");
        assert_eq!((status, body.as_str()), (200, "healthy /wear/after\n"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_in_flight_to_a_removed_endpoint_finish() {
    let (old, new) = (backend("old").await, backend("new").await);
    let (proxy, dir) = proxy_for(&[old.addr], &[]).await;
    let addr = proxy.http;
    let in_flight: Vec<_> = (0..5)
        .map(|_| {
            tokio::spawn(
                async move { get(addr, "shop.example.com", "/wear/slow?sleep_ms=1500").await },
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    write_atomically(
        &dir.path().join("endpoints.yaml"),
        &slice("wear", &[new.addr]),
    );
    let moved = wait_until(Duration::from_secs(10), || async {
        get(addr, "shop.example.com", "/wear/now")
            .await
            .map(|r| r.1)
            == Some("new /wear/now\n".into())
    })
    .await;
    assert!(moved, "new requests never reached the new endpoint");
    for request in in_flight {
        let answer = request.await.expect("task");
        assert_eq!(
            answer,
            Some((200, "old /wear/slow\n".to_owned())),
            "an in-flight request to the removed endpoint failed"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_fails_no_request_sent_before_it() {
    let wear = backend("wear").await;
    let (mut proxy, _dir) = proxy_for(&[wear.addr], &["--drain-timeout", "10s"]).await;
    let addr = proxy.http;
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::new(Mutex::new(Vec::new()));
    let mut load = Vec::new();
    for worker in 0..4 {
        let (stop, outcomes) = (Arc::clone(&stop), Arc::clone(&outcomes));
        load.push(tokio::spawn(async move {
            let client = client();
            let mut n = 0;
            while !stop.load(Ordering::Relaxed) {
                n += 1;
                let path = format!("/wear/{worker}-{n}?sleep_ms=100");
                let started = Instant::now();
                let answer = portcullis_testkit::ingress_process::get_with(
                    &client,
                    addr,
                    "shop.example.com",
                    &path,
                )
                .await;
                outcomes.lock().expect("lock").push((
                    format!("/wear/{worker}-{n}"),
                    started,
                    answer,
                ));
                if answer_failed(&outcomes) {
                    // Refused after the listener closed: stop this worker.
                    break;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let signalled = Instant::now();
    proxy.terminate();
    let code = proxy.wait_exit(Duration::from_secs(15)).await;
    stop.store(true, Ordering::Relaxed);
    for worker in load {
        worker.await.expect("worker");
    }
    assert_eq!(code, Some(0), "log:\n{}", proxy.log());
    let outcomes = outcomes.lock().expect("lock");
    let before: Vec<_> = outcomes
        .iter()
        .filter(|(_, started, _)| *started + Duration::from_millis(50) < signalled)
        .collect();
    assert!(before.len() >= 8, "too little load: {}", before.len());
    let failed: HashSet<_> = before
        .iter()
        .filter(|(_, _, answer)| answer.as_ref().map(|a| a.0) != Some(200))
        .map(|(path, _, answer)| format!("{path}: {answer:?}"))
        .collect();
    assert!(
        failed.is_empty(),
        "requests sent well before SIGTERM failed: {failed:?}"
    );
}

/// One request of the load: its path, when it was sent, and the answer (status, body).
type Outcome = (String, Instant, Option<(u16, String)>);

fn answer_failed(outcomes: &Mutex<Vec<Outcome>>) -> bool {
    outcomes
        .lock()
        .expect("lock")
        .last()
        .is_some_and(|(_, _, answer)| answer.is_none())
}
