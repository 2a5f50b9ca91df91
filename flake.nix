{
  description = "pikaci (a CI runner with Incus VM jobs) and pika-news";

  # Edition 2024 and rust-version 1.85 need a nixpkgs with Rust >= 1.85.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-25.05";

  outputs =
    { self, nixpkgs }:
    let
      systems = [
        "x86_64-linux"
        "aarch64-linux"
      ];
      forAllSystems = f: nixpkgs.lib.genAttrs systems (system: f system nixpkgs.legacyPackages.${system});

      workspacePackage =
        pkgs: args:
        pkgs.rustPlatform.buildRustPackage (
          {
            version = "0.1.0";
            src = self;
            cargoLock.lockFile = ./Cargo.lock;
            nativeBuildInputs = [ pkgs.pkg-config ];
            # The test suite needs the Incus stand-in and temp folders; CI runs it.
            doCheck = false;
          }
          // args
        );

      guestSystem =
        system:
        nixpkgs.lib.nixosSystem {
          inherit system;
          modules = [
            self.nixosModules.pikaci-image
            { pikaci.guest.package = self.packages.${system}.pikaci-incus-run; }
          ];
        };
    in
    {
      packages = forAllSystems (
        system: pkgs:
        let
          staged = import ./nix/ci/linux-rust.nix {
            inherit pkgs;
            src = self;
          };
          image = (guestSystem system).config.system.build;
        in
        {
          pikaci = workspacePackage pkgs {
            pname = "pikaci";
            cargoBuildFlags = [ "--workspace" ];
          };
          pikaci-incus-run = workspacePackage pkgs {
            pname = "pikaci-incus-run";
            cargoBuildFlags = [
              "-p"
              "pikaci-incus"
              "--bin"
              "pikaci-incus-run"
            ];
          };
          default = self.packages.${system}.pikaci;
          inherit (staged) workspace-deps workspace-build;
          pikaci-image-disk = image.qemuImage;
          pikaci-image-metadata = image.metadata;
        }
      );

      nixosModules.pikaci-image = import ./nix/incus/pikaci-image.nix;

      nixosConfigurations = nixpkgs.lib.genAttrs (map (s: "pikaci-guest-${s}") systems) (
        name: guestSystem (nixpkgs.lib.removePrefix "pikaci-guest-" name)
      );
    };
}
