//! Hot reload: notice that the model file changed and compile it again.
//!
//! Takes the model file's path and the twin's name; gives
//! [`compile`], which checks and lowers the file the way `twinc check`
//! does (diagnostics rendered as text, without colour, on failure), and
//! [`watch`], a thread that polls the file's modification time and sends
//! [`Input::Reload`] when it changes. The runner compiles, migrates the
//! fleet's state by slot name when the new model is good, and keeps the
//! old model running when it is not.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, SystemTime};

use twin_compiler::check::check;
use twin_compiler::diagnostic::render::render_all;
use twin_compiler::ir::Model;
use twin_compiler::source::Sources;
use twin_compiler::span::FileId;

use super::Input;

/// How often the model file is looked at.
const POLL: Duration = Duration::from_millis(500);

/// Checks and lowers the twin `twin` (or the file's only twin) of the
/// model at `path`. Gives the model, or the rendered diagnostics or the
/// reason it cannot be used.
pub fn compile(path: &Path, twin: Option<&str>) -> Result<Model, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    let mut sources = Sources::new();
    let root = sources.add(path.display().to_string(), text);
    let checked = check(&mut sources, root);
    if checked.has_errors() {
        return Err(render_all(&sources, &checked.diagnostics, false));
    }
    let program = &checked.program;
    let root_name = &sources.get(FileId(0)).name;
    let ours: Vec<usize> = program
        .twins
        .iter()
        .enumerate()
        .filter(|(_, t)| sources.get(t.span.file).name == *root_name)
        .map(|(i, _)| i)
        .collect();
    let index = match twin {
        Some(name) => ours
            .iter()
            .copied()
            .find(|i| program.twins[*i].name == name)
            .ok_or_else(|| format!("`{}` has no twin `{name}`", path.display()))?,
        None => match ours.as_slice() {
            [one] => *one,
            [] => return Err(format!("`{}` has no twin", path.display())),
            _ => {
                return Err(format!(
                    "`{}` has several twins; name one with `twin = ...` in the manifest",
                    path.display()
                ));
            }
        },
    };
    twin_compiler::ir::lower::lower(program, index).map_err(|e| format!("{}: {e}", path.display()))
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

/// Watches `path` until `stop` is set; sends [`Input::Reload`] after each
/// change (once the file has stopped changing for one poll, so an editor's
/// partial write is not compiled).
pub fn watch(path: PathBuf, tx: Sender<Input>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        let mut seen = modified(&path);
        let mut pending = false;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(POLL);
            let now = modified(&path);
            if now != seen {
                seen = now;
                pending = true;
                continue;
            }
            if pending {
                pending = false;
                if tx.send(Input::Reload).is_err() {
                    return;
                }
            }
        }
    });
}
