//! Files the commands write (`export --output`, `bundle --output`): nothing of the user's is
//! destroyed by writing one.
//!
//! - An existing file (or symlink, or anything else at the path) is refused unless `--force`.
//! - A path inside the log directory being read is refused, even for a new file, with or
//!   without `--force`: a reading command never writes into a log (an export named like a
//!   segment would replace that segment, and any stray file is one a later open must explain).
//! - The content goes to a temporary file beside the output (`.NAME.XXXXXX.partial`), fsynced,
//!   then renamed into place: a failed or interrupted command leaves the old file (if any) as it
//!   was and no half-written one. Without `--force` the rename itself refuses to replace a file
//!   that appeared meanwhile (`renameat2(RENAME_NOREPLACE)`), so the check and the write are one
//!   step. With `--force` the rename replaces the directory entry, not the file's contents: a
//!   file hard-linked elsewhere, or the target of a symlink, is left untouched.
//!
//! The new file gets mode 0666 less the umask, as `File::create` would give it.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::commands::{Failure, EXIT_INPUT};

/// Why an output file was refused or could not be written.
#[derive(Debug)]
#[non_exhaustive]
pub enum OutputError {
    /// Something is already at the path and `--force` was not given.
    Exists { path: PathBuf },
    /// The path names a directory, or ends in `..`: there is no file to write.
    NotAFile { path: PathBuf },
    /// The path is inside the log directory being read.
    InsideLog { path: PathBuf, log: PathBuf },
    /// The file system refused: the path and the error.
    Io { path: PathBuf, source: std::io::Error },
}

impl fmt::Display for OutputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exists { path } => write!(
                f,
                "{}: already exists; not overwriting it (give --force to replace it)",
                path.display()
            ),
            Self::NotAFile { path } => {
                write!(
                    f,
                    "{}: not a file name (a directory?); give a file to write",
                    path.display()
                )
            }
            Self::InsideLog { path, log } => write!(
                f,
                "{}: inside the log directory {} being read; a reading command never writes \
                 into a log: choose a path outside it",
                path.display(),
                log.display()
            ),
            Self::Io { path, source } => write!(f, "{}: {source}", path.display()),
        }
    }
}

impl std::error::Error for OutputError {}

impl From<OutputError> for Failure {
    fn from(e: OutputError) -> Self {
        Failure { message: e.to_string(), code: EXIT_INPUT }
    }
}

/// An output file being written: a temporary file until [`OutputFile::commit`].
pub struct OutputFile {
    path: PathBuf,
    temp: tempfile::NamedTempFile,
    force: bool,
}

impl OutputFile {
    /// Checks `path` against the rules of the module and starts the temporary file beside it.
    pub fn create(path: &Path, force: bool, log_dir: &Path) -> Result<OutputFile, OutputError> {
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |source| OutputError::Io { path: p, source }
        };
        let Some(name) = path.file_name() else {
            return Err(OutputError::NotAFile { path: path.to_owned() });
        };
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        dir.canonicalize().map_err(io(dir))?; // a missing directory: say so, by its name
                                              // The directory the name goes in is what matters: a symlink there that points into the
                                              // log is replaced by the rename, not written through.
        outside_log(dir, log_dir).map_err(|e| match e {
            OutputError::InsideLog { log, .. } => {
                OutputError::InsideLog { path: path.to_owned(), log }
            }
            other => other,
        })?;
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => return Err(OutputError::NotAFile { path: path.to_owned() }),
            Ok(_) if !force => return Err(OutputError::Exists { path: path.to_owned() }),
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(path)(e)),
        }
        let mut prefix = std::ffi::OsString::from(".");
        prefix.push(name);
        prefix.push(".");
        let temp = tempfile::Builder::new()
            .prefix(&prefix)
            .suffix(".partial")
            .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666))
            .tempfile_in(dir)
            .map_err(io(dir))?;
        Ok(OutputFile { path: path.to_owned(), temp, force })
    }

    /// A handle to write the content through (it shares the temporary file's offset).
    pub fn file(&self) -> Result<std::fs::File, OutputError> {
        self.temp
            .as_file()
            .try_clone()
            .map_err(|source| OutputError::Io { path: self.temp.path().to_owned(), source })
    }

    /// Fsyncs the content and renames it into place (refusing to replace a file unless
    /// `--force`), then fsyncs the directory so the name is durable too.
    pub fn commit(self) -> Result<(), OutputError> {
        let Self { path, temp, force } = self;
        let io = |source| OutputError::Io { path: path.clone(), source };
        temp.as_file().sync_all().map_err(io)?;
        let persisted = if force { temp.persist(&path) } else { temp.persist_noclobber(&path) };
        // The temporary file is removed when the error (which owns it) is dropped.
        persisted.map_err(|e| match e.error.kind() {
            std::io::ErrorKind::AlreadyExists => OutputError::Exists { path: path.clone() },
            _ => io(e.error),
        })?;
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        std::fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)
    }
}

