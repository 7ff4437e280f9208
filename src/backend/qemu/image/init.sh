#!/bin/sh
# PID 1 of the lcow-uvm QEMU guest (busybox sh, from the initrd).
#
# It does only what the host cannot do through the guest agent: mount the
# kernel file systems, load the drivers the backend's virtual hardware needs,
# run what an image variant hooks in (the gcs variant starts hcsshim's GCS),
# and keep qemu-ga running on its virtio-serial port. Everything else (mounts,
# overlays, processes) arrives later as requests with argv arrays.
# Quiet on purpose: the serial console is off unless the host asks for a log.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin

# Container processes run under runc, whose pivot_root(2) refuses a root that
# is the initramfs itself (the root mount has no parent: EINVAL). So first
# move a bind mount of the initramfs over / and run this script again inside
# it: a root with a parent, at the cost of one mount (no copy).
if [ "$LCOW_ROOT_MOVED" != 1 ]; then
  mkdir -p /.root
  mount --bind / /.root
  cd /.root || exit 1
  mount --move . /
  export LCOW_ROOT_MOVED=1
  exec chroot . /init
fi

mount -t proc -o nosuid,nodev,noexec proc /proc
mount -t sysfs -o nosuid,nodev,noexec sysfs /sys
mount -t devtmpfs -o nosuid,mode=0755 devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o nosuid,noexec devpts /dev/pts
mount -t tmpfs -o nosuid,nodev,mode=0755 tmpfs /run
mount -t tmpfs -o nosuid,nodev,mode=1777 tmpfs /tmp
# runc puts each container in a cgroup (its device rules are a cgroup-v2 eBPF program).
mount -t cgroup2 -o nosuid,nodev,noexec cgroup2 /sys/fs/cgroup

# Modules, one per line, in load order (written by the image builder).
while read -r mod; do
  [ -n "$mod" ] && modprobe -q "$mod"
done < /etc/lcow-modules

# A port appears once virtio_console has probed; its /dev node is named by
# probe order (vportNpM), so look it up by the port's name ($1).
find_port() {
  for p in /sys/class/virtio-ports/*; do
    [ -r "$p/name" ] || continue
    if [ "$(cat "$p/name")" = "$1" ]; then
      echo "/dev/${p##*/}"
      return 0
    fi
  done
  return 1
}
# wait_port NAME: sets $port to its /dev node, or to "" after ~10 s.
wait_port() {
  port=""
  tries=0
  while [ -z "$port" ] && [ "$tries" -lt 500 ]; do
    port=$(find_port "$1") || port=""
    [ -z "$port" ] && sleep 0.02
    tries=$((tries + 1))
  done
}

# What an image variant adds (the gcs variant: src/backend/qemu/image/gcs-init.sh).
for hook in /etc/lcow-init.d/*.sh; do
  [ -r "$hook" ] && . "$hook"
done

AGENT_PORT_NAME=org.qemu.guest_agent.0
wait_port "$AGENT_PORT_NAME"
if [ -z "$port" ]; then
  echo "lcow-init: no virtio port named $AGENT_PORT_NAME" > /dev/kmsg
  poweroff -f
fi

mkdir -p /run/qemu-ga
# Supervise the agent: if it ever exits, start it again rather than leaving a
# VM that can no longer be controlled. The shell also reaps orphans it adopts
# as PID 1 each time `wait` returns.
while true; do
  qemu-ga -m virtio-serial -p "$port" -t /run/qemu-ga -f /run/qemu-ga/pid &
  wait $!
  sleep 0.2
done
