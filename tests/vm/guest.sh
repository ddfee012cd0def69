#!/bin/sh
# Stage 2 of the test VM, pid 1 after switch_root into the host's root
# (9p, read-only) under a tmpfs overlay. Mounts what a booted system has,
# with cgroup2 as the one and only hierarchy, runs the command the harness
# left in the results share, reports its status there and powers off.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o newinstance,ptmxmode=0666,gid=5,mode=620 devpts /dev/pts
ln -sf pts/ptmx /dev/ptmx 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=755 tmpfs /run
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
mount -t securityfs securityfs /sys/kernel/security 2>/dev/null   # AppArmor's policy interface

arg() { sed -n "s/.*$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
results=$(arg minictr.results)
repo=$(arg minictr.repo)
mkdir -p "$results"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 results "$results"
# the repository, shared on its own (read-only, a tmpfs overlay for what
# the tests write), so the fresh /tmp and /run above cannot hide a clone there
mkdir -p /run/repo/lower /run/repo/upper /run/repo/work "$repo"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro repo /run/repo/lower &&
    mount -t overlay overlay -o lowerdir=/run/repo/lower,upperdir=/run/repo/upper,workdir=/run/repo/work "$repo" ||
    echo "vm: cannot mount the repository share at $repo" > "$results/log.repo"

# controllers for the children of the root, as systemd enables them
controllers=$(cat /sys/fs/cgroup/cgroup.controllers)
for c in $controllers; do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; done
hostname minictr-vm
ip link set lo up 2>/dev/null

echo "vm: kernel $(uname -r), cgroup2 controllers: $(cat /sys/fs/cgroup/cgroup.subtree_control)" > "$results/log"
cd "$repo" && MINICTR_IN_VM=1 sh -c "$(cat "$results/command")" >> "$results/log" 2>&1
echo $? > "$results/rc"
sync
umount "$results"
poweroff -f
