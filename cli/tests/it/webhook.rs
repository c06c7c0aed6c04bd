//! `osprey deliver` to an HTTP webhook (filled in by the issue 5 work).
