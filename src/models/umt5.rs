//! umt5
