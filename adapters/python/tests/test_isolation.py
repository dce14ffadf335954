from sandbox_harness.isolation import writable_tmpfs_mounts

MOUNTINFO = """\
22 1 0:40 / / ro,nosuid,nodev,relatime - tmpfs none ro,size=4k
23 22 0:41 / /sandbox/work rw,nosuid,nodev,relatime - tmpfs none rw,size=65536k,nr_inodes=4096,mode=700,uid=100000,gid=100000
24 22 0:42 / /sandbox/cache rw,nosuid,nodev,relatime - tmpfs none rw,size=16384k,nr_inodes=256,mode=700,uid=100000,gid=100000
25 22 8:1 /venv/lib /sandbox/venv/lib ro,nosuid,nodev,relatime - ext4 /dev/sda1 ro
26 22 0:43 / /sandbox/proc rw,relatime - proc none rw
27 22 0:44 / /tmp rw,relatime - tmpfs none rw,size=1024k
"""


def test_every_run_gets_fresh_copies_of_the_writable_tmpfs_dirs_with_their_caps_but_not_their_owner():
    assert writable_tmpfs_mounts(MOUNTINFO.splitlines()) == [
        ("/sandbox/work", "size=65536k,nr_inodes=4096,mode=700"),
        ("/sandbox/cache", "size=16384k,nr_inodes=256,mode=700"),
    ]
