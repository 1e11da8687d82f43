use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use tokio::io::AsyncReadExt;

use super::{PolicyStore, check_profile_name};
use crate::error::{Error, Problem, Result};
use crate::policy::CompiledPolicy;
use crate::tree::MAX_DOCUMENT_BYTES;

/// File extensions tried, in this order, for per-profile files.
const EXTENSIONS: [&str; 3] = ["yaml", "yml", "json"];

/// Default of [`FilePolicyStore::with_settle_time`].
pub const DEFAULT_FILE_SETTLE_TIME: Duration = Duration::from_millis(250);

/// A read waits at most this many settle times (and at least
/// [`MIN_UNSETTLED_WAIT`]) for a file that keeps changing, then fails: 5 s
/// with the default settle time.
const UNSETTLED_WAIT_FACTOR: u32 = 20;
const MIN_UNSETTLED_WAIT: Duration = Duration::from_secs(1);

/// Policies read from the file system.
///
/// The path decides the layout, checked on every read:
/// - **a file**: one document governs every profile (its rules say which
///   profiles they cover);
/// - **a directory**: one document per profile, named exactly
///   `<profile>.yaml`, `<profile>.yml` or `<profile>.json` (the name is
///   compared byte for byte, also on case-insensitive file systems).
///   Exactly one of them may exist; a profile without a file has no policy
///   (and is denied). There is no fallback document, so a new profile is
///   never governed by accident.
///
/// Only regular files (or links to them) up to
/// [`MAX_DOCUMENT_BYTES`](crate::MAX_DOCUMENT_BYTES) are read. Files are
/// read on every call; a file whose text has not changed since the last
/// call is not parsed again. In single-file mode, a call that finds the
/// file's metadata (size, modification and change times, inode) as it was
/// at the last read takes the document of that read after one `stat`,
/// without reading the file again: a credential server asks on every
/// request. Wrap the store in [`Cached`](crate::Cached) to avoid the reads
/// altogether.
///
/// # Files edited in place
///
/// A file rewritten in place (truncated, then written) can be read half
/// written, and a cut document may still parse into a different, wider
/// policy (a rule that lost its `users` line matches everyone). So a text
/// is used only when the file did not change while it was read (size,
/// modification and, on Unix, change time and inode compared before and
/// after) and had been unchanged for the *settle time*
/// ([`DEFAULT_FILE_SETTLE_TIME`]; see [`with_settle_time`](Self::with_settle_time))
/// when the read started, judged by its modification and change times or
/// by two identical reads that far apart. Otherwise the read waits and
/// tries again; a file that keeps changing for 20 settle times (5 s) is an
/// [`Error::Backend`], which denies, never a partial document. A writer
/// that pauses longer than the settle time in the middle of a file cannot
/// be told from a finished one: write policies atomically (a new file
/// renamed over the old one), as editors and configuration tools do.
#[derive(Debug)]
pub struct FilePolicyStore {
    path: PathBuf,
    settle: Duration,
    /// The last document read in single-file mode.
    last: Mutex<Option<Last>>,
}

/// A document read in single-file mode: its text, the file's metadata when
/// the text was read, and the compiled policy.
#[derive(Debug)]
struct Last {
    text: String,
    stamp: Stamp,
    policy: Arc<CompiledPolicy>,
}

/// What tells one version of a file from another, as far as its metadata
/// can: a write changes the size or the times, a rename the inode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
    #[cfg(unix)]
    inode: (u64, u64),
    /// Status change time, which tools that restore an old modification
    /// time (`cp -p`, `touch -d`) cannot set back.
    #[cfg(unix)]
    changed: (i64, i64),
}

impl Stamp {
    fn of(meta: &std::fs::Metadata) -> Self {
        #[cfg(unix)]
        use std::os::unix::fs::MetadataExt as _;
        Self {
            len: meta.len(),
            modified: meta.modified().ok(),
            #[cfg(unix)]
            inode: (meta.dev(), meta.ino()),
            #[cfg(unix)]
            changed: (meta.ctime(), meta.ctime_nsec()),
        }
    }

    /// When the file last changed, if the platform says.
    fn last_change(&self) -> Option<SystemTime> {
        #[cfg(unix)]
        {
            let (secs, nanos) = self.changed;
            let changed = u64::try_from(secs).ok().and_then(|s| {
                let n = u32::try_from(nanos).ok()?;
                SystemTime::UNIX_EPOCH.checked_add(Duration::new(s, n))
            });
            match (self.modified, changed) {
                (Some(m), Some(c)) => Some(m.max(c)),
                (m, c) => m.or(c),
            }
        }
        #[cfg(not(unix))]
        {
            self.modified
        }
    }

