//! pikaci-incus (being built).
