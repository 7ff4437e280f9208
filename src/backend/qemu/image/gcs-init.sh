# Sourced by /init (init.sh) in the gcs variant of the guest image, after the
# kernel file systems are mounted and every module is loaded: prepare what
# hcsshim's GCS needs off Hyper-V, then start it on its virtio-serial port.
# (gcs-bridge-facts.md §3.2-3.3: each step below was needed by the real
# v0.12.0-rc.3 GCS under QEMU.)

# cgroup v1, memory controller included: the GCS makes /containers and /gcs
# groups at start-up and exits without them. One hierarchy per enabled
# controller, as hcsshim's own init does (init/init.c init_cgroups).
mount -t tmpfs -o nosuid,nodev,noexec,mode=0755 cgroup /sys/fs/cgroup
while read -r name hierarchy count enabled; do
  case "$name" in '#'* | '') continue ;; esac
  [ "$enabled" = 1 ] || continue
  mkdir -p "/sys/fs/cgroup/$name"
  mount -t cgroup -o "$name" cgroup "/sys/fs/cgroup/$name" || echo "lcow-init: cgroup $name not mounted" > /dev/kmsg
done < /proc/cgroups

# The GCS finds a SCSI controller by its hcsshim GUID under
# /sys/bus/vmbus/devices/<GUID>/host<N> (storvsc on Hyper-V). Here the
# controllers are virtio-scsi at fixed PCI addresses, so make that directory:
# a tmpfs over /sys/bus, every real bus bound back from a second sysfs
# mount, and for each controller an empty host<N> named after its SCSI host.
# /etc/lcow-gcs/scsi-controllers has "GUID PCI-address" lines.
mkdir -p /run/lcow-sysfs
mount -t sysfs -o nosuid,nodev,noexec sysfs /run/lcow-sysfs
mount -t tmpfs -o nosuid,nodev,noexec,mode=0755 bus /sys/bus
for bus in /run/lcow-sysfs/bus/*; do
  mkdir -p "/sys/bus/${bus##*/}"
  mount --bind "$bus" "/sys/bus/${bus##*/}"
done
umount /run/lcow-sysfs && rmdir /run/lcow-sysfs # the binds keep what they need
mkdir -p /sys/bus/vmbus/devices
while read -r guid pci; do
  for host in /sys/bus/pci/devices/"$pci"/virtio*/host*; do
    [ -d "$host" ] && mkdir -p "/sys/bus/vmbus/devices/$guid/${host##*/}"
  done
done < /etc/lcow-gcs/scsi-controllers

# The bridge: stdin and stdout on the port (opened once: a virtio-serial port
# takes one open), logs to /run/gcs.log (read it through the agent when a
# request fails in a way the answer does not explain). The host's end of the port waits for
# its client (server=on,wait=on), so the GCS never reads EOF before the host
# is there. It serves one connection per boot: when it exits, the VM is done.
wait_port gcs.bridge
if [ -n "$port" ]; then
  (
    gcs -v4 -use-inouterr -disable-time-sync -loglevel info <> "$port" >&0 2>> /run/gcs.log
    echo "lcow-init: gcs exited ($?); powering off" > /dev/kmsg
    poweroff -f
  ) &
else
  echo "lcow-init: no virtio port named gcs.bridge; the GCS is not started" > /dev/kmsg
fi
