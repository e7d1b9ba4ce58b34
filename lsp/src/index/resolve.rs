//! The resolver behind [`super::build`]: walks the root file's tree with
//! the scopes of the language and records definitions and occurrences.

use std::collections::HashMap;

use twin_compiler::span::Span;
use twin_compiler::syntax::ast::{
    self, Arg, Decl, DeclKind, Expr, ExprKind, ItemKind, Path, Stmt, StmtKind, StrPart, TypeExpr,
    UnitExpr, UnitExprKind,
};

use super::{Def, DefKey, DefKind, Index, ItemScope, ModuleKey, Occurrence};

/// One module the resolver can look into.
pub(super) struct ModuleCtx<'a> {
    pub key: ModuleKey,
    pub ast: &'a ast::Module,
    /// Top-level names: (module, item) of their definitions.
    pub globals: HashMap<String, (usize, usize)>,
}

/// A lexical scope: the names a body or function adds before globals.
#[derive(Default)]
struct Scope {
    names: HashMap<String, usize>,
}

pub(super) struct Resolver<'a> {
    pub modules: Vec<ModuleCtx<'a>>,
    pub index: Index,
    pub item_defs: HashMap<(usize, usize), Option<usize>>,
    pub children: HashMap<(usize, usize), Vec<usize>>,
}

/// The name an item defines, with its kind.
fn item_name(item: &ast::Item) -> Option<(&ast::Ident, DefKind)> {
    Some(match &item.kind {
        ItemKind::Const(c) => (&c.name, DefKind::Const),
        ItemKind::Table(t) => (&t.name, DefKind::Table),
        ItemKind::Unit(u) => (&u.name, DefKind::Unit),
        ItemKind::Enum(e) => (&e.name, DefKind::Enum),
        ItemKind::Fn(f) => (&f.name, DefKind::Function),
        ItemKind::Component(c) => (&c.name, DefKind::Component),
        ItemKind::Twin(t) => (&t.name, DefKind::Twin),
        ItemKind::Scenario(s) => (&s.name, DefKind::Scenario),
        _ => return None,
    })
}

/// The kind of member a declaration defines.
fn member_kind(kind: &DeclKind) -> Option<DefKind> {
    Some(match kind {
        DeclKind::Sensor { .. } => DefKind::Sensor,
        DeclKind::Actuator { .. } => DefKind::Actuator,
        DeclKind::Param { .. } => DefKind::Param,
        DeclKind::State { .. } => DefKind::State,
        DeclKind::Var { .. } => DefKind::Var,
        DeclKind::Let { .. } => DefKind::Let,
        DeclKind::Instance { .. } => DefKind::Instance,
        DeclKind::Out { .. } => DefKind::Out,
        DeclKind::Alarm { .. } => DefKind::Alarm,
        _ => return None,
    })
}

fn range(span: Span) -> (u32, u32) {
    (span.start, span.end)
}

impl<'a> Resolver<'a> {
    fn module_index(&self, path: &str) -> Option<usize> {
        self.modules
            .iter()
            .position(|m| matches!(m.key, ModuleKey::Std(p) if p == path))
    }

    /// Enters every module's items, then its imports.
    pub(super) fn declare_globals(&mut self) {
        for m in 0..self.modules.len() {
            let ast = self.modules[m].ast;
            for (i, item) in ast.items.iter().enumerate() {
                if let Some((name, kind)) = item_name(item)
                    && kind != DefKind::Scenario
                {
                    self.modules[m]
                        .globals
                        .entry(name.name.clone())
                        .or_insert((m, i));
                }
            }
        }
        for m in 0..self.modules.len() {
            let ast = self.modules[m].ast;
            for item in &ast.items {
                let ItemKind::Use(path) = &item.kind else {
                    continue;
                };
                let Some((last, module)) = path.segments.split_last() else {
                    continue;
                };
                let module: Vec<&str> = module.iter().map(|s| s.name.as_str()).collect();
                let Some(target) = self.module_index(&module.join("::")) else {
                    continue;
                };
                if let Some(&at) = self.modules[target].globals.get(&last.name) {
                    self.modules[m]
                        .globals
                        .entry(last.name.clone())
                        .or_insert(at);
                }
            }
        }
    }

    fn add_def(&mut self, def: Def) -> usize {
        if let Some(&i) = self.index.by_key.get(&def.key) {
            return i;
        }
        let i = self.index.defs.len();
        self.index.by_key.insert(def.key.clone(), i);
        self.index.defs.push(def);
        i
    }

