//! A run's scratch directory: the upper layers of the copy-on-write overlays that make the
//! workspace and the target directory writable inside ([`Sandbox::writable_workspace`]).
//!
//! One temporary directory per run on the host, `$TMPDIR/sandboxed-scratch-<pid>-XXXXXX`, made
//! when the plan shows the first such directory, with `upper-<n>/` and `work-<n>/` for the `n`th.
//! The child mounts an overlay of the host directory (lower) and `upper-<n>` at the directory's
//! own path, so whatever the program writes there lands in `upper-<n>`. After the end,
//! [`report::carry`](crate::report::carry) carries the tools' outputs back to the host, and
//! dropping the [`Scratch`] removes the directory — also when the run failed or was killed
//! (a process killed before its destructors ran leaves it for the next process's sweep).
//!
//! [`Sandbox::writable_workspace`]: crate::Sandbox::writable_workspace

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::plan::fixture::{make_temp_dir, remove_tree};

/// One host directory shown through a copy-on-write overlay.
#[derive(Debug)]
pub(crate) struct Layer {
    /// The host directory (canonical), shown at the same path inside.
    pub host: PathBuf,
    /// The overlay's upper layer: what the program wrote there.
    pub upper: PathBuf,
    /// The overlay's work directory.
    pub work: PathBuf,
}

/// The scratch directory of one run, removed on drop.
#[derive(Debug)]
pub(crate) struct Scratch {
    /// The temporary directory (canonical).
    pub dir: PathBuf,
    pub layers: Vec<Layer>,
}

impl Scratch {
    /// A fresh, empty scratch directory.
    pub(crate) fn new() -> Result<Scratch, Error> {
        Ok(Scratch {
            dir: make_temp_dir("scratch")?,
            layers: Vec::new(),
        })
    }

    /// Add the layers for showing `host` writable, and return them.
    pub(crate) fn add(&mut self, host: &Path) -> Result<&Layer, Error> {
        let n = self.layers.len();
        let upper = self.dir.join(format!("upper-{n}"));
        let work = self.dir.join(format!("work-{n}"));
        for dir in [&upper, &work] {
            std::fs::create_dir(dir)
                .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
        }
        self.layers.push(Layer {
            host: host.to_owned(),
            upper,
            work,
        });
        Ok(&self.layers[n])
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        remove_tree(&self.dir);
    }
}
