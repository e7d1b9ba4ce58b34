//! Name resolution, type and unit checking.
//!
//! Takes a parsed root file (and loads the stdlib modules it `use`s); gives
//! a [`Checked`] result: the typed [`Program`] and every diagnostic found.
//! Checking never stops at the first error: a failed expression gets type
//! [`Ty::Error`], which is compatible with everything, so one mistake gives
//! one diagnostic and the rest of the file is still checked.
//!
//! Files: `units` evaluates unit and type expressions; `expr` types
//! expressions; `body` checks twin and component bodies; `graph` finds
//! algebraic loops and the evaluation order; `runs` checks scenarios and
//! tests; `consts` evaluates compile-time constants; `generics` infers
//! unit parameters at calls, and `probe` stands in for them in generic
//! bodies and puts the inferred units back into members read through an
//! instance.

mod body;
mod call;
mod coerce;
mod consts;
mod expr;
mod generics;
mod graph;
mod instance;
mod names;
mod probe;
mod runs;
mod tables;
pub mod types;
mod units;

use std::collections::HashMap;

use crate::diagnostic::{self, Diagnostic, Kind};
use crate::hir::{Body, Enum, Function, Program, Run};
use crate::source::Sources;
use crate::span::{FileId, Span};
use crate::syntax::ast::{self, ItemKind};
use crate::units::UnitTable;
use types::Ty;

/// What checking gives.
#[derive(Clone, Debug, Default)]
pub struct Checked {
    /// The typed program (with error nodes where the source was wrong).
    pub program: Program,
    /// Syntax and semantic diagnostics, sorted by position.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Whether any diagnostic is an error.
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses and checks the file `root` of `sources`, loading the stdlib
/// modules it uses into `sources`. A module that `sources` already holds
/// under its path (`std::filters`) is used instead of the embedded one.
pub fn check(sources: &mut Sources, root: FileId) -> Checked {
    let mut checker = Checker::new();
    checker.load(sources, root);
    checker.run();
    let mut diagnostics = checker.diags;
    diagnostic::sort_and_dedup(&mut diagnostics);
    Checked {
        program: checker.program,
        diagnostics,
    }
}

/// The value of a checked expression made only of constants, if it has
/// one (used by lowering to spot whole exponents); `tables` are the
/// program's lookup tables.
pub fn const_eval(e: &crate::hir::TExpr, tables: &[crate::hir::Table]) -> Option<f64> {
    consts::eval(e, tables).and_then(consts::Value::as_f64)
}

/// What a top-level name denotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Global {
    Const(usize),
    Enum(usize),
    Fn(usize),
    Component(usize),
    Twin(usize),
    Unit(usize),
    Table(usize),
}

/// One loaded file: its tree and its top-level names.
pub(crate) struct Module {
    pub ast: std::rc::Rc<ast::Module>,
    pub names: HashMap<String, (Global, Span)>,
}

/// Where a global item lives.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ItemRef {
    pub module: usize,
    pub item: usize,
}

/// Progress of an item checked on demand.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Progress {
    Pending,
    Started,
    Done,
}

/// A checked constant's value.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ConstValue {
    pub ty: Ty,
    pub value: consts::Value,
}

pub(crate) struct Checker {
    pub modules: Vec<Module>,
    pub units: UnitTable,
    pub diags: Vec<Diagnostic>,
    pub program: Program,
    pub consts: Vec<(ItemRef, Progress, Option<ConstValue>)>,
    pub enum_items: Vec<ItemRef>,
    pub fn_items: Vec<(ItemRef, Progress)>,
    pub component_items: Vec<(ItemRef, Progress)>,
    pub twin_items: Vec<(ItemRef, Progress)>,
    pub unit_items: Vec<ItemRef>,
    pub table_items: Vec<(ItemRef, Progress)>,
    /// Globals that something refers to, with the module that refers to
    /// them (for unused warnings: a stdlib module's own uses of an item do
    /// not make the user's import of it used).
    pub used: std::collections::HashSet<(usize, Global)>,
    /// The body checks in progress, innermost last.
    pub stack: Vec<body::BodyState>,
    /// Every loaded file's text, for messages that quote the source.
    pub texts: HashMap<FileId, String>,
    /// The generic functions and components being checked, innermost last
    /// (by module and item).
    pub owners: Vec<(usize, usize)>,
    /// Per generic function or component, what in its body would be an
    /// `affine-misuse` if a unit parameter were an absolute temperature:
    /// the unit parameter's index and the diagnostic. A call that binds
    /// that parameter to one reports it there.
    pub point_blocked: HashMap<(usize, usize), Vec<(usize, Diagnostic)>>,
}

