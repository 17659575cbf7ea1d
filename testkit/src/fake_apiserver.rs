//! A small Kubernetes API server for tests, over real HTTP: list and watch (with
//! resourceVersion, history replay and stamped metadata) for the kinds the controller reads.
//! Tests change objects with `apply` and `delete`, and can stop and restart it.
//!
//! No test uses it any more (they run against the real control plane, `control_plane.rs`); it
//! stays for the change-to-live benchmark's figure without a real API server's own cost.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{Either, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// (collection path, apiVersion, kind, namespaced)
const RESOURCES: [(&str, &str, &str, bool); 12] = [
    (
        "/apis/events.k8s.io/v1/events",
        "events.k8s.io/v1",
        "Event",
        true,
    ),
    (
        "/apis/coordination.k8s.io/v1/leases",
        "coordination.k8s.io/v1",
        "Lease",
        true,
    ),
    (
        "/apis/networking.k8s.io/v1/ingressclasses",
        "networking.k8s.io/v1",
        "IngressClass",
        false,
    ),
    (
        "/apis/networking.k8s.io/v1/ingresses",
        "networking.k8s.io/v1",
        "Ingress",
        true,
    ),
    ("/api/v1/services", "v1", "Service", true),
    (
        "/apis/discovery.k8s.io/v1/endpointslices",
        "discovery.k8s.io/v1",
        "EndpointSlice",
        true,
    ),
    ("/api/v1/secrets", "v1", "Secret", true),
    ("/api/v1/configmaps", "v1", "ConfigMap", true),
    ("/api/v1/nodes", "v1", "Node", false),
    ("/api/v1/pods", "v1", "Pod", true),
    ("/api/v1/namespaces", "v1", "Namespace", false),
    (
        "/apis/networking.k8s.io/v1/networkpolicies",
        "networking.k8s.io/v1",
        "NetworkPolicy",
        true,
    ),
];

#[derive(Default)]
struct State {
    version: u64,
    /// (kind, namespace, name) → object
    objects: BTreeMap<(String, String, String), Value>,
    /// (version, kind, namespace, event line)
    history: Vec<(u64, String, String, String)>,
    watchers: Vec<(String, Option<String>, mpsc::UnboundedSender<String>)>,
}

/// The fake server; dropping it stops serving.
pub struct FakeApiServer {
    /// Where it listens (kept across restarts).
    pub addr: SocketAddr,
    state: Arc<Mutex<State>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl FakeApiServer {
    /// Starts on an ephemeral port.
    pub async fn start() -> FakeApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        Self::serve_on(listener)
    }

    /// Starts on a listener made elsewhere, e.g. inside another network namespace.
    pub fn start_on(listener: std::net::TcpListener) -> FakeApiServer {
        listener.set_nonblocking(true).expect("nonblocking");
        Self::serve_on(TcpListener::from_std(listener).expect("a tokio listener"))
    }

    fn serve_on(listener: TcpListener) -> FakeApiServer {
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(Mutex::new(State::default()));
        let task = Some(tokio::spawn(serve(listener, Arc::clone(&state))));
        FakeApiServer { addr, state, task }
    }

