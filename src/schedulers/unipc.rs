//! unipc