    fn key(&self, m: usize, span: Span) -> DefKey {
        DefKey {
            module: self.modules[m].key.clone(),
            start: span.start,
            end: span.end,
        }
    }

    /// Records a name written in the root file.
    fn occur(&mut self, span: Span, def: usize, is_def: bool) {
        self.index.occurrences.push(Occurrence {
            start: span.start,
            end: span.end,
            def,
            is_def,
        });
    }

    /// The definition of item `i` of module `m`.
    fn item_def(&mut self, m: usize, i: usize) -> Option<usize> {
        if let Some(&d) = self.item_defs.get(&(m, i)) {
            return d;
        }
        let item = &self.modules[m].ast.items[i];
        let def = match &item.kind {
            ItemKind::Test(t) => Some(Def {
                key: self.key(m, t.name_span),
                name: t.name.clone(),
                kind: DefKind::Test,
                doc: item.doc.clone(),
                decl: range(item.span),
                container: None,
                target: None,
            }),
            _ => item_name(item).map(|(name, kind)| Def {
                key: self.key(m, name.span),
                name: name.name.clone(),
                kind,
                doc: item.doc.clone(),
                decl: range(item.span),
                container: None,
                target: None,
            }),
        };
        let d = def.map(|def| self.add_def(def));
        self.item_defs.insert((m, i), d);
        d
    }

    /// A global name as seen from module `m`.
    fn global(&mut self, m: usize, name: &str) -> Option<usize> {
        let &(gm, gi) = self.modules[m].globals.get(name)?;
        self.item_def(gm, gi)
    }

    /// Where the item behind a definition lives.
    fn item_of(&self, def: usize) -> Option<(usize, usize)> {
        self.item_defs
            .iter()
            .find(|(_, d)| **d == Some(def))
            .map(|(at, _)| *at)
    }

    /// The parameters, members or variants of item `i` of module `m`.
    fn children(&mut self, m: usize, i: usize) -> Vec<usize> {
        if let Some(c) = self.children.get(&(m, i)) {
            return c.clone();
        }
        self.children.insert((m, i), Vec::new());
        let ast = self.modules[m].ast;
        let item = &ast.items[i];
        let mut out = Vec::new();
        let container = item_name(item).map(|(n, _)| n.name.clone());
        let mut child = |r: &mut Self, name: &ast::Ident, kind, doc: Option<String>, decl| {
            let def = Def {
                key: r.key(m, name.span),
                name: name.name.clone(),
                kind,
                doc,
                decl,
                container: container.clone(),
                target: None,
            };
            r.add_def(def)
        };
        match &item.kind {
            ItemKind::Fn(f) => {
                for p in &f.params {
                    out.push(child(self, &p.name, DefKind::FnParam, None, param_range(p)));
                }
            }
            ItemKind::Enum(e) => {
                for v in &e.variants {
                    out.push(child(self, v, DefKind::Variant, None, range(v.span)));
                }
            }
            ItemKind::Component(c) => {
                for p in &c.params {
                    out.push(child(self, &p.name, DefKind::Input, None, param_range(p)));
                }
                out.extend(self.members(m, &c.body, &mut child));
            }
            ItemKind::Twin(t) => out.extend(self.members(m, &t.body, &mut child)),
            _ => {}
        }
        self.children.insert((m, i), out.clone());
        out
    }

    fn members(
        &mut self,
        m: usize,
        body: &[Decl],
        child: &mut impl FnMut(&mut Self, &ast::Ident, DefKind, Option<String>, (u32, u32)) -> usize,
    ) -> Vec<usize> {
        let mut out = Vec::new();
        for decl in body {
            let (Some(name), Some(kind)) = (decl.kind.defined_name(), member_kind(&decl.kind))
            else {
                continue;
            };
            let d = child(self, name, kind, decl.doc.clone(), range(decl.span));
            if let DeclKind::Instance { call, .. } = &decl.kind
                && let ExprKind::Call(path, _) = &call.kind
                && let Some(seg) = path.segments.first()
            {
                let target = self.global(m, &seg.name);
                self.index.defs[d].target = target;
                // Register the target's members, for `inst.` completion.
                if let Some(t) = target
                    && let Some((tm, ti)) = self.item_of(t)
                {
                    self.children(tm, ti);
                }
            }
            out.push(d);
        }
        out
    }

