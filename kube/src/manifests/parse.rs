//! Manifest file text → typed objects. Pure: no file system, no clock.
//!
//! YAML files may hold many documents (`---` at column 0); JSON files hold one object. A
//! `kind: List` (or `IngressList`, ...) is unpacked. Errors carry the file, the line in the
//! file, the object and the field, so a user can go straight to the mistake.

use std::sync::Arc;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::{Metadata, Resource};
use serde::de::DeserializeOwned;

use crate::objects::gateway_api::{GATEWAY_API_VERSIONS, GatewayApiObject};
use crate::objects::{Kind, Object, RawPolicy};

/// What one file holds.
#[derive(Debug, Clone, Default)]
pub struct ParsedFile {
    /// The objects of kinds the controller reads, in file order.
    pub objects: Vec<Object>,
    /// Objects of other kinds (Deployments, ...), skipped.
    pub skipped: Vec<SkippedObject>,
}

/// An object of a kind the controller does not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedObject {
    /// 1-based line in the file where its document starts.
    pub line: usize,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its `kind`.
    pub kind: String,
}

/// Why a file was not applied: the user's mistake, fixed by editing the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}: {}{message}", object.as_deref().map(|o| format!("{o}: ")).unwrap_or_default())]
pub struct ParseError {
    /// The file, as given to [`parse_manifest`].
    pub file: String,
    /// 1-based line in the file.
    pub line: usize,
    /// `Kind namespace/name` of the object at fault, when known.
    pub object: Option<String>,
    /// What is wrong, with the field path when there is one.
    pub message: String,
}

/// Parses one manifest file. `file_name` picks the format (`.json` or YAML) and names the file
/// in errors. Any bad document fails the whole file, so the caller can keep its last good state.
pub fn parse_manifest(file_name: &str, contents: &str) -> Result<ParsedFile, ParseError> {
    let mut parsed = ParsedFile::default();
    if file_name.ends_with(".json") {
        let value: serde_json::Value = serde_json::from_str(contents).map_err(|e| ParseError {
            file: file_name.to_string(),
            line: e.line(),
            object: None,
            message: e.to_string(),
        })?;
        let document = Document {
            file: file_name,
            text: contents,
            start_line: 1,
            json: true,
        };
        document.collect(value_from_json(value), &mut parsed)?;
        return Ok(parsed);
    }
    for document in split_documents(contents) {
        let document = Document {
            file: file_name,
            text: document.0,
            start_line: document.1,
            json: false,
        };
        let value: serde_yaml_ng::Value = match serde_yaml_ng::from_str(document.text) {
            Ok(value) => value,
            Err(e) => {
                return Err(document.error(e.location().map(|l| l.line()), None, e.to_string()));
            }
        };
        if value.is_null() {
            continue;
        }
        document.collect(value, &mut parsed)?;
    }
    Ok(parsed)
}

/// One YAML document (or a whole JSON file) and where it starts in the file.
pub(crate) struct Document<'a> {
    file: &'a str,
    text: &'a str,
    start_line: usize,
    json: bool,
}