    /// Simulates an outage: closes the listener and every watch.
    pub fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
        self.state.lock().expect("state").watchers.clear();
    }

    /// Serves again on the same address, with the same objects.
    pub async fn restart(&mut self) {
        let listener = TcpListener::bind(self.addr).await.expect("rebind");
        self.task = Some(tokio::spawn(serve(listener, Arc::clone(&self.state))));
    }

    /// A kubeconfig pointing at this server.
    pub fn kubeconfig(&self) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters: [{{name: fake, cluster: {{server: \"http://{}\"}}}}]\n\
             users: [{{name: fake, user: {{token: test}}}}]\n\
             contexts: [{{name: fake, context: {{cluster: fake, user: fake}}}}]\ncurrent-context: fake\n",
            self.addr
        )
    }

    /// Creates or replaces an object (as YAML or JSON text) and tells the watchers.
    pub fn apply(&self, text: &str) {
        let mut object: Value = serde_yaml_ng::from_str(text).expect("valid object");
        let kind = object["kind"].as_str().expect("kind").to_string();
        let namespace = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .expect("name")
            .to_string();
        let mut state = self.state.lock().expect("state");
        state.version += 1;
        let version = state.version;
        let key = (kind.clone(), namespace.clone(), name.clone());
        let existed = state.objects.contains_key(&key);
        let meta = &mut object["metadata"];
        meta["resourceVersion"] = json!(version.to_string());
        meta["uid"] = json!(format!("uid-{kind}-{namespace}-{name}"));
        if meta.get("creationTimestamp").is_none() {
            meta["creationTimestamp"] = json!("2026-01-01T00:00:00Z");
        }
        state.objects.insert(key, object.clone());
        let kind_of_event = if existed { "MODIFIED" } else { "ADDED" };
        broadcast(
            &mut state,
            version,
            &kind,
            &namespace,
            kind_of_event,
            object,
        );
    }

    /// The stored object, as JSON.
    pub fn object(&self, kind: &str, namespace: &str, name: &str) -> Option<Value> {
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        self.state.lock().expect("state").objects.get(&key).cloned()
    }

    /// Every stored object of one kind.
    pub fn objects_of(&self, kind: &str) -> Vec<Value> {
        let state = self.state.lock().expect("state");
        state
            .objects
            .iter()
            .filter(|((k, _, _), _)| k == kind)
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Deletes an object and tells the watchers.
    pub fn delete(&self, kind: &str, namespace: &str, name: &str) {
        let mut state = self.state.lock().expect("state");
        let key = (kind.to_string(), namespace.to_string(), name.to_string());
        if let Some(mut object) = state.objects.remove(&key) {
            state.version += 1;
            let version = state.version;
            object["metadata"]["resourceVersion"] = json!(version.to_string());
            broadcast(&mut state, version, kind, namespace, "DELETED", object);
        }
    }
}

impl Drop for FakeApiServer {
    fn drop(&mut self) {
        self.stop();
    }
}

fn broadcast(
    state: &mut State,
    version: u64,
    kind: &str,
    namespace: &str,
    event: &str,
    object: Value,
) {
    let line = json!({"type": event, "object": object}).to_string() + "\n";
    state.history.push((
        version,
        kind.to_string(),
        namespace.to_string(),
        line.clone(),
    ));
    state.watchers.retain(|(watched, scope, sender)| {
        if watched != kind || scope.as_deref().is_some_and(|s| s != namespace) {
            return true;
        }
        sender.send(line.clone()).is_ok()
    });
}

/// Accepts and serves; connections are owned here, so aborting this task cuts them all.
async fn serve(listener: TcpListener, state: Arc<Mutex<State>>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let state = Arc::clone(&state);
        connections.spawn(async move {
            let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                let state = Arc::clone(&state);
                async move {
                    let single = object_key(request.uri().path());
                    let response = match (request.method().clone(), single) {
                        (hyper::Method::PATCH, _) => patch(request, &state).await,
                        (hyper::Method::POST, _) => create(request, &state).await,
                        (hyper::Method::PUT, Some(key)) => replace(request, key, &state).await,
                        (hyper::Method::GET, Some(key)) => {
                            match state.lock().expect("state").objects.get(&key) {
                                Some(object) => json_response(object),
                                None => status_response(404, "NotFound"),
                            }
                        }
                        _ => answer(&request, &state),
                    };
                    Ok::<_, Infallible>(response)
                }
            });
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while connections.try_join_next().is_some() {}
    }
}

type Body = Either<
    Full<Bytes>,
    StreamBody<futures_util::stream::BoxStream<'static, Result<Frame<Bytes>, Infallible>>>,
>;

/// `PATCH .../namespaces/NS/RESOURCE/NAME[/status]` with a JSON merge patch.
async fn patch(request: Request<Incoming>, state: &Mutex<State>) -> Response<Body> {
    use http_body_util::BodyExt;
    let path = request.uri().path().trim_end_matches("/status").to_string();
    let body = request
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let found = path.split_once("/namespaces/").and_then(|(prefix, rest)| {
        let parts: Vec<&str> = rest.split('/').collect();
        let [namespace, resource, name] = parts[..] else {
            return None;
        };
        let collection = format!("{prefix}/{resource}");
        let (_, _, kind, _) = RESOURCES.iter().find(|r| r.0 == collection)?;
        Some((kind.to_string(), namespace.to_string(), name.to_string()))
    });
    let mut state = state.lock().expect("state");
    let Some(mut object) = found
        .as_ref()
        .and_then(|key| state.objects.get(key).cloned())
    else {
        return status_response(404, "NotFound");
    };
    let (kind, namespace, name) = found.expect("found above");
    merge(&mut object, &patch);
    state.version += 1;
    let version = state.version;
    object["metadata"]["resourceVersion"] = json!(version.to_string());
    state
        .objects
        .insert((kind.clone(), namespace.clone(), name), object.clone());
    broadcast(
        &mut state,
        version,
        &kind,
        &namespace,
        "MODIFIED",
        object.clone(),
    );
    Response::new(Either::Left(Full::new(Bytes::from(object.to_string()))))
}

/// (kind, namespace, name) of `.../namespaces/NS/RESOURCE/NAME`, if the path names one object.
fn object_key(path: &str) -> Option<(String, String, String)> {
    let (prefix, rest) = path.split_once("/namespaces/")?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [namespace, resource, name] = parts[..] else {
        return None;
    };
    let collection = format!("{prefix}/{resource}");
    let (_, _, kind, _) = RESOURCES.iter().find(|r| r.0 == collection)?;
    Some((kind.to_string(), namespace.to_string(), name.to_string()))
}

/// The request body as JSON, if it is JSON.
async fn json_body(request: Request<Incoming>) -> Option<Value> {
    use http_body_util::BodyExt;
    let body = request.into_body().collect().await.ok()?.to_bytes();
    serde_json::from_slice(&body).ok()
}

/// POST: create, 409 if it exists.
async fn create(request: Request<Incoming>, state: &Mutex<State>) -> Response<Body> {
    let Some(object) = json_body(request).await else {
        return status_response(400, "BadRequest");
    };
    let key = (
        object["kind"].as_str().unwrap_or("").to_string(),
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string(),
        object["metadata"]["name"]
            .as_str()
            .unwrap_or("")
            .to_string(),
    );
    let mut state = state.lock().expect("state");
    if state.objects.contains_key(&key) {
        return status_response(409, "AlreadyExists");
    }
    store(&mut state, key, object, "ADDED")
}

/// PUT: replace, 409 if the resourceVersion sent is not the current one.
async fn replace(
    request: Request<Incoming>,
    key: (String, String, String),
    state: &Mutex<State>,
) -> Response<Body> {
    let Some(object) = json_body(request).await else {
        return status_response(400, "BadRequest");
    };
    let mut state = state.lock().expect("state");
    let Some(current) = state.objects.get(&key) else {
        return status_response(404, "NotFound");
    };
    if current["metadata"]["resourceVersion"] != object["metadata"]["resourceVersion"] {
        return status_response(409, "Conflict");
    }
    store(&mut state, key, object, "MODIFIED")
}

fn store(
    state: &mut State,
    key: (String, String, String),
    mut object: Value,
    event: &str,
) -> Response<Body> {
    state.version += 1;
    let version = state.version;
    object["metadata"]["resourceVersion"] = json!(version.to_string());
    if object["apiVersion"].is_null() {
        object["apiVersion"] = json!("coordination.k8s.io/v1");
    }
    state.objects.insert(key.clone(), object.clone());
    broadcast(state, version, &key.0, &key.1, event, object.clone());
    json_response(&object)
}

fn json_response(object: &Value) -> Response<Body> {
    Response::new(Either::Left(Full::new(Bytes::from(object.to_string()))))
}

/// RFC 7386 JSON merge patch: objects merge, `null` deletes, anything else replaces.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(fields) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = json!({});
    }
    for (key, value) in fields {
        if value.is_null() {
            if let Value::Object(map) = target {
                map.remove(key);
            }
        } else {
            merge(&mut target[key.as_str()], value);
        }
    }
}

