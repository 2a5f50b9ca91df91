# The staged outputs the Incus executor mounts read-only into each job VM:
#
#   workspace-deps  -> /staged/linux-rust/workspace-deps
#     every crate of Cargo.lock, vendored, plus `cargo-config.toml` that
#     points cargo at them (jobs run offline: `cargo --config
#     /staged/linux-rust/workspace-deps/cargo-config.toml ...`).
#   workspace-build -> /staged/linux-rust/workspace-build
#     `target/` after building the workspace and its tests once. It is
#     read-only in the guest, so a job seeds its own target folder from it:
#     `cp -a /staged/linux-rust/workspace-build/target ./target`.
#
# On the Incus host, point pikaci at the built outputs:
#   [incus]
#   staged_deps_dir = "/srv/pikaci/staged/workspace-deps"
#   staged_build_dir = "/srv/pikaci/staged/workspace-build"
# (`nix build .#workspace-deps -o /srv/pikaci/staged/workspace-deps`, same for build).
{
  pkgs,
  src,
}:

let
  guestDepsPath = "/staged/linux-rust/workspace-deps";

  vendor = pkgs.rustPlatform.importCargoLock { lockFile = src + "/Cargo.lock"; };

  cargoConfig = vendorDir: ''
    [source.crates-io]
    replace-with = "vendored-sources"

    [source.vendored-sources]
    directory = "${vendorDir}"

    [net]
    offline = true
  '';

  workspace-deps = pkgs.runCommand "pikaci-workspace-deps" { } ''
    mkdir -p $out
    cp -rL ${vendor} $out/vendor
    cat > $out/cargo-config.toml <<'CONFIG'
    ${cargoConfig "${guestDepsPath}/vendor"}
    CONFIG
  '';

  workspace-build = pkgs.stdenv.mkDerivation {
    pname = "pikaci-workspace-build";
    version = "0.1.0";
    inherit src;
    nativeBuildInputs = with pkgs; [
      cargo
      rustc
      pkg-config
    ];
    buildInputs = with pkgs; [
      openssl
      sqlite
    ];
    configurePhase = ''
      runHook preConfigure
      export CARGO_HOME=$TMPDIR/cargo-home
      mkdir -p $CARGO_HOME
      cat > $CARGO_HOME/config.toml <<'CONFIG'
      ${cargoConfig "${vendor}"}
      CONFIG
      runHook postConfigure
    '';
    buildPhase = ''
      runHook preBuild
      cargo build --workspace --all-targets --locked --offline
      cargo test --workspace --no-run --locked --offline
      runHook postBuild
    '';
    installPhase = ''
      runHook preInstall
      mkdir -p $out
      cp -a target $out/target
      runHook postInstall
    '';
    dontFixup = true;
    meta.description = "pikaci workspace target/ for seeding job builds";
  };
in
{
  inherit workspace-deps workspace-build;
}
