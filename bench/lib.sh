# Shell helpers shared by the measuring scripts (bench/soak, bench/fleet,
# bench/prometheus-cost, scripts/fuzz; bench/run's driver is Rust,
# benches/loadgen/run/). Sourced, never run. The script that sources
# it defines `die MESSAGE` (print and exit) before calling these.

# A free loopback port, chosen by the kernel.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# proc_kib PID FIELD: a /proc/PID/status figure in KiB (VmRSS, VmHWM).
proc_kib() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }
rss_kib() { proc_kib "$1" VmRSS; }
hwm_kib() { proc_kib "$1" VmHWM; }

# alive PID: the process still runs.
alive() { kill -0 "$1" 2>/dev/null; }

# wait_http URL PID SECONDS [POLL]: waits until URL answers 2xx, looking
# every POLL seconds (0.2); fails as soon as PID exits, or after SECONDS.
wait_http() {
  local deadline=$(($(date +%s) + $3))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    alive "$2" || return 1
    curl -fs --max-time 2 -o /dev/null "$1" && return 0
    sleep "${4:-0.2}"
  done
  return 1
}

# write_section NAME SECTION_FILE OUT: puts the section (the text between
# `<!-- NAME:` and `<!-- /NAME -->`, markers included) into OUT, in place
# of the previous one, or at the end when OUT has none yet.
write_section() {
  python3 - "$1" "$2" "$3" <<'PY'
import os, re, sys
name, section, path = sys.argv[1], open(sys.argv[2]).read().rstrip("\n") + "\n", sys.argv[3]
text = open(path).read() if os.path.exists(path) else "# Benchmarks\n"
pattern = re.compile(r"<!-- " + re.escape(name) + r":.*?<!-- /" + re.escape(name) + r" -->\n?", re.S)
if pattern.search(text):
    text = pattern.sub(lambda _: section, text)
else:
    text = text.rstrip("\n") + "\n\n" + section
open(path, "w").write(text)
PY
}
