use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use async_trait::async_trait;

use super::{PolicyStore, check_profile_name};
use crate::error::{Error, Result};
use crate::policy::CompiledPolicy;

#[derive(Debug, Clone)]
enum Entry {
    Text(Arc<str>),
    Compiled(Arc<CompiledPolicy>),
}

/// Policies held in memory: the reference backend, and the one to use in
/// tests and doc examples. Clones share the same contents.
///
/// Text put with [`put_text`](Self::put_text) is parsed on every
/// [`get`](PolicyStore::get), exactly like the file and SSM backends, so a
/// broken document fails the same way.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// use sentinel_policy::{MemoryPolicyStore, PolicyStore};
/// let store = MemoryPolicyStore::new();
/// store.put_text("dev", "version: '1'\nrules: [{name: all, effect: allow}]")?;
/// assert_eq!(store.list().await?, vec!["dev".to_string()]);
/// assert_eq!(store.get("dev").await?.rule_count(), 1);
/// # Ok::<(), sentinel_policy::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct MemoryPolicyStore {
    entries: Arc<RwLock<BTreeMap<String, Entry>>>,
}

impl MemoryPolicyStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores policy text for `profile`, replacing what was there. It is
    /// parsed when read. Fails only for a name that
    /// [`check_profile_name`] refuses.
    pub fn put_text(&self, profile: &str, text: &str) -> Result<()> {
        check_profile_name(profile)?;
        self.write()
            .insert(profile.to_owned(), Entry::Text(Arc::from(text)));
        Ok(())
    }

    /// Stores an already compiled policy for `profile`. Fails only for a
    /// name that [`check_profile_name`] refuses.
    pub fn put(&self, profile: &str, policy: CompiledPolicy) -> Result<()> {
        check_profile_name(profile)?;
        self.write()
            .insert(profile.to_owned(), Entry::Compiled(Arc::new(policy)));
        Ok(())
    }

    /// Removes the policy of `profile`; returns whether there was one.
    pub fn remove(&self, profile: &str) -> bool {
        self.write().remove(profile).is_some()
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, BTreeMap<String, Entry>> {
        // A poisoned lock only means a writer panicked mid-insert of a
        // complete value; the map itself is consistent.
        self.entries
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Entry>> {
        self.entries
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl PolicyStore for MemoryPolicyStore {
    async fn get(&self, profile: &str) -> Result<Arc<CompiledPolicy>> {
        check_profile_name(profile)?;
        let entry = self.read().get(profile).cloned();
        match entry {
            Some(Entry::Compiled(p)) => Ok(p),
            Some(Entry::Text(text)) => {
                CompiledPolicy::parse(&text, &format!("memory:{profile}")).map(Arc::new)
            }
            None => Err(Error::NotFound {
                profile: profile.to_owned(),
                origin: self.describe(),
                help: "put a policy for this profile into the store".to_owned(),
                parameter: None,
            }),
        }
    }

    async fn list(&self) -> Result<Vec<String>> {
        Ok(self.read().keys().cloned().collect())
    }

    fn describe(&self) -> String {
        "memory".to_owned()
    }
}
