//! pikaci-store (being built).
