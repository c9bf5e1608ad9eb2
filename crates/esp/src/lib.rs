//! ESP.