impl Checker {
    fn new() -> Checker {
        Checker {
            modules: Vec::new(),
            units: UnitTable::builtin(),
            diags: Vec::new(),
            program: Program::default(),
            consts: Vec::new(),
            enum_items: Vec::new(),
            fn_items: Vec::new(),
            component_items: Vec::new(),
            twin_items: Vec::new(),
            unit_items: Vec::new(),
            table_items: Vec::new(),
            used: Default::default(),
            stack: Vec::new(),
            texts: HashMap::new(),
            owners: Vec::new(),
            point_blocked: HashMap::new(),
        }
    }

    pub(crate) fn error(&mut self, d: Diagnostic) {
        self.diags.push(d);
    }

    /// Reports an `affine-misuse` about values of the dimensions `dims`.
    /// Inside a generic body, a bare unit parameter stands for a point
    /// whatever it is bound to, so a misuse of a dimension made of unit
    /// parameters is only one when a call binds them to absolute
    /// temperatures: it is kept for those calls instead
    /// ([`Checker::blocked_points`]).
    /// True when it was kept, and checking goes on as if the values were
    /// not temperatures.
    pub(crate) fn affine(
        &mut self,
        d: Diagnostic,
        dims: &[crate::units::Dimension],
        g: &[units::Generic],
    ) -> bool {
        let owner = self.owners.last().copied();
        let mut blamed = Vec::new();
        if let Some(owner) = owner
            && !g.is_empty()
        {
            for dim in dims {
                if let Some((_, exps)) = probe::split_probes(*dim, g.len()) {
                    blamed.extend((0..exps.len()).filter(|&i| !exps[i].is_zero()));
                }
            }
            if !blamed.is_empty() {
                let list = self.point_blocked.entry(owner).or_default();
                for i in blamed {
                    list.push((i, d.clone()));
                }
                return true;
            }
        }
        self.error(d);
        false
    }

    /// Reports, at a call of the generic item `callee` (at `span`), each
    /// unit parameter the call binds to an absolute temperature that the
    /// body cannot take one for. `solved` is what the call inferred.
    pub(crate) fn blocked_points(
        &mut self,
        callee: ItemRef,
        name: &str,
        generics: &[String],
        solved: &[Option<types::Quantity>],
        span: crate::span::Span,
        g: &[units::Generic],
    ) {
        let Some(blocked) = self.point_blocked.get(&(callee.module, callee.item)) else {
            return;
        };
        let mut found = Vec::new();
        for (i, q) in solved.iter().enumerate() {
            let Some(q) = q else { continue };
            if q.affinity != types::Affinity::Point {
                continue;
            }
            if let Some((_, inner)) = blocked.iter().find(|(k, _)| *k == i) {
                found.push((i, *q, inner.clone()));
            }
        }
        for (i, q, inner) in found {
            let param = generics.get(i).map_or("U", String::as_str);
            let d = Diagnostic::new(
                Kind::AffineMisuse,
                span,
                format!("`{name}` cannot take an absolute temperature for `{param}`"),
            )
            .label(format!("`{param}` is an absolute temperature here"))
            .with_secondary(inner.primary.span, format!("in `{name}`: {}", inner.message))
            .with_note("`degC` and `degF` values are points on a scale whose zero is arbitrary: they can be subtracted and compared, not added or scaled")
            .with_help(format!(
                "pass differences (in `K`), or write `{name}` so that it only subtracts and compares its `{param}` values"
            ));
            self.affine(d, &[q.dim], g);
        }
    }

    /// Parses `file` and, recursively, the stdlib modules it uses.
    fn load(&mut self, sources: &mut Sources, root: FileId) {
        let mut queue = vec![root];
        let mut loaded: HashMap<String, usize> = HashMap::new();
        let mut requested = std::collections::HashSet::new();
        let mut imports: Vec<(usize, ast::UsePath)> = Vec::new();
        while let Some(file) = queue.pop() {
            let text = sources.get(file).text.clone();
            let parsed = crate::syntax::parse(&text, file);
            self.texts.insert(file, text.clone());
            self.diags.extend(parsed.diagnostics);
            let index = self.modules.len();
            loaded.insert(sources.get(file).name.clone(), index);
            for item in &parsed.module.items {
                let ItemKind::Use(path) = &item.kind else {
                    continue;
                };
                imports.push((index, path.clone()));
                let module_path = module_path(path);
                if loaded.contains_key(&module_path) || !requested.insert(module_path.clone()) {
                    continue;
                }
                // A module already in `sources` under its path (a test's,
                // or an editor's unsaved copy) is used as it is.
                let id = match sources.find(&module_path) {
                    Some(id) => id,
                    None => match crate::stdlib::module(&module_path) {
                        Some(text) => sources.add(module_path.clone(), text),
                        None => continue,
                    },
                };
                queue.push(id);
            }
            self.modules.push(Module {
                ast: std::rc::Rc::new(parsed.module),
                names: HashMap::new(),
            });
        }
        for m in 0..self.modules.len() {
            self.declare_module(m);
        }
        for (m, path) in imports {
            self.import(m, &path, &loaded);
        }
    }

