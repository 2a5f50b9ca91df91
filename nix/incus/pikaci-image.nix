# The NixOS image pikaci's Incus executor boots, one VM per job.
#
# What the executor relies on (docs/incus-migration-plan.md has the why):
# - the Incus agent, so `incus exec` and `incus file pull` work;
# - user `pikaci`, uid/gid 1000, that jobs run as unless `run_as_root`;
# - `/run/current-system/sw/bin/pikaci-incus-run`, from this workspace, via
#   `environment.systemPackages`;
# - the toolchain the jobs need, in the image's own /nix/store: the host's
#   store is never shared into the guest;
# - `tar` and `mount` (gnutar below, util-linux in the base system), with which
#   a remote server's instances unpack the pushed snapshot and make it
#   read-only.
#
# On the Incus host itself the executor adds the workspace and staged outputs
# as virtiofs disks; the agent mounts them at /workspace/snapshot,
# /staged/linux-rust/* and /artifacts. With a remote server (`remote` or
# `remote_host`) they are pushed into the guest at the same paths instead.
# pikaci-incus-run gives jobs CARGO_HOME, CARGO_TARGET_DIR and the XDG folders
# under /var/tmp/pikaci, which it makes itself.
#
# Build and import (see flake.nix):
#   nix build .#pikaci-image-metadata -o metadata
#   nix build .#pikaci-image-disk -o disk
#   incus image import --project pika-managed-agents \
#     metadata/tarball/*.tar.xz disk/nixos.qcow2 --alias pikaci/dev
{
  config,
  lib,
  pkgs,
  modulesPath,
  ...
}:

let
  cfg = config.pikaci.guest;
in
{
  imports = [ "${modulesPath}/virtualisation/incus-virtual-machine.nix" ];

  options.pikaci.guest = {
    package = lib.mkOption {
      type = lib.types.package;
      description = "The package providing bin/pikaci-incus-run (the flake passes this workspace's build).";
    };

    toolchain = lib.mkOption {
      type = lib.types.listOf lib.types.package;
      default = with pkgs; [
        bash
        coreutils
        findutils
        gnugrep
        gnused
        gnutar
        gzip
        which
        git
        gnumake
        gcc
        pkg-config
        openssl
        sqlite
        cargo
        rustc
        clippy
        rustfmt
      ];
      description = "What jobs find on PATH besides the base system.";
    };
  };

  config = {
    virtualisation.incus.agent.enable = true;

    users.groups.pikaci.gid = 1000;
    users.users.pikaci = {
      isNormalUser = true;
      uid = 1000;
      group = "pikaci";
      home = "/home/pikaci";
      createHome = true;
      description = "pikaci job runner";
    };

    # pikaci-incus-run lands in /run/current-system/sw/bin with the rest.
    environment.systemPackages = [ cfg.package ] ++ cfg.toolchain;

    # Mount points for the executor's disks (the agent also creates them).
    systemd.tmpfiles.rules = [
      "d /workspace 0755 root root -"
      "d /staged 0755 root root -"
      "d /staged/linux-rust 0755 root root -"
      "d /artifacts 0755 root root -"
    ];

    assertions = [
      {
        assertion = !(config.fileSystems ? "/nix/store");
        message = "the pikaci image carries its own /nix/store; do not mount the host's";
      }
    ];

    # Jobs talk to nobody but the host through the agent.
    services.openssh.enable = lib.mkDefault false;
    networking.hostName = lib.mkDefault "pikaci-guest";
    documentation.enable = lib.mkDefault false;
    nix.settings.experimental-features = [
      "nix-command"
      "flakes"
    ];

    system.stateVersion = "25.05";
  };
}
