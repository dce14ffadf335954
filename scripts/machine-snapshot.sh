#!/bin/bash
# What a stalled machine is doing, for the cgroup v2 VM's console: the processes using the most
# CPU, where the kernel holds each of them (state, wait channel, kernel stack), what every CPU
# runs right now (SysRq's backtrace of all active CPUs), and the kernel's last errors and
# warnings. The console shows only the most urgent kernel messages (loglevel=3): RCU stalls and
# hung tasks are errors, seen only here. The kernel's parts need root; without it they say so.
#
#   machine-snapshot.sh [processes]   how many of the busiest processes to look into (default 4)
set -u
count=${1:-4}

echo "-- the threads on a CPU or waiting for one now (state R)"
ps -eLo pid,tid,stat,time,wchan:24,args | awk -v self=$$ 'NR == 1 || ($3 ~ /^R/ && $1 != self)' | grep -v ' ps -eLo ' | head -n 12 | cut -c1-180
echo "-- the busiest processes over their lives"
# All but this script and the commands it runs (ps among them).
busiest=$(ps -N --pid $$ --ppid $$ -o pid,ppid,stat,time,pcpu,etime,wchan:24,args --sort=-pcpu)
head -n 12 <<<"$busiest" | cut -c1-180
for pid in $(awk 'NR > 1 { print $1 }' <<<"$busiest" | head -n "$count"); do
  [ -r "/proc/$pid/stat" ] || continue
  echo "-- pid $pid: $(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-120)"
  echo "   $(grep '^State:' "/proc/$pid/status" 2>/dev/null), waiting in: $(cat "/proc/$pid/wchan" 2>/dev/null || echo '?')"
  # Empty for a task on a CPU: the CPUs' backtraces below show where those are.
  sed 's/^/   kernel: /' "/proc/$pid/stack" 2>/dev/null | head -n 16
done

echo "-- the threads in uninterruptible sleep (state D), where the kernel holds them"
ps -eLo pid,tid,stat,args --no-headers | awk '$3 ~ /^D/' | head -n 8 | while read -r pid tid _ args; do
  echo "-- pid $pid thread $tid: $(cut -c1-120 <<<"$args")"
  sed 's/^/   kernel: /' "/proc/$pid/task/$tid/stack" 2>/dev/null | head -n 16
done

# Before SysRq's backtraces, which are warnings themselves.
echo "-- the kernel's last errors and warnings"
dmesg --level=emerg,alert,crit,err,warn 2>/dev/null | tail -n 12 | cut -c1-160 || echo "(dmesg failed)"

if [ -w /proc/sysrq-trigger ]; then
  before=$(dmesg 2>/dev/null | wc -l)
  echo l > /proc/sysrq-trigger
  sleep 1
  echo "-- every CPU's backtrace (SysRq l)"
  dmesg 2>/dev/null | tail -n "+$((before + 1))" | head -n 80 | cut -c1-160
else
  echo "-- every CPU's backtrace: needs root (/proc/sysrq-trigger)"
fi

