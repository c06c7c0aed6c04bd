//! The integration tests of `osprey-query`, one binary: the planner's
//! fixtures ([`plans`]), queries run on the CPU engine ([`queries`]), and
//! queries over files and streams read by the library ([`sources`]);
//! [`common`] holds what they share.

mod common;
mod plans;
mod queries;
mod sources;
