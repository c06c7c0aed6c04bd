//! The integration tests of `osprey-query`, one binary: queries run on the
//! CPU engine through library calls alone ([`queries`]).

mod queries;