    /// Enters a module's own items into its namespace.
    fn declare_module(&mut self, m: usize) {
        for i in 0..self.modules[m].ast.items.len() {
            let at = ItemRef { module: m, item: i };
            let item = &self.modules[m].ast.items[i];
            let (global, name) = match &item.kind {
                ItemKind::Const(c) => {
                    self.consts.push((at, Progress::Pending, None));
                    (Global::Const(self.consts.len() - 1), c.name.clone())
                }
                ItemKind::Enum(e) => {
                    self.enum_items.push(at);
                    self.program.enums.push(Enum {
                        name: e.name.name.clone(),
                        variants: e.variants.iter().map(|v| v.name.clone()).collect(),
                    });
                    (Global::Enum(self.enum_items.len() - 1), e.name.clone())
                }
                ItemKind::Fn(f) => {
                    self.fn_items.push((at, Progress::Pending));
                    self.program.functions.push(Function {
                        name: f.name.name.clone(),
                        params: Vec::new(),
                        ret: Ty::Error,
                        body: crate::hir::TExpr {
                            kind: crate::hir::TExprKind::Error,
                            ty: Ty::Error,
                            span: f.name.span,
                        },
                    });
                    (Global::Fn(self.fn_items.len() - 1), f.name.clone())
                }
                ItemKind::Component(c) => {
                    self.component_items.push((at, Progress::Pending));
                    self.program.components.push(body::placeholder(&c.name));
                    (
                        Global::Component(self.component_items.len() - 1),
                        c.name.clone(),
                    )
                }
                ItemKind::Twin(t) => {
                    self.twin_items.push((at, Progress::Pending));
                    self.program.twins.push(body::placeholder(&t.name));
                    (Global::Twin(self.twin_items.len() - 1), t.name.clone())
                }
                ItemKind::Unit(u) => {
                    self.unit_items.push(at);
                    (Global::Unit(self.unit_items.len() - 1), u.name.clone())
                }
                ItemKind::Table(t) => {
                    self.table_items.push((at, Progress::Pending));
                    self.program.tables.push(crate::hir::Table {
                        name: t.name.name.clone(),
                        points: Vec::new(),
                        arg: Ty::Error,
                        x_unit: crate::hir::DisplayUnit::si(""),
                        ty: Ty::Error,
                        y_unit: crate::hir::DisplayUnit::si(""),
                    });
                    (Global::Table(self.table_items.len() - 1), t.name.clone())
                }
                _ => continue,
            };
            self.define_global(m, &name, global);
        }
    }

    fn define_global(&mut self, m: usize, name: &ast::Ident, global: Global) {
        let names = &mut self.modules[m].names;
        if let Some((_, first)) = names.get(&name.name) {
            let first = *first;
            self.diags.push(
                Diagnostic::new(
                    Kind::DuplicateDefinition,
                    name.span,
                    format!("`{}` is defined more than once", name.name),
                )
                .label("defined again here")
                .with_secondary(first, "first defined here")
                .with_help("rename one of them"),
            );
        } else {
            names.insert(name.name.clone(), (global, name.span));
        }
    }

    /// Makes `use a::b::Name` visible in module `m`.
    fn import(&mut self, m: usize, path: &ast::UsePath, loaded: &HashMap<String, usize>) {
        let Some(last) = path.segments.last() else {
            return;
        };
        let module_path = module_path(path);
        let span = path
            .segments
            .first()
            .map_or(last.span, |f| f.span.to(last.span));
        let Some(&target) = loaded.get(&module_path) else {
            let known: Vec<&str> = crate::stdlib::MODULES.iter().map(|(p, _)| *p).collect();
            let mut d = Diagnostic::new(
                Kind::UnknownName,
                span,
                format!("there is no module `{module_path}`"),
            )
            .label("unknown module");
            if let Some(best) = crate::units::closest(&module_path, known.iter().copied()) {
                d = d.with_help(format!("did you mean `{best}`?"));
            } else {
                d = d.with_note(format!("the standard library has: {}", known.join(", ")));
            }
            self.diags.push(d);
            return;
        };
        let Some(&(global, _)) = self.modules[target].names.get(&last.name) else {
            let names: Vec<String> = self.modules[target].names.keys().cloned().collect();
            let mut d = Diagnostic::new(
                Kind::UnknownName,
                last.span,
                format!("`{module_path}` has no item `{}`", last.name),
            )
            .label("not found in this module");
            if let Some(best) = crate::units::closest(&last.name, names.iter().map(String::as_str))
            {
                d = d.with_help(format!("did you mean `{best}`?"));
            }
            self.diags.push(d);
            return;
        };
        self.define_global(m, last, global);
    }

