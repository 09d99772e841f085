//! Property tests on random programs (filled in by the property-test work).
