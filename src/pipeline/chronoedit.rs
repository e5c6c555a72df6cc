//! chronoedit
