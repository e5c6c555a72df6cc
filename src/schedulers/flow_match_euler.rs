//! flow_match_euler
