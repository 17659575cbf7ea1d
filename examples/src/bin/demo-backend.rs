//! A small HTTP/1.1 backend for the demos, tests and benchmarks: answers every request with
//! its name and what it saw, or with a fixed-size body for load tests.

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::Context;
use bytes::Bytes;
use clap::Parser;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// Command-line flags.
#[derive(Debug, Parser)]
#[command(about = "Demo HTTP backend: says who it is and what it received")]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:9001")]
    listen: SocketAddr,
    /// Name reported in every answer and in the x-served-by header.
    #[arg(long, default_value = "demo")]
    name: String,
    /// Answer with exactly this many bytes instead of the description (for benchmarks).
    #[arg(long)]
    body_size: Option<usize>,
    /// Worker threads.
    #[arg(long, default_value_t = 1)]
    threads: usize,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
        .context("cannot start the runtime")?
        .block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let name: &'static str = Box::leak(args.name.into_boxed_str());
    let fixed: Option<Bytes> = args.body_size.map(|size| Bytes::from(vec![b'x'; size]));
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
        };
        let _ = stream.set_nodelay(true);
        let fixed = fixed.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<Incoming>| {
                let body = match &fixed {
                    Some(bytes) => bytes.clone(),
                    None => Bytes::from(describe(name, &request, peer)),
                };
                async move {
                    let mut response = Response::new(Full::new(body));
                    response
                        .headers_mut()
                        .insert("x-served-by", hyper::header::HeaderValue::from_static(name));
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn describe(name: &str, request: &Request<Incoming>, peer: SocketAddr) -> String {
    let host = request
        .headers()
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("-");
    let forwarded_for = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|h| h.to_str().ok())
        .unwrap_or("-");
    format!(
        "{name}: {} {} (host {host}, from {peer}, x-forwarded-for {forwarded_for})\n",
        request.method(),
        request.uri()
    )
}
