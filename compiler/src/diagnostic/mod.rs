//! The renderer-neutral diagnostic model.
//!
//! Takes nothing; gives [`Diagnostic`] (name, code, severity, message,
//! primary and secondary [`Label`]s, help and notes) and [`Kind`], the closed
//! list of stable diagnostic names. Every phase produces these; three thin
//! adapters turn them into text ([`render`], via ariadne), JSON ([`json`]) and
//! LSP diagnostics (in the `lsp` crate).
//!
//! Invariant: names and codes never change once shipped; new kinds are added
//! at the end.

pub mod json;
pub mod render;

use crate::span::Span;

/// How bad a diagnostic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// The model is wrong and cannot run.
    Error,
    /// The model runs, but something is probably not what the author meant.
    Warning,
}

impl Severity {
    /// `"error"` or `"warning"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        }
    }
}

macro_rules! kinds {
    ($($variant:ident => $name:literal, $code:literal, $sev:ident;)*) => {
        /// The stable identity of a diagnostic: its name and code.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Kind {
            $(
                #[doc = concat!("`", $name, "` (", $code, ")")]
                $variant,
            )*
        }

        impl Kind {
            /// The stable kebab-case name, e.g. `unit-mismatch`.
            pub fn name(self) -> &'static str {
                match self { $(Kind::$variant => $name,)* }
            }

            /// The stable code, e.g. `E0004`.
            pub fn code(self) -> &'static str {
                match self { $(Kind::$variant => $code,)* }
            }

            /// The severity this kind always has.
            pub fn severity(self) -> Severity {
                match self { $(Kind::$variant => Severity::$sev,)* }
            }

            /// Every kind, in code order.
            pub const ALL: &'static [Kind] = &[$(Kind::$variant,)*];
        }
    };
}

kinds! {
    SyntaxError => "syntax-error", "E0001", Error;
    UnknownName => "unknown-name", "E0002", Error;
    UnknownUnit => "unknown-unit", "E0003", Error;
    UnitMismatch => "unit-mismatch", "E0004", Error;
    AffineMisuse => "affine-misuse", "E0005", Error;
    TypeMismatch => "type-mismatch", "E0006", Error;
    DuplicateDefinition => "duplicate-definition", "E0007", Error;
    MissingDerivative => "missing-derivative", "E0008", Error;
    DerivativeOfNonState => "derivative-of-non-state", "E0009", Error;
    AlgebraicLoop => "algebraic-loop", "E0010", Error;
    AssignToReadonly => "assign-to-readonly", "E0011", Error;
    InvalidRange => "invalid-range", "E0012", Error;
    ArgumentMismatch => "argument-mismatch", "E0013", Error;
    MisplacedDeclaration => "misplaced-declaration", "E0015", Error;
    InvalidConstant => "invalid-constant", "E0016", Error;
    InvalidUnitExponent => "invalid-exponent", "E0017", Error;
    UnusedDefinition => "unused-definition", "W0001", Warning;
    ActuatorMayExceedRange => "actuator-may-exceed-range", "W0002", Warning;
    InvalidTwinReference => "invalid-twin-reference", "E0019", Error;
    InvalidTable => "invalid-table", "E0020", Error;
}

/// A span with a message, pointing at the source.
#[derive(Clone, Debug, PartialEq)]
pub struct Label {
    /// Where.
    pub span: Span,
    /// What to say there; may be empty.
    pub message: String,
}

impl Label {
    /// A label at `span` saying `message`.
    pub fn new(span: Span, message: impl Into<String>) -> Label {
        Label {
            span,
            message: message.into(),
        }
    }
}

/// One finding about the source: what is wrong, where, and how to fix it.
#[derive(Clone, Debug, PartialEq)]
pub struct Diagnostic {
    /// The stable identity (name, code, severity).
    pub kind: Kind,
    /// One sentence in the user's terms.
    pub message: String,
    /// The main place.
    pub primary: Label,
    /// Other places that explain it (the other operand, the definition...).
    pub secondary: Vec<Label>,
    /// How to fix it, when we know.
    pub help: Option<String>,
    /// Extra facts (for example the unit each side has).
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic of `kind` at `span` with `message`; the primary label
    /// starts empty.
    pub fn new(kind: Kind, span: Span, message: impl Into<String>) -> Diagnostic {
        Diagnostic {
            kind,
            message: message.into(),
            primary: Label::new(span, ""),
            secondary: Vec::new(),
            help: None,
            notes: Vec::new(),
        }
    }

    /// Sets the primary label's text.
    pub fn label(mut self, message: impl Into<String>) -> Diagnostic {
        self.primary.message = message.into();
        self
    }

    /// Adds a secondary label.
    pub fn with_secondary(mut self, span: Span, message: impl Into<String>) -> Diagnostic {
        self.secondary.push(Label::new(span, message));
        self
    }

    /// Sets the help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Diagnostic {
        self.help = Some(help.into());
        self
    }

    /// Adds a note.
    pub fn with_note(mut self, note: impl Into<String>) -> Diagnostic {
        self.notes.push(note.into());
        self
    }

    /// The severity of its kind.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// Whether this is an error (as opposed to a warning).
    pub fn is_error(&self) -> bool {
        self.severity() == Severity::Error
    }
}

/// Sorts diagnostics by file and position so output is stable, and drops
/// exact duplicates (recovery can report one mistake twice).
pub fn sort_and_dedup(diags: &mut Vec<Diagnostic>) {
    diags.sort_by_key(|d| {
        (
            d.primary.span.file,
            d.primary.span.start,
            d.primary.span.end,
        )
    });
    diags.dedup_by(|a, b| a.kind == b.kind && a.primary.span == b.primary.span);
}
