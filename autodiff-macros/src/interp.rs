//! Test-only IR interpreter (filled in by the property-test work).