    /// Whether the file has been unchanged for at least `settle` by the
    /// system clock. A change time in the future is not settled.
    fn settled(&self, settle: Duration) -> bool {
        self.last_change().is_some_and(|t| {
            SystemTime::now()
                .duration_since(t)
                .is_ok_and(|age| age >= settle)
        })
    }
}

impl FilePolicyStore {
    /// A store reading `path` (a file or a directory).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            settle: DEFAULT_FILE_SETTLE_TIME,
            last: Mutex::new(None),
        }
    }

    /// How long a file must have been unchanged before its text is used
    /// (see [Files edited in place](Self#files-edited-in-place));
    /// [`DEFAULT_FILE_SETTLE_TIME`] unless set. Longer tolerates slower writers;
    /// a read right after an edit waits up to this long.
    #[must_use]
    pub fn with_settle_time(mut self, settle: Duration) -> Self {
        self.settle = settle;
        self
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
                parameter: None,
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

    fn invalid(path: &Path, problem: Problem) -> Error {
        Error::Invalid {
            origin: path.display().to_string(),
            problems: vec![problem],
        }
    }

    /// Reads a regular file of bounded size as UTF-8, only once it is
    /// settled (see [Files edited in place](Self#files-edited-in-place)).
    async fn read(&self, profile: &str, path: &Path) -> Result<(String, Stamp)> {
        let started = tokio::time::Instant::now();
        let deadline =
            started + MIN_UNSETTLED_WAIT.max(self.settle.saturating_mul(UNSETTLED_WAIT_FACTOR));
        let pause = (self.settle / 4).max(Duration::from_millis(1));
        // The last stable read that was not yet settled, and when.
        let mut pending: Option<(Stamp, Vec<u8>, tokio::time::Instant)> = None;
        loop {
            let before = self.stat(profile, path).await?;
            let bytes = self.read_bytes(profile, path).await?;
            let after = self.stat(profile, path).await?;
            if before == after && after.len == bytes.len() as u64 {
                if after.settled(self.settle) {
                    return Ok((Self::text(path, bytes)?, after));
                }
                match &pending {
                    Some((stamp, seen, since)) if *stamp == after && *seen == bytes => {
                        if since.elapsed() >= self.settle {
                            return Ok((Self::text(path, bytes)?, after));
                        }
                    }
                    _ => pending = Some((after, bytes, tokio::time::Instant::now())),
                }
            }
            if tokio::time::Instant::now() + pause > deadline {
                return Err(Error::backend(
                    "file",
                    format!(
                        "{} kept changing while it was read for {:.1}s, so no policy was \
                         taken from it (a half-written policy could allow more than \
                         intended); write policy files atomically, as a new file renamed \
                         over the old one",
                        path.display(),
                        started.elapsed().as_secs_f64()
                    ),
                ));
            }
            tokio::time::sleep(pause).await;
        }
    }

    /// The metadata of a regular file.
    async fn stat(&self, profile: &str, path: &Path) -> Result<Stamp> {
        let meta = tokio::fs::metadata(path)
            .await
            .map_err(|e| self.io_error(profile, path, e))?;
        if !meta.is_file() {
            return Err(Self::invalid(
                path,
                Problem::new("", "not a regular file")
                    .help("a policy must be a plain YAML or JSON file"),
            ));
        }
        Ok(Stamp::of(&meta))
    }

    /// The bytes of a file of bounded size.
    async fn read_bytes(&self, profile: &str, path: &Path) -> Result<Vec<u8>> {
        let file = tokio::fs::File::open(path)
            .await
            .map_err(|e| self.io_error(profile, path, e))?;
        let mut bytes = Vec::new();
        file.take(MAX_DOCUMENT_BYTES as u64 + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| self.io_error(profile, path, e))?;
        if bytes.len() > MAX_DOCUMENT_BYTES {
            return Err(Self::invalid(
                path,
                Problem::new(
                    "",
                    format!("the file is larger than the limit of {MAX_DOCUMENT_BYTES} bytes"),
                )
                .help("split the policy into one file per profile"),
            ));
        }
        Ok(bytes)
    }

    fn text(path: &Path, bytes: Vec<u8>) -> Result<String> {
        String::from_utf8(bytes).map_err(|_| {
            Self::invalid(
                path,
                Problem::new("", "the file is not UTF-8 text").help("save it as UTF-8"),
            )
        })
    }

    async fn is_dir(&self, profile: &str) -> Result<bool> {
        match tokio::fs::metadata(&self.path).await {
            Ok(m) => Ok(m.is_dir()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(Error::NotFound {
                profile: profile.to_owned(),
                origin: self.path.display().to_string(),
                help: format!(
                    "the policy path {} does not exist; create the file or directory",
                    self.path.display()
                ),
                parameter: None,
            }),
            Err(e) => Err(self.io_error(profile, &self.path, e)),
        }
    }

    /// The single document, parsed only when its text changed.
    async fn single(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        let (text, stamp) = self.read(profile, &self.path).await?;
        if let Some(last) = &mut *self.lock_last()
            && last.text == text
        {
            last.stamp = stamp;
            return Ok(Arc::clone(&last.policy));
        }
        let policy = Arc::new(CompiledPolicy::parse(
            &text,
            &self.path.display().to_string(),
        )?);
        *self.lock_last() = Some(Last {
            text,
            stamp,
            policy: Arc::clone(&policy),
        });
        Ok(policy)
    }

    /// The last document read, when the path is still the file it was
    /// read from, unchanged by its metadata: one `stat`, done in place
    /// (it does not wait on the disk the way a read can).
    fn unchanged(&self) -> Option<Arc<CompiledPolicy>> {
        let meta = std::fs::metadata(&self.path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let stamp = Stamp::of(&meta);
        let last = self.lock_last();
        let last = last.as_ref()?;
        (last.stamp == stamp).then(|| Arc::clone(&last.policy))
    }

    fn lock_last(&self) -> std::sync::MutexGuard<'_, Option<Last>> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Names in the directory, exactly as stored.
    async fn entries(&self, profile: &str) -> Result<Vec<String>> {
        let mut dir = tokio::fs::read_dir(&self.path)
            .await
            .map_err(|e| self.io_error(profile, &self.path, e))?;
        let mut names = Vec::new();
        while let Some(entry) = dir
            .next_entry()
            .await
            .map_err(|e| self.io_error(profile, &self.path, e))?
        {
            if let Ok(name) = entry.file_name().into_string() {
                names.push(name);
            }
        }
        Ok(names)
    }
}

#[async_trait]
impl PolicyStore for FilePolicyStore {
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        check_profile_name(profile)?;
        if let Some(policy) = self.unchanged() {
            return Ok(policy);
        }
        if !self.is_dir(profile).await? {
            return self.single(profile).await;
        }
        let entries = self.entries(profile).await?;
        let found: Vec<PathBuf> = EXTENSIONS
            .iter()
            .map(|ext| format!("{profile}.{ext}"))
            .filter(|name| entries.contains(name))
            .map(|name| self.path.join(name))
            .collect();
        match found.as_slice() {
            [] => Err(Error::NotFound {
                profile: profile.to_owned(),
                origin: self.path.display().to_string(),
                help: format!(
                    "create {} with the policy for this profile",
                    self.path.join(format!("{profile}.yaml")).display()
                ),
                parameter: None,
            }),
            [one] => {
                let (text, _) = self.read(profile, one).await?;
                CompiledPolicy::parse(&text, &one.display().to_string()).map(Arc::new)
            }
            many => Err(Self::invalid(
                &self.path,
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
            )),
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        if !self.is_dir("").await? {
            // One document for all: the profiles it names.
            let policy = self.single("").await?;
            let doc = policy.document();
            let mut names: BTreeSet<String> = doc.profiles.keys().cloned().collect();
            for rule in &doc.rules {
                names.extend(rule.conditions.profiles.iter().cloned());
            }
            return Ok(names.into_iter().collect());
        }
        let names: BTreeSet<String> = self
            .entries("")
            .await?
            .into_iter()
            .filter_map(|name| {
                let (stem, ext) = name.rsplit_once('.')?;
                (EXTENSIONS.contains(&ext) && check_profile_name(stem).is_ok())
                    .then(|| stem.to_owned())
            })
            .collect();
        Ok(names.into_iter().collect())
    }

    fn describe(&self) -> String {
        self.path.display().to_string()
    }
}