/// Refuses `path` (a file or directory to be written, existing or not) if it is inside
/// `log_dir`, or is `log_dir` itself. Symlinks are resolved: the nearest existing ancestor of
/// `path` is compared with the log directory's real path.
pub fn outside_log(path: &Path, log_dir: &Path) -> Result<(), OutputError> {
    let log_real = log_dir
        .canonicalize()
        .map_err(|source| OutputError::Io { path: log_dir.to_owned(), source })?;
    let absolute = std::path::absolute(path)
        .map_err(|source| OutputError::Io { path: path.to_owned(), source })?;
    // `absolute` keeps `..`: canonicalizing the nearest existing ancestor resolves them, and
    // the rest (names still to be created) cannot lead outside it except by `..`, refused.
    let existing = absolute.ancestors().find(|a| a.exists()).unwrap_or(Path::new("/"));
    let rest = absolute.strip_prefix(existing).unwrap_or(Path::new(""));
    let real = existing
        .canonicalize()
        .map_err(|source| OutputError::Io { path: existing.to_owned(), source })?;
    let climbs = rest.components().any(|c| c == std::path::Component::ParentDir);
    if real.starts_with(&log_real) || climbs {
        return Err(OutputError::InsideLog { path: path.to_owned(), log: log_dir.to_owned() });
    }
    Ok(())
}

/// Writes `bytes` as a new output file, by the rules of the module.
pub fn write_new(
    path: &Path,
    bytes: &[u8],
    force: bool,
    log_dir: &Path,
) -> Result<(), OutputError> {
    use std::io::Write;
    let output = OutputFile::create(path, force, log_dir)?;
    output
        .file()?
        .write_all(bytes)
        .map_err(|source| OutputError::Io { path: path.to_owned(), source })?;
    output.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_existing_file_is_kept_unless_forced_and_the_log_directory_is_never_written() {
        // Goal: the three rules, at the function every output goes through. Method: a fake log
        // directory holding a "segment", and outputs aimed at it, beside it and over a file.
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("log");
        std::fs::create_dir(&log).unwrap();
        let segment = log.join("00000000000000000001.wal");
        std::fs::write(&segment, b"segment").unwrap();
        let mine = tmp.path().join("mine.txt");
        std::fs::write(&mine, b"mine").unwrap();

        for force in [false, true] {
            let inside = write_new(&segment, b"x", force, &log).unwrap_err();
            assert!(matches!(inside, OutputError::InsideLog { .. }), "{inside}");
            let new_inside = write_new(&log.join("new.csv"), b"x", force, &log).unwrap_err();
            assert!(matches!(new_inside, OutputError::InsideLog { .. }), "{new_inside}");
            let dir = write_new(&log, b"x", force, &tmp.path().join("elsewhere"));
            assert!(dir.is_err());
        }
        assert_eq!(std::fs::read(&segment).unwrap(), b"segment");
        assert!(!log.join("new.csv").exists());

        let refused = write_new(&mine, b"new", false, &log).unwrap_err();
        assert!(matches!(refused, OutputError::Exists { .. }), "{refused}");
        assert_eq!(std::fs::read(&mine).unwrap(), b"mine");
        write_new(&mine, b"new", true, &log).unwrap();
        assert_eq!(std::fs::read(&mine).unwrap(), b"new");

        let fresh = tmp.path().join("fresh.txt");
        write_new(&fresh, b"fresh", false, &log).unwrap();
        assert_eq!(std::fs::read(&fresh).unwrap(), b"fresh");
        let names: Vec<_> = std::fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap()).collect();
        assert!(
            names.iter().all(|e| !e.file_name().to_string_lossy().ends_with(".partial")),
            "no temporary file is left behind"
        );
    }

    #[test]
    fn a_directory_to_be_created_inside_the_log_is_refused_however_it_is_spelt() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("log");
        std::fs::create_dir(&log).unwrap();
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(&log, &link).unwrap();
        let inside =
            [log.clone(), log.join("a/b"), log.join("x/../y"), link.join("new"), log.join(".")];
        for path in inside {
            let refused = outside_log(&path, &log);
            assert!(matches!(refused, Err(OutputError::InsideLog { .. })), "{path:?}");
        }
        for path in [tmp.path().join("salvaged"), tmp.path().join("logs"), tmp.path().join("a/b")] {
            outside_log(&path, &log).unwrap();
        }
    }

    #[test]
    fn a_forced_output_over_a_hard_link_or_symlink_replaces_the_name_not_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let log = tmp.path().join("log");
        std::fs::create_dir(&log).unwrap();
        let segment = log.join("00000000000000000001.wal");
        std::fs::write(&segment, b"segment").unwrap();
        let hard = tmp.path().join("hard");
        std::fs::hard_link(&segment, &hard).unwrap();
        let soft = tmp.path().join("soft");
        std::os::unix::fs::symlink(&segment, &soft).unwrap();
        for path in [&hard, &soft] {
            assert!(matches!(write_new(path, b"x", false, &log), Err(OutputError::Exists { .. })));
            write_new(path, b"export", true, &log).unwrap();
            assert_eq!(std::fs::read(path).unwrap(), b"export");
        }
        assert_eq!(std::fs::read(&segment).unwrap(), b"segment");
    }
}
