//! Names and what they denote, for the editor.
//!
//! Takes a file's syntax tree (and the stdlib trees it may `use`); gives an
//! [`Index`]: every definition ([`Def`]) the file declares or refers to,
//! every occurrence of a name in the file linked to its definition, and
//! the scope of each top-level item (for completion). Go to definition,
//! references, rename, hover and semantic tokens all read it.
//!
//! It follows the language's rules (reference §6.2) without re-checking:
//! inside a body a name is a member (or a parameter or unit parameter),
//! then a built-in value, then a top-level item or import; `a.b` reads
//! member `b` of the instance `a`; a named argument names a parameter of
//! the callee; `Enum::Variant` a variant. A name that does not resolve is
//! simply not indexed (the checker reports it). Definitions are keyed by
//! their module and the byte range of their name ([`DefKey`]), so the same
//! stdlib component is one definition in every open file.

mod resolve;

use std::collections::HashMap;

use twin_compiler::syntax::ast;

use crate::stdlib;

/// The module a definition lives in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ModuleKey {
    /// A user file, by URI.
    File(String),
    /// A stdlib module, by path (`std::filters`).
    Std(&'static str),
}

/// The identity of a definition: its module and where its name is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DefKey {
    /// The module.
    pub module: ModuleKey,
    /// First byte of the name.
    pub start: u32,
    /// One past its last byte.
    pub end: u32,
}

/// What a definition is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DefKind {
    /// `twin`
    Twin,
    /// `component`
    Component,
    /// `fn`
    Function,
    /// `const name = table(...)`
    Table,
    /// `const`
    Const,
    /// `unit`
    Unit,
    /// `enum`
    Enum,
    /// An enum variant.
    Variant,
    /// A component's input (signature parameter).
    Input,
    /// A function's parameter.
    FnParam,
    /// A unit parameter `<U>`.
    Generic,
    /// `sensor`
    Sensor,
    /// `actuator`
    Actuator,
    /// `param`
    Param,
    /// `state`
    State,
    /// `var`
    Var,
    /// `let`
    Let,
    /// `name = Component(...)`
    Instance,
    /// `out`
    Out,
    /// `alarm`
    Alarm,
    /// `scenario`
    Scenario,
    /// `test`
    Test,
}

impl DefKind {
    /// The keyword or word that introduces it, for hover and completion.
    pub fn word(self) -> &'static str {
        match self {
            DefKind::Twin => "twin",
            DefKind::Component => "component",
            DefKind::Function => "fn",
            DefKind::Table => "table",
            DefKind::Const => "const",
            DefKind::Unit => "unit",
            DefKind::Enum => "enum",
            DefKind::Variant => "variant",
            DefKind::Input => "input",
            DefKind::FnParam => "parameter",
            DefKind::Generic => "unit parameter",
            DefKind::Sensor => "sensor",
            DefKind::Actuator => "actuator",
            DefKind::Param => "param",
            DefKind::State => "state",
            DefKind::Var => "var",
            DefKind::Let => "let",
            DefKind::Instance => "instance",
            DefKind::Out => "out",
            DefKind::Alarm => "alarm",
            DefKind::Scenario => "scenario",
            DefKind::Test => "test",
        }
    }

    /// Whether it is a member of a twin or component body.
    pub fn is_member(self) -> bool {
        matches!(
            self,
            DefKind::Input
                | DefKind::Sensor
                | DefKind::Actuator
                | DefKind::Param
                | DefKind::State
                | DefKind::Var
                | DefKind::Let
                | DefKind::Instance
                | DefKind::Out
                | DefKind::Alarm
        )
    }
}

/// A definition.
#[derive(Clone, Debug)]
pub struct Def {
    /// Its identity.
    pub key: DefKey,
    /// Its name.
    pub name: String,
    /// What it is.
    pub kind: DefKind,
    /// Its `///` documentation.
    pub doc: Option<String>,
    /// The whole declaration (byte range in its module).
    pub decl: (u32, u32),
    /// The twin, component, function or enum it belongs to.
    pub container: Option<String>,
    /// For an instance: the definition of what it instantiates.
    pub target: Option<usize>,
}

/// One written name, linked to its definition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Occurrence {
    /// First byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
    /// The definition (index in [`Index::defs`]).
    pub def: usize,
    /// Whether this is the defining occurrence.
    pub is_def: bool,
}

/// The names visible inside one top-level item, for completion.
#[derive(Clone, Debug)]
pub struct ItemScope {
    /// The item's byte range.
    pub start: u32,
    /// See `start`.
    pub end: u32,
    /// Members, parameters and unit parameters visible inside it.
    pub names: Vec<usize>,
    /// Whether `t` and `dt` are in scope (bodies; `t` alone in runs).
    pub body: bool,
}

