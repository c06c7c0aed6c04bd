//! The integration tests of `osprey-query`, one binary: the planner's
//! fixtures ([`plans`]) and queries run on the CPU engine ([`queries`]).

mod plans;
mod queries;