impl Document<'_> {
    /// Turns the document's value (an object or a List) into objects.
    fn collect(
        &self,
        value: serde_yaml_ng::Value,
        parsed: &mut ParsedFile,
    ) -> Result<(), ParseError> {
        let (api_version, kind) = type_of(&value);
        if kind.ends_with("List")
            && let Some(items) = value.get("items").and_then(|i| i.as_sequence())
        {
            for (index, item) in items.iter().enumerate() {
                let (api_version, kind) = type_of(item);
                let object = self
                    .typed(&api_version, &kind, item, None)
                    .map_err(|mut error| {
                        error.message = format!("items[{index}]: {}", error.message);
                        error
                    })?;
                self.keep(object, api_version, kind, parsed);
            }
            return Ok(());
        }
        let object = self.typed(&api_version, &kind, &value, Some(self.text))?;
        self.keep(object, api_version, kind, parsed);
        Ok(())
    }

    fn keep(
        &self,
        object: Option<Object>,
        api_version: String,
        kind: String,
        parsed: &mut ParsedFile,
    ) {
        match object {
            Some(object) => parsed.objects.push(object),
            None => parsed.skipped.push(SkippedObject {
                line: self.start_line,
                api_version,
                kind,
            }),
        }
    }

    /// Deserializes one object of a kind we read; `None` for other kinds. With `text`, the
    /// object is read from the text so errors point at a line.
    fn typed(
        &self,
        api_version: &str,
        kind: &str,
        value: &serde_yaml_ng::Value,
        text: Option<&str>,
    ) -> Result<Option<Object>, ParseError> {
        if kind.is_empty() {
            return Err(self.error(
                None,
                None,
                "no `kind:` field; every object needs apiVersion and kind".into(),
            ));
        }
        let Some(known) = Kind::from_name(kind) else {
            return Ok(None);
        };
        Object::from_manifest(known, self, api_version, value, text).map(Some)
    }

    pub(crate) fn raw_policy(
        &self,
        api_version: &str,
        value: &serde_yaml_ng::Value,
    ) -> Result<RawPolicy, ParseError> {
        let name = object_name("NetworkPolicy", value);
        if api_version != "networking.k8s.io/v1" {
            return Err(self.error(
                None,
                Some(name),
                format!(
                    "apiVersion {api_version:?} is not supported for NetworkPolicy; use networking.k8s.io/v1"
                ),
            ));
        }
        let json = serde_json::to_value(value)
            .map_err(|e| self.error(None, Some(name.clone()), e.to_string()))?;
        let policy = RawPolicy::new(json);
        if policy.name.is_empty() {
            return Err(self.error(None, Some(name), "metadata.name is required".into()));
        }
        Ok(policy)
    }

    pub(crate) fn decode<T>(
        &self,
        api_version: &str,
        value: &serde_yaml_ng::Value,
        text: Option<&str>,
    ) -> Result<Arc<T>, ParseError>
    where
        T: DeserializeOwned + Resource + Metadata<Ty = ObjectMeta>,
    {
        let name = object_name(T::KIND, value);
        if api_version != T::API_VERSION {
            return Err(self.error(
                None,
                Some(name),
                format!(
                    "apiVersion {api_version:?} is not supported for {}; use {}",
                    T::KIND,
                    T::API_VERSION
                ),
            ));
        }
        let decoded = self.deserialize::<T>(value, text);
        let mut object =
            decoded.map_err(|(line, message)| self.error(line, Some(name.clone()), message))?;
        let meta = object.metadata_mut();
        if meta.name.as_deref().unwrap_or("").is_empty() {
            return Err(self.error(None, Some(name), "metadata.name is required".into()));
        }
        if is_namespaced(T::KIND) && meta.namespace.as_deref().unwrap_or("").is_empty() {
            meta.namespace = Some("default".to_string());
        }
        Ok(Arc::new(object))
    }

    /// Decodes a Gateway API object (our own types, `v1` or `v1beta1`); a namespaced one
    /// without a namespace is in `default`.
    pub(crate) fn decode_gateway_api<T: GatewayApiObject>(
        &self,
        api_version: &str,
        value: &serde_yaml_ng::Value,
        text: Option<&str>,
    ) -> Result<Arc<T>, ParseError> {
        let name = object_name(T::KIND, value);
        if !GATEWAY_API_VERSIONS.contains(&api_version) {
            return Err(self.error(
                None,
                Some(name),
                format!(
                    "apiVersion {api_version:?} is not supported for {}; use {}",
                    T::KIND,
                    GATEWAY_API_VERSIONS.join(" or ")
                ),
            ));
        }
        let mut object = self
            .deserialize::<T>(value, text)
            .map_err(|(line, message)| self.error(line, Some(name.clone()), message))?;
        let meta = object.meta_mut();
        if meta.name.is_empty() {
            return Err(self.error(None, Some(name), "metadata.name is required".into()));
        }
        if is_namespaced(T::KIND) && meta.namespace.is_empty() {
            meta.namespace = "default".to_string();
        }
        Ok(Arc::new(object))
    }

    /// Deserializes the document, from its text when there is one (so an error has a line),
    /// with the path of the field at fault.
    fn deserialize<T: DeserializeOwned>(
        &self,
        value: &serde_yaml_ng::Value,
        text: Option<&str>,
    ) -> Result<T, (Option<usize>, String)> {
        match text {
            Some(text) if self.json => {
                let mut de = serde_json::Deserializer::from_str(text);
                serde_path_to_error::deserialize(&mut de)
                    .map_err(|e| (Some(e.inner().line()), field_message(e.path(), e.inner())))
            }
            Some(text) => {
                let de = serde_yaml_ng::Deserializer::from_str(text);
                serde_path_to_error::deserialize(de).map_err(|e| {
                    let line = e.inner().location().map(|l| l.line());
                    (line, field_message(e.path(), e.inner()))
                })
            }
            None => serde_path_to_error::deserialize(value.clone())
                .map_err(|e| (None, field_message(e.path(), e.inner()))),
        }
    }

    /// An error at `line` inside this document (1-based), or at its first line. The line is
    /// kept inside the document: at the end of a text without a final newline the YAML scanner
    /// reports the line after it, which the file does not have.
    fn error(&self, line: Option<usize>, object: Option<String>, message: String) -> ParseError {
        let last = self.start_line + self.text.matches('\n').count();
        let line = if self.json {
            line.unwrap_or(1).max(1)
        } else {
            self.start_line + line.unwrap_or(1).saturating_sub(1)
        }
        .min(last);
        ParseError {
            file: self.file.to_string(),
            line,
            object,
            message,
        }
    }
}

