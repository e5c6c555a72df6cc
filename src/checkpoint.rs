//! checkpoint loading