    /// The child of definition `def` named `name` (a member of a twin or
    /// component, a parameter of a function, a variant of an enum).
    fn child_named(&mut self, def: usize, name: &str) -> Option<usize> {
        let (m, i) = self.item_of(def)?;
        self.children(m, i)
            .into_iter()
            .find(|&c| self.index.defs[c].name == name)
    }

    pub(super) fn walk_root(&mut self) {
        let ast = self.modules[0].ast;
        for (i, item) in ast.items.iter().enumerate() {
            if let Some((name, _)) = item_name(item)
                && let Some(d) = self.item_def(0, i)
            {
                self.occur(name.span, d, true);
            }
        }
        let mut globals: Vec<(String, usize)> = Vec::new();
        let names: Vec<String> = self.modules[0].globals.keys().cloned().collect();
        for name in names {
            if let Some(d) = self.global(0, &name) {
                globals.push((name, d));
            }
        }
        globals.sort();
        self.index.globals = globals;
        for (i, item) in ast.items.iter().enumerate() {
            self.walk_item(i, item);
        }
    }

    fn walk_item(&mut self, i: usize, item: &ast::Item) {
        let empty = Scope::default();
        match &item.kind {
            ItemKind::Use(path) => {
                if let Some(last) = path.segments.last()
                    && let Some(d) = self.global(0, &last.name)
                    && self.index.defs[d].key.module != self.modules[0].key
                {
                    self.occur(last.span, d, false);
                }
            }
            ItemKind::Const(c) => {
                if let Some(t) = &c.ty {
                    self.type_expr(t, &empty);
                }
                self.expr(&c.value, &empty);
            }
            ItemKind::Table(t) => {
                self.type_expr(&t.x_unit, &empty);
                self.type_expr(&t.y_unit, &empty);
                for p in &t.points {
                    self.expr(&p.x, &empty);
                    self.expr(&p.y, &empty);
                }
            }
            ItemKind::Unit(u) => self.unit_expr(&u.unit, &empty),
            ItemKind::Enum(e) => {
                for (v, c) in e.variants.iter().zip(self.children(0, i)) {
                    self.occur(v.span, c, true);
                }
            }
            ItemKind::Fn(f) => {
                let mut scope = self.generics(&f.generics, item);
                let params = self.children(0, i);
                for (p, &d) in f.params.iter().zip(&params) {
                    scope.names.insert(p.name.name.clone(), d);
                }
                self.params(&f.params, &params, &scope);
                if let Some(t) = &f.ret {
                    self.type_expr(t, &scope);
                }
                self.expr(&f.body, &scope);
                self.push_scope(item, &scope, false);
            }
            ItemKind::Component(c) => {
                let mut scope = self.generics(&c.generics, item);
                let children = self.children(0, i);
                for &d in &children {
                    scope.names.insert(self.index.defs[d].name.clone(), d);
                }
                self.params(&c.params, &children, &scope);
                if let Some(t) = &c.ret {
                    self.type_expr(t, &scope);
                }
                self.body(&c.body, &scope);
                self.push_scope(item, &scope, true);
            }
            ItemKind::Twin(t) => {
                let mut scope = Scope::default();
                for d in self.children(0, i) {
                    scope.names.insert(self.index.defs[d].name.clone(), d);
                }
                self.body(&t.body, &scope);
                self.push_scope(item, &scope, true);
            }
            ItemKind::Scenario(s) => self.run(item, &s.twin, &s.body),
            ItemKind::Test(t) => {
                if let Some(d) = self.item_def(0, i) {
                    self.occur(t.name_span, d, true);
                }
                self.run(item, &t.twin, &t.body)
            }
            ItemKind::Error => {}
        }
    }

    fn push_scope(&mut self, item: &ast::Item, scope: &Scope, body: bool) {
        let mut names: Vec<usize> = scope.names.values().copied().collect();
        names.sort_unstable();
        self.index.scopes.push(ItemScope {
            start: item.span.start,
            end: item.span.end,
            names,
            body,
        });
    }

    fn generics(&mut self, generics: &[ast::Ident], item: &ast::Item) -> Scope {
        let mut scope = Scope::default();
        let container = item_name(item).map(|(n, _)| n.name.clone());
        for g in generics {
            let d = self.add_def(Def {
                key: self.key(0, g.span),
                name: g.name.clone(),
                kind: DefKind::Generic,
                doc: None,
                decl: range(g.span),
                container: container.clone(),
                target: None,
            });
            self.occur(g.span, d, true);
            scope.names.insert(g.name.clone(), d);
        }
        scope
    }

