//! Handing a worktree to the lane user while another process of a lane user
//! races it: swapping the worktree's folders for links to a folder of root's
//! as fast as it can. Whatever it does, the service must give away nothing
//! outside the worktree.

use std::io::BufRead as _;
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::os::unix::process::CommandExt as _;
use std::process::{Command, Stdio};
use std::time::Duration;

use camino::{Utf8Path, Utf8PathBuf};
use pika_news_core::sandbox::{LaneUser, hand_over};

use crate::served::{LANE_USER, lane_user, wait_for};

/// Folders in the worktree, files in each.
const FOLDERS: usize = 30;
const FILES: usize = 20;

/// The racing process (as the lane user): once it may, it renames each
/// folder of the worktree away and puts a link to the canary in its place.
/// It says `ready` once it runs.
const SWAPPER: &str = r#"
my ($w, $canary, $n) = @ARGV;
$| = 1;
print "ready\n";
while (1) {
    for my $i (0 .. $n - 1) {
        my $s = "$w/s$i";
        next if -l $s;
        symlink($canary, $s) if rename($s, "$s.moved");
    }
}
"#;

/// A worktree as git leaves it (the service's, mode 0755) and a canary
/// folder of root's whose files have the names the worktree's folders hold.
fn scene(root: &Utf8Path) -> (Utf8PathBuf, Utf8PathBuf) {
    let canary = root.join("canary");
    std::fs::create_dir(&canary).unwrap();
    let tree = root.join("worktree");
    for i in 0..FOLDERS {
        std::fs::create_dir_all(tree.join(format!("s{i}/deeper"))).unwrap();
        for f in 0..FILES {
            std::fs::write(tree.join(format!("s{i}/f{f}")), "x").unwrap();
            std::fs::write(tree.join(format!("s{i}/deeper/f{f}")), "x").unwrap();
        }
    }
    for f in 0..FILES {
        std::fs::write(canary.join(format!("f{f}")), "canary").unwrap();
    }
    std::fs::create_dir(canary.join("deeper")).unwrap();
    std::fs::set_permissions(&tree, std::fs::Permissions::from_mode(0o755)).unwrap();
    (tree, canary)
}

/// Everything under `dir` (itself included) that is not owned by root.
fn not_roots(dir: &Utf8Path) -> Vec<String> {
    let mut bad = Vec::new();
    let mut pending = vec![dir.to_owned()];
    while let Some(d) = pending.pop() {
        let meta = std::fs::symlink_metadata(&d).unwrap();
        if meta.uid() != 0 || meta.gid() != 0 {
            bad.push(format!("{d} ({}:{})", meta.uid(), meta.gid()));
        }
        if meta.is_dir() {
            for e in std::fs::read_dir(&d).unwrap() {
                pending.push(Utf8PathBuf::try_from(e.unwrap().path()).unwrap());
            }
        }
    }
    bad
}

/// The racing process, killed however the round ends.
struct Swapper(std::process::Child);

impl Drop for Swapper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_racing_lane_cannot_make_the_hand_over_give_away_a_folder_outside_the_worktree() {
    let (uid, gid) = lane_user();
    let user = LaneUser::lookup(LANE_USER).unwrap();
    for round in 0..20 {
        let tmp = tempfile::tempdir().unwrap();
        let root = Utf8PathBuf::try_from(tmp.path().to_owned()).unwrap();
        // The lane user may pass through to the worktree, as to data_dir/worktrees.
        std::fs::set_permissions(&root, std::fs::Permissions::from_mode(0o711)).unwrap();
        let (tree, canary) = scene(&root);
        let mut swapper = Command::new("/usr/bin/perl");
        swapper
            .args(["-e", SWAPPER, tree.as_str(), canary.as_str()])
            .arg(FOLDERS.to_string())
            .uid(uid)
            .gid(gid)
            .current_dir("/")
            .stdout(Stdio::piped());
        let mut swapper = Swapper(
            swapper
                .spawn()
                .expect("perl (Debian's perl-base) runs as the lane user"),
        );
        let mut line = String::new();
        std::io::BufReader::new(swapper.0.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(line, "ready\n");

        hand_over(&tree, &user).unwrap();

        // The swapper was there: once the worktree is the lane's, it swaps.
        wait_for(
            "the swapper to swap a folder of the handed-over worktree",
            Duration::from_secs(30),
            || {
                std::fs::symlink_metadata(tree.join("s0"))
                    .is_ok_and(|m| m.file_type().is_symlink())
                    .then_some(())
            },
        );
        drop(swapper);
        let bad = not_roots(&canary);
        assert!(
            bad.is_empty(),
            "round {round}: the hand-over gave away files outside the worktree: {bad:?}"
        );
        // What was handed over is the lane user's, the top folder private to it.
        let top = std::fs::symlink_metadata(&tree).unwrap();
        assert_eq!(
            (top.uid(), top.gid(), top.mode() & 0o7777),
            (uid, gid, 0o700)
        );
        for moved in std::fs::read_dir(&tree).unwrap() {
            let m = std::fs::symlink_metadata(moved.unwrap().path()).unwrap();
            assert_eq!((m.uid(), m.gid()), (uid, gid));
        }
    }
}
