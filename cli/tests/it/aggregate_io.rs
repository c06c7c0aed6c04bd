//! `osprey aggregate` with streaming inputs and outputs (filled in by the issue 6 work).