    fn params(&mut self, params: &[ast::Param], defs: &[usize], scope: &Scope) {
        for (p, &d) in params.iter().zip(defs) {
            self.occur(p.name.span, d, true);
            self.type_expr(&p.ty, scope);
            if let Some(e) = &p.default {
                self.expr(e, scope);
            }
        }
    }

    fn body(&mut self, body: &[Decl], scope: &Scope) {
        for decl in body {
            if let Some(name) = decl.kind.defined_name()
                && let Some(&d) = scope.names.get(&name.name)
                && self.index.defs[d].key.start == name.span.start
            {
                self.occur(name.span, d, true);
            }
            self.decl(&decl.kind, scope);
        }
    }

    fn opt_expr(&mut self, e: &Option<Expr>, scope: &Scope) {
        if let Some(e) = e {
            self.expr(e, scope);
        }
    }

    fn opt_type(&mut self, t: &Option<TypeExpr>, scope: &Scope) {
        if let Some(t) = t {
            self.type_expr(t, scope);
        }
    }

    fn decl(&mut self, kind: &DeclKind, scope: &Scope) {
        match kind {
            DeclKind::Sensor {
                ty,
                range,
                stale,
                default,
                ..
            } => {
                self.opt_type(ty, scope);
                if let Some(r) = range {
                    self.expr(&r.lo, scope);
                    self.expr(&r.hi, scope);
                }
                self.opt_expr(stale, scope);
                self.opt_expr(default, scope);
            }
            DeclKind::Actuator {
                ty,
                range,
                slew,
                value,
                ..
            } => {
                self.opt_type(ty, scope);
                if let Some(r) = range {
                    self.expr(&r.lo, scope);
                    self.expr(&r.hi, scope);
                }
                self.opt_expr(slew, scope);
                self.opt_expr(value, scope);
            }
            DeclKind::Param { ty, value, .. }
            | DeclKind::Let { ty, value, .. }
            | DeclKind::Out { ty, value, .. }
            | DeclKind::State {
                ty, init: value, ..
            }
            | DeclKind::Var {
                ty, init: value, ..
            } => {
                self.opt_type(ty, scope);
                self.expr(value, scope);
            }
            DeclKind::Der { target, value } => {
                self.name(target, scope);
                self.expr(value, scope);
            }
            DeclKind::Instance { call, .. } => self.expr(call, scope),
            DeclKind::Return(e) | DeclKind::Step(e) => self.expr(e, scope),
            DeclKind::Alarm {
                when,
                hold,
                clear,
                message,
                ..
            } => {
                self.expr(when, scope);
                self.opt_expr(hold, scope);
                self.opt_expr(clear, scope);
                if let Some(m) = message {
                    self.str_lit(m, scope);
                }
            }
            DeclKind::On { cond: e, body } | DeclKind::Every { period: e, body } => {
                self.expr(e, scope);
                for a in body {
                    self.path(&a.target, scope);
                    self.expr(&a.value, scope);
                }
            }
            DeclKind::Solver { args, .. } => {
                for a in args {
                    self.expr(&a.value, scope);
                }
            }
            DeclKind::Error => {}
        }
    }

    fn str_lit(&mut self, s: &ast::StrLit, scope: &Scope) {
        for part in &s.parts {
            if let StrPart::Interp(e) = part {
                self.expr(e, scope);
            }
        }
    }

    fn run(&mut self, item: &ast::Item, twin: &ast::Ident, body: &[Stmt]) {
        let mut scope = Scope::default();
        if let Some(d) = self.global(0, &twin.name) {
            self.occur(twin.span, d, false);
            if self.index.defs[d].kind == DefKind::Twin
                && let Some((m, i)) = self.item_of(d)
            {
                for c in self.children(m, i) {
                    scope.names.insert(self.index.defs[c].name.clone(), c);
                }
            }
        }
        for stmt in body {
            self.stmt(stmt, &scope);
        }
        self.push_scope(item, &scope, false);
    }

    fn stmt(&mut self, stmt: &Stmt, scope: &Scope) {
        match &stmt.kind {
            StmtKind::Duration(e) | StmtKind::Run(e) => self.expr(e, scope),
            StmtKind::Set(p, e) | StmtKind::Sensor(p, e) => {
                self.path(p, scope);
                self.expr(e, scope);
            }
            StmtKind::Report(paths) => {
                for p in paths {
                    self.path(p, scope);
                }
            }
            StmtKind::Expect(x) => {
                self.expr(&x.cond, scope);
                match &x.mode {
                    ast::ExpectMode::Eventually(Some(e)) | ast::ExpectMode::At(e) => {
                        self.expr(e, scope)
                    }
                    _ => {}
                }
            }
            StmtKind::Error => {}
        }
    }

