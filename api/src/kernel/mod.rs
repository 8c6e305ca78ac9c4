//! Building blocks shared by every context: opaque IDs, time, pagination, secrets.

pub mod ids;
pub mod kept;
pub mod money;
pub mod numbering;
pub mod pagination;
pub mod secret_token;
pub mod time;

/// A closed set of values stored and exchanged as fixed strings (`"DRAFT"`).
macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            pub fn parse(value: &str) -> Option<Self> {
                match value { $($text => Some(Self::$variant),)+ _ => None }
            }
        }
    };
}
pub(crate) use string_enum;
