//! The pikaci command (being built).
