//! Events (placeholder until the event module lands).