/// Splits YAML text at `---` lines (column 0); `...` ends a document. Yields each document's
/// text and its 1-based first line in the file.
fn split_documents(contents: &str) -> Vec<(&str, usize)> {
    let mut documents = Vec::new();
    let mut start = 0;
    let mut start_line = 1;
    let mut ended = false;
    let mut offset = 0;
    for (index, line) in contents.split_inclusive('\n').enumerate() {
        let bare = line.trim_end_matches(['\n', '\r']);
        let is_marker = |marker: &str| {
            bare == marker
                || bare
                    .strip_prefix(marker)
                    .is_some_and(|rest| rest.starts_with([' ', '\t']))
        };
        if is_marker("---") {
            if !ended {
                documents.push((&contents[start..offset], start_line));
            }
            if bare[3..].trim().is_empty() {
                start = offset + line.len();
                start_line = index + 2;
            } else {
                // Content after `--- ` on the same line belongs to the next document.
                start = offset + 3;
                start_line = index + 1;
            }
            ended = false;
        } else if is_marker("...") {
            if !ended {
                documents.push((&contents[start..offset], start_line));
            }
            ended = true;
        }
        offset += line.len();
    }
    if !ended {
        documents.push((&contents[start..], start_line));
    }
    documents
}

fn type_of(value: &serde_yaml_ng::Value) -> (String, String) {
    let field = |name: &str| {
        value
            .get(name)
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_string()
    };
    (field("apiVersion"), field("kind"))
}

/// `Kind namespace/name` as far as the document says, for error messages.
/// Whether objects of this `kind:` live in a namespace.
fn is_namespaced(kind: &str) -> bool {
    Kind::from_name(kind).is_none_or(Kind::is_namespaced)
}

fn object_name(kind: &str, value: &serde_yaml_ng::Value) -> String {
    let meta = value.get("metadata");
    let get = |field: &str| {
        meta.and_then(|m| m.get(field))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
    };
    let (namespace, name) = (get("namespace"), get("name"));
    let name = if name.is_empty() { "(no name)" } else { name };
    if !is_namespaced(kind) {
        format!("{kind} {name}")
    } else if namespace.is_empty() {
        format!("{kind} default/{name}")
    } else {
        format!("{kind} {namespace}/{name}")
    }
}

/// `spec.rules[0].host: invalid type: ...`, without the YAML parser's own "at line" suffix.
fn field_message(path: &serde_path_to_error::Path, error: &dyn std::fmt::Display) -> String {
    let text = error.to_string();
    let text = match text.find(" at line ") {
        Some(at) => text[..at].to_string(),
        None => text,
    };
    let path = path.to_string();
    if path.is_empty() || path == "." {
        text
    } else {
        format!("{path}: {text}")
    }
}

fn value_from_json(value: serde_json::Value) -> serde_yaml_ng::Value {
    // JSON is a subset of YAML's data model; the conversion cannot fail for parsed JSON.
    serde_yaml_ng::to_value(value).unwrap_or(serde_yaml_ng::Value::Null)
}

impl portcullis_fault::Classified for ParseError {
    /// The file's author wrote something wrong.
    fn fault(&self) -> portcullis_fault::Fault {
        portcullis_fault::Fault::User
    }

    /// Reading the same text fails the same way.
    fn retryable(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests;