fn status_response(code: u16, reason: &str) -> Response<Body> {
    let body = json!({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason});
    let mut response = Response::new(Either::Left(Full::new(Bytes::from(body.to_string()))));
    *response.status_mut() = hyper::StatusCode::from_u16(code).expect("valid code");
    response
}

fn answer(request: &Request<Incoming>, state: &Mutex<State>) -> Response<Body> {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    let param = |name: &str| {
        query
            .split('&')
            .find_map(|pair| pair.strip_prefix(&format!("{name}=")))
            .map(str::to_string)
    };
    // /api/v1/namespaces/NS/services → (/api/v1/services, Some(NS))
    let (collection, scope) = match path.split_once("/namespaces/") {
        Some((prefix, rest)) => match rest.split_once('/') {
            Some((namespace, resource)) => {
                (format!("{prefix}/{resource}"), Some(namespace.to_string()))
            }
            None => (path.to_string(), None),
        },
        None => (path.to_string(), None),
    };
    let Some(&(_, api_version, kind, _)) = RESOURCES.iter().find(|r| r.0 == collection) else {
        return status_response(404, "NotFound");
    };
    let mut state = state.lock().expect("state");
    if param("watch").is_some_and(|w| w == "true" || w == "1") {
        let from: u64 = param("resourceVersion")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let (sender, receiver) = mpsc::unbounded_channel();
        for (version, event_kind, namespace, line) in &state.history {
            if *version > from
                && event_kind == kind
                && scope.as_deref().is_none_or(|s| s == namespace)
            {
                let _ = sender.send(line.clone());
            }
        }
        state.watchers.push((kind.to_string(), scope, sender));
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            let line = receiver.recv().await?;
            Some((Ok(Frame::data(Bytes::from(line))), receiver))
        });
        return Response::new(Either::Right(StreamBody::new(Box::pin(stream) as _)));
    }
    let items: Vec<Value> = state
        .objects
        .iter()
        .filter(|((k, namespace, _), _)| {
            k == kind && scope.as_deref().is_none_or(|s| s == namespace)
        })
        .map(|(_, object)| object.clone())
        .collect();
    let list = json!({
        "kind": format!("{kind}List"),
        "apiVersion": api_version,
        "metadata": {"resourceVersion": state.version.to_string()},
        "items": items,
    });
    Response::new(Either::Left(Full::new(Bytes::from(list.to_string()))))
}