    /// Checks everything, in an order where on-demand checks fill in
    /// what an item needs before it is needed.
    fn run(&mut self) {
        for i in 0..self.unit_items.len() {
            self.check_unit_decl(i);
        }
        for i in 0..self.table_items.len() {
            let span = self.item(self.table_items[i].0).span;
            self.ensure_table(i, span);
        }
        for i in 0..self.consts.len() {
            self.const_value(i);
        }
        for i in 0..self.fn_items.len() {
            self.check_fn(i);
        }
        for i in 0..self.component_items.len() {
            self.component(i);
        }
        for i in 0..self.twin_items.len() {
            self.twin(i);
        }
        self.check_runs();
        self.warn_unused_globals();
    }

    pub(crate) fn item(&self, at: ItemRef) -> &ast::Item {
        &self.modules[at.module].ast.items[at.item]
    }

    /// Looks up a top-level name as seen from module `m`, marking it used.
    pub(crate) fn global(&mut self, m: usize, name: &str) -> Option<Global> {
        let g = self.modules[m].names.get(name).map(|(g, _)| *g)?;
        self.used.insert((m, g));
        Some(g)
    }

    /// The checked body of component `i`, checking it first if needed.
    pub(crate) fn component(&mut self, i: usize) -> Option<&Body> {
        match self.component_items[i].1 {
            Progress::Done => Some(&self.program.components[i]),
            Progress::Started => None,
            Progress::Pending => {
                self.component_items[i].1 = Progress::Started;
                let at = self.component_items[i].0;
                let body = self.check_body(at);
                self.program.components[i] = body;
                self.component_items[i].1 = Progress::Done;
                Some(&self.program.components[i])
            }
        }
    }

    /// The checked body of twin `i`, checking it first if needed.
    pub(crate) fn twin(&mut self, i: usize) -> Option<&Body> {
        match self.twin_items[i].1 {
            Progress::Done => Some(&self.program.twins[i]),
            Progress::Started => None,
            Progress::Pending => {
                self.twin_items[i].1 = Progress::Started;
                let at = self.twin_items[i].0;
                let body = self.check_body(at);
                self.program.twins[i] = body;
                self.twin_items[i].1 = Progress::Done;
                Some(&self.program.twins[i])
            }
        }
    }

    fn check_runs(&mut self) {
        for m in 0..self.modules.len() {
            for i in 0..self.modules[m].ast.items.len() {
                let at = ItemRef { module: m, item: i };
                let run: Option<Run> = match &self.item(at).kind {
                    ItemKind::Scenario(_) | ItemKind::Test(_) => self.check_run(at),
                    _ => None,
                };
                if let Some(run) = run {
                    if matches!(self.item(at).kind, ItemKind::Scenario(_)) {
                        self.program.scenarios.push(run);
                    } else {
                        self.program.tests.push(run);
                    }
                }
            }
        }
    }

    /// Warns about items of the root module that nothing uses. Twins,
    /// scenarios and tests are entry points and never unused.
    fn warn_unused_globals(&mut self) {
        let Some(root) = self.modules.first() else {
            return;
        };
        let mut warnings = Vec::new();
        for item in &root.ast.items {
            // A documented item is part of the file's interface (a library
            // component, say): not using it here is no mistake.
            if item.doc.is_some() && !matches!(item.kind, ItemKind::Use(_)) {
                continue;
            }
            let (name, what) = match &item.kind {
                ItemKind::Const(c) => (&c.name, "constant"),
                ItemKind::Table(t) => (&t.name, "table"),
                ItemKind::Fn(f) => (&f.name, "function"),
                ItemKind::Component(c) => (&c.name, "component"),
                ItemKind::Unit(u) => (&u.name, "unit"),
                ItemKind::Enum(e) => (&e.name, "enum"),
                ItemKind::Use(p) => match p.segments.last() {
                    Some(last) => (last, "import"),
                    None => continue,
                },
                _ => continue,
            };
            if name.name.starts_with('_') {
                continue;
            }
            let Some((global, _)) = root.names.get(&name.name) else {
                continue;
            };
            if !self.used.contains(&(0, *global)) {
                warnings.push(
                    Diagnostic::new(
                        Kind::UnusedDefinition,
                        name.span,
                        format!("{what} `{}` is never used", name.name),
                    )
                    .label("never used")
                    .with_help(if what == "import" {
                        "remove the `use`".to_string()
                    } else {
                        format!(
                            "remove it, or use it; an underscore prefix (`_{}`) silences this",
                            name.name
                        )
                    }),
                );
            }
        }
        self.diags.extend(warnings);
    }
}

/// `std::filters` for `use std::filters::Lag`.
fn module_path(path: &ast::UsePath) -> String {
    let n = path.segments.len().saturating_sub(1);
    path.segments[..n]
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join("::")
}
