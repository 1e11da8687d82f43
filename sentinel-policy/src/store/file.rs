use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;

use super::{PolicyStore, check_profile_name};
use crate::error::{Error, Problem, Result};
use crate::parse::MAX_DOCUMENT_BYTES;
use crate::policy::CompiledPolicy;

/// File extensions tried, in this order, for per-profile files.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Policies read from the file system.
///
/// The path decides the layout, checked on every read:
/// - **a file**: one document governs every profile (its rules say which
///   profiles they cover);
/// - **a directory**: one document per profile, named `<profile>.yaml`,
///   `<profile>.yml` or `<profile>.json`. Exactly one of them may exist; a
///   profile without a file has no policy (and is denied). There is no
///   fallback document, so a new profile is never governed by accident.
///
/// Files are read on every call; wrap the store in
/// [`Cached`](crate::Cached) to reuse compiled policies.
#[derive(Debug, Clone)]
pub struct FilePolicyStore {
    path: PathBuf,
}

impl FilePolicyStore {
    /// A store reading `path` (a file or a directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The configured path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io_error(&self, profile: &str, path: &Path, e: io::Error) -> Error {
        match e.kind() {
            io::ErrorKind::NotFound => Error::NotFound {
                profile: profile.to_owned(),
                origin: path.display().to_string(),
                help: format!("create {} with a policy document", path.display()),
            },
            io::ErrorKind::PermissionDenied => Error::AccessDenied {
                profile: profile.to_owned(),
                origin: path.display().to_string(),
                message: format!(
                    "the file is not readable by this user; check the permissions of {}",
                    path.display()
                ),
            },
            _ => Error::backend("file", format!("reading {}: {e}", path.display())),
        }
    }

    async fn read(&self, profile: &str, path: &Path) -> Result<String> {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| self.io_error(profile, path, e))?;
        if meta.len() > MAX_DOCUMENT_BYTES as u64 {
            return Err(Error::Invalid {
                origin: path.display().to_string(),
                problems: vec![Problem::new(
                    "",
                    format!(
                        "the file is {} bytes, more than the limit of {MAX_DOCUMENT_BYTES}",
                        meta.len()
                    ),
                )],
            });
        }
        let bytes = tokio::fs::read(path)
            .await
            .map_err(|e| self.io_error(profile, path, e))?;
        String::from_utf8(bytes).map_err(|_| Error::Invalid {
            origin: path.display().to_string(),
            problems: vec![Problem::new("", "the file is not UTF-8 text").help("save it as UTF-8")],
        })
    }

    async fn is_dir(&self) -> Result<bool> {
        match tokio::fs::metadata(&self.path).await {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound {
                profile: String::new(),
                origin: self.path.display().to_string(),
                help: format!(
                    "the policy path {} does not exist; create the file or directory",
                    self.path.display()
                ),
            }),
            Err(e) => Err(self.io_error("", &self.path, e)),
        }
    }
}

#[async_trait]
impl PolicyStore for FilePolicyStore {
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        check_profile_name(profile)?;
        let is_dir = self.is_dir().await.map_err(|e| match e {
            Error::NotFound { origin, help, .. } => Error::NotFound {
                profile: profile.to_owned(),
                origin,
                help,
            },
            other => other,
        })?;
        if !is_dir {
            let text = self.read(profile, &self.path).await?;
            return CompiledPolicy::parse(&text, &self.path.display().to_string()).map(Arc::new);
        }
        let mut found = Vec::new();
        for ext in EXTENSIONS {
            let candidate = self.path.join(format!("{profile}.{ext}"));
            match tokio::fs::symlink_metadata(&candidate).await {
                Ok(_) => found.push(candidate),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(self.io_error(profile, &candidate, e)),
            }
        }
        match found.as_slice() {
            [] => Err(Error::NotFound {
                profile: profile.to_owned(),
                origin: self.path.display().to_string(),
                help: format!(
                    "create {} with the policy for this profile",
                    self.path.join(format!("{profile}.yaml")).display()
                ),
            }),
            [one] => {
                let text = self.read(profile, one).await?;
                CompiledPolicy::parse(&text, &one.display().to_string()).map(Arc::new)
            }
            many => Err(Error::Invalid {
                origin: self.path.display().to_string(),
                problems: vec![
                    Problem::new(
                        "",
                        format!(
                            "more than one policy file for profile \"{profile}\": {}",
                            many.iter()
                                .map(|p| p.display().to_string())
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )
                    .help("keep exactly one of them"),
                ],
            }),
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        if !self.is_dir().await? {
            // One document for all: the profiles it names.
            let text = self.read("", &self.path).await?;
            let policy = CompiledPolicy::parse(&text, &self.path.display().to_string())?;
            let doc = policy.document();
            let mut names: BTreeSet<String> = doc.profiles.keys().cloned().collect();
            for rule in &doc.rules {
                names.extend(rule.conditions.profiles.iter().cloned());
            }
            return Ok(names.into_iter().collect());
        }
        let mut dir = tokio::fs::read_dir(&self.path)
            .await
            .map_err(|e| self.io_error("", &self.path, e))?;
        let mut names = BTreeSet::new();
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| self.io_error("", &self.path, e))?
        {
            let path = entry.path();
            let (Some(stem), Some(ext)) = (
                path.file_stem().and_then(|s| s.to_str()),
                path.extension().and_then(|s| s.to_str()),
            ) else {
                continue;
            };
            if EXTENSIONS.contains(&ext) && check_profile_name(stem).is_ok() {
                names.insert(stem.to_owned());
            }
        }
        Ok(names.into_iter().collect())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