    /// Resolves one name in `scope`, then among the globals of module 0.
    fn name(&mut self, ident: &ast::Ident, scope: &Scope) -> Option<usize> {
        let d = match scope.names.get(&ident.name) {
            Some(&d) => Some(d),
            None if matches!(ident.name.as_str(), "t" | "dt" | "pi") => None,
            None => self.global(0, &ident.name),
        }?;
        self.occur(ident.span, d, false);
        Some(d)
    }

    fn path(&mut self, path: &Path, scope: &Scope) {
        let Some(first) = path.segments.first() else {
            return;
        };
        if !path.members && path.segments.len() == 2 {
            // `Enum::Variant`
            if let Some(e) = self.global(0, &first.name) {
                self.occur(first.span, e, false);
                let var = &path.segments[1];
                if let Some(v) = self.child_named(e, &var.name) {
                    self.occur(var.span, v, false);
                }
            }
            return;
        }
        let Some(mut cur) = self.name(first, scope) else {
            return;
        };
        for seg in &path.segments[1..] {
            let Some(target) = self.index.defs[cur].target else {
                return;
            };
            let Some(member) = self.child_named(target, &seg.name) else {
                return;
            };
            self.occur(seg.span, member, false);
            cur = member;
        }
    }

    fn call(&mut self, path: &Path, args: &[Arg], scope: &Scope) {
        let callee = match path.segments.as_slice() {
            [name] => {
                let d = self.global(0, &name.name);
                if let Some(d) = d {
                    self.occur(name.span, d, false);
                }
                d
            }
            _ => None,
        };
        for arg in args {
            if let (Some(n), Some(c)) = (&arg.name, callee)
                && let Some(p) = self.child_named(c, &n.name)
            {
                self.occur(n.span, p, false);
            }
            self.expr(&arg.value, scope);
        }
    }

    fn expr(&mut self, e: &Expr, scope: &Scope) {
        match &e.kind {
            ExprKind::Number(_) | ExprKind::Bool(_) | ExprKind::Error => {}
            ExprKind::Quantity(_, u) => self.unit_expr(u, scope),
            ExprKind::Str(s) => self.str_lit(s, scope),
            ExprKind::Path(p) => self.path(p, scope),
            ExprKind::Unary(_, x) | ExprKind::Paren(x) => self.expr(x, scope),
            ExprKind::Binary(_, a, b) => {
                self.expr(a, scope);
                self.expr(b, scope);
            }
            ExprKind::Call(p, args) => self.call(p, args, scope),
            ExprKind::Der(x) => {
                self.name(x, scope);
            }
            ExprKind::If(c, a, b) => {
                self.expr(c, scope);
                self.expr(a, scope);
                self.expr(b, scope);
            }
        }
    }

    fn type_expr(&mut self, t: &TypeExpr, scope: &Scope) {
        self.unit_expr(&t.unit, scope);
    }

    fn unit_expr(&mut self, u: &UnitExpr, scope: &Scope) {
        match &u.kind {
            UnitExprKind::Name(n) => {
                let d = match scope.names.get(n) {
                    Some(&d) if self.index.defs[d].kind == DefKind::Generic => Some(d),
                    _ => self.global(0, n).filter(|&d| {
                        matches!(self.index.defs[d].kind, DefKind::Unit | DefKind::Enum)
                    }),
                };
                match d {
                    Some(d) => self.occur(u.span, d, false),
                    None => self.index.unit_names.push((u.span.start, u.span.end)),
                }
            }
            UnitExprKind::One => {}
            UnitExprKind::Mul(a, b) | UnitExprKind::Div(a, b) => {
                self.unit_expr(a, scope);
                self.unit_expr(b, scope);
            }
            UnitExprKind::Pow(a, _, _) | UnitExprKind::Paren(a) => self.unit_expr(a, scope),
        }
    }
}

fn param_range(p: &ast::Param) -> (u32, u32) {
    let end = p.default.as_ref().map_or(p.ty.span.end, |d| d.span.end);
    (p.name.span.start, end.max(p.name.span.end))
}