/// Everything [`build`] finds.
#[derive(Clone, Debug, Default)]
pub struct Index {
    /// Definitions declared in or referred to by the file.
    pub defs: Vec<Def>,
    /// Every resolved name in the file, sorted by position.
    pub occurrences: Vec<Occurrence>,
    /// Top-level names visible in the file (items and imports).
    pub globals: Vec<(String, usize)>,
    /// One per twin, component, function, scenario and test.
    pub scopes: Vec<ItemScope>,
    /// Names in unit and type position that no definition in the file
    /// declares: built-in units, `Real`, `Int`, `Bool` (and unknown ones).
    pub unit_names: Vec<(u32, u32)>,
    pub(crate) by_key: HashMap<DefKey, usize>,
}

impl Index {
    /// The occurrence at byte `offset` (touching it counts, for cursors
    /// just after a name).
    pub fn at(&self, offset: u32) -> Option<&Occurrence> {
        let i = self.occurrences.partition_point(|o| o.end < offset);
        self.occurrences[i..]
            .iter()
            .take_while(|o| o.start <= offset)
            .find(|o| o.start <= offset && offset <= o.end)
    }

    /// The definition with this key, if the file knows it.
    pub fn find(&self, key: &DefKey) -> Option<usize> {
        self.by_key.get(key).copied()
    }

    /// The occurrences of definition `def`.
    pub fn uses(&self, def: usize) -> impl Iterator<Item = &Occurrence> {
        self.occurrences.iter().filter(move |o| o.def == def)
    }

    /// The scope of the top-level item holding `offset`.
    pub fn scope_at(&self, offset: u32) -> Option<&ItemScope> {
        self.scopes
            .iter()
            .find(|s| s.start <= offset && offset <= s.end)
    }

    /// The members of a twin or component definition, when known.
    pub fn members_of(&self, def: usize) -> Vec<usize> {
        let Some(d) = self.defs.get(def) else {
            return Vec::new();
        };
        (0..self.defs.len())
            .filter(|&i| {
                let m = &self.defs[i];
                m.kind.is_member()
                    && m.key.module == d.key.module
                    && m.container.as_deref() == Some(d.name.as_str())
                    && m.decl.0 >= d.decl.0
                    && m.decl.1 <= d.decl.1
            })
            .collect()
    }
}

/// Indexes `root`, a file whose definitions are keyed `key`.
pub fn build(root: &ast::Module, key: ModuleKey) -> Index {
    let mut modules = vec![resolve::ModuleCtx {
        key: key.clone(),
        ast: root,
        globals: HashMap::new(),
    }];
    for m in stdlib::modules() {
        if key == ModuleKey::Std(m.path) {
            continue;
        }
        modules.push(resolve::ModuleCtx {
            key: ModuleKey::Std(m.path),
            ast: &m.ast,
            globals: HashMap::new(),
        });
    }
    let mut r = resolve::Resolver {
        modules,
        index: Index::default(),
        item_defs: HashMap::new(),
        children: HashMap::new(),
    };
    r.declare_globals();
    r.walk_root();
    let mut index = r.index;
    index.occurrences.sort_by_key(|o| (o.start, o.end));
    index.occurrences.dedup();
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use twin_compiler::span::FileId;

    /// The kind of what the name at each `|` marker denotes (markers are
    /// removed from the text first).
    fn kinds_at(src: &str) -> Vec<Option<DefKind>> {
        let text = src.replace('|', "");
        let module = twin_compiler::syntax::parse(&text, FileId(0)).module;
        let index = build(&module, ModuleKey::File("t".into()));
        src.match_indices('|')
            .enumerate()
            .map(|(n, (i, _))| {
                let at = (i - n) as u32;
                index.at(at).map(|o| index.defs[o.def].kind)
            })
            .collect()
    }

    #[test]
    fn every_kind_of_name_resolves() {
        let src = "use std::filters::|Lag\nunit lpm = L/min\nenum Mode { Off, On }\n\
            fn area<U>(w: U, h: m) -> U*m = |w * h\n\
            component C<U>(x: |U) -> U {\n    state s: U = x\n    der(|s) = (x - s) / 1 s\n    return s\n}\n\
            twin T {\n    sensor f: |lpm\n    var m: |Mode = Mode::|On\n    inner = |C(|x: f)\n    \
            let a = inner + |Lag(x: f, tau: 1 s)\n    alarm hot: info when |f > 1 lpm\n    on |hot {\n        |m = Mode::Off\n    }\n}\n\
            twin S {\n    t1 = T()\n    let g = t1.|f\n}\n\
            scenario run for |T {\n    set |f = 2 lpm\n}\n";
        assert_eq!(
            kinds_at(src),
            [
                Some(DefKind::Component),
                Some(DefKind::FnParam),
                Some(DefKind::Generic),
                Some(DefKind::State),
                Some(DefKind::Unit),
                Some(DefKind::Enum),
                Some(DefKind::Variant),
                Some(DefKind::Component),
                Some(DefKind::Input),
                Some(DefKind::Component),
                Some(DefKind::Sensor),
                Some(DefKind::Alarm),
                Some(DefKind::Var),
                Some(DefKind::Sensor),
                Some(DefKind::Twin),
                Some(DefKind::Sensor),
            ]
        );
    }
}
