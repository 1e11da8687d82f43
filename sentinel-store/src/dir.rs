//! Private directories for state and logs.

use std::io;
use std::path::Path;

/// Makes `dir` a private directory for Sentinel's state or log files:
/// creates it and any missing parents with mode 0700 (on Unix), and
/// tightens an existing one that others may read or enter (0755 from an
/// older Sentinel or a plain `mkdir`) to its owner's permissions only.
///
/// An existing directory is left as it is when it is not the current
/// user's, when it is shared by design (sticky bit or writable by
/// everyone, like `/tmp`) or when it is the user's home directory: keep
/// Sentinel's files in a directory of their own. The files themselves are
/// created 0600 either way. Elsewhere than Unix the directory is only
/// created.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(dir)?;
    #[cfg(unix)]
    tighten(dir)?;
    Ok(())
}

#[cfg(unix)]
fn tighten(dir: &Path) -> io::Result<()> {
    use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
    let meta = std::fs::metadata(dir)?;
    let mode = meta.mode();
    let shared = mode & 0o1000 != 0 || mode & 0o002 != 0;
    let ours = meta.uid() == rustix::process::geteuid().as_raw();
    let home = std::env::var_os("HOME")
        .and_then(|h| std::fs::canonicalize(h).ok())
        .zip(std::fs::canonicalize(dir).ok())
        .is_some_and(|(h, d)| h == d);
    if mode & 0o077 == 0 || shared || !ours || home {
        return Ok(());
    }
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(mode & 0o700))
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn new_directories_are_private() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("state/sentinel");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&tmp.path().join("state")), 0o700);
        // Again: nothing to do.
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn open_directories_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("sentinel");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
    }

    #[test]
    fn shared_directories_are_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("shared");
        std::fs::create_dir(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o1777)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o1777);
    }
}
