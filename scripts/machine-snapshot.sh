#!/bin/bash
# What a stalled machine is doing, for the cgroup v2 VM's console: the processes using the most
# CPU, where the kernel holds each of them (state, wait channel, kernel stack), what each CPU
# not idle runs right now (SysRq's backtrace of all active CPUs), and the kernel's last errors.
# The VM's console shows the kernel's errors as they come (loglevel=4); here are the last ones
# again, beside the rest. The kernel's parts need root; without it they say so.
#
#   machine-snapshot.sh [processes]   how many of the busiest processes to look into (default 4)
set -u
# Bounded: a process stuck in the kernel can stall ps itself. timeout kills this script and what
# it started; what it printed before stays printed.
if [ -z "${MACHINE_SNAPSHOT_BOUNDED:-}" ]; then
  MACHINE_SNAPSHOT_BOUNDED=1 exec timeout -s KILL 15 bash "$0" "$@"
fi
count=${1:-4}

echo "-- the threads on a CPU or waiting for one now (state R)"
ps -N --pid "$$,$PPID" --ppid $$ -Lo pid,tid,stat,time,wchan:24,args | awk 'NR == 1 || $3 ~ /^R/' | head -n 12 | cut -c1-180
echo "-- the busiest processes over their lives"
# All but this script, the timeout it runs under and the commands it runs (ps among them).
busiest=$(ps -N --pid "$$,$PPID" --ppid $$ -o pid,ppid,stat,time,pcpu,etime,wchan:24,args --sort=-pcpu)
head -n 12 <<<"$busiest" | cut -c1-180
for pid in $(awk 'NR > 1 { print $1 }' <<<"$busiest" | head -n "$count"); do
  [ -r "/proc/$pid/stat" ] || continue
  name=$( (tr '\0' ' ' < "/proc/$pid/cmdline") 2>/dev/null | cut -c1-120)
  echo "-- pid $pid: ${name:-[$(cat "/proc/$pid/comm" 2>/dev/null)]}"
  echo "   $(grep '^State:' "/proc/$pid/status" 2>/dev/null), waiting in: $(cat "/proc/$pid/wchan" 2>/dev/null)"
  # Empty for a task on a CPU: the CPUs' backtraces below show where those are.
  sed 's/^/   kernel: /' "/proc/$pid/stack" 2>/dev/null | head -n 16
done

echo "-- the threads in uninterruptible sleep (state D), where the kernel holds them"
ps -eLo pid,tid,stat,args --no-headers | awk '$3 ~ /^D/' | head -n 8 | while read -r pid tid _ args; do
  echo "-- pid $pid thread $tid: $(cut -c1-120 <<<"$args")"
  sed 's/^/   kernel: /' "/proc/$pid/task/$tid/stack" 2>/dev/null | head -n 16
done

# Errors only: SysRq's backtraces, this script's own among them, are warnings. RCU stalls and
# hung tasks are errors.
echo "-- the kernel's last errors"
dmesg --level=emerg,alert,crit,err 2>/dev/null | tail -n 12 | cut -c1-160

if [ -w /proc/sysrq-trigger ] && [ -w /dev/kmsg ]; then
  # The kernel's log is a ring: once full, counting its lines cannot say where new ones start.
  marker="machine-snapshot $$ $EPOCHREALTIME"
  echo "<6>$marker" > /dev/kmsg
  echo l > /proc/sysrq-trigger
  sleep 1
  echo "-- the backtrace of each CPU not idle (SysRq l; one of them runs this script)"
  dmesg 2>/dev/null | awk -v marker="$marker" 'found { print } index($0, marker) { found = 1 }' | head -n 120 | cut -c1-160
else
  echo "-- the CPUs' backtraces: need root (/proc/sysrq-trigger, /dev/kmsg)"
fi

