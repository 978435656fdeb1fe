#!/usr/bin/env bash
# Stop the daemons setup.sh started, by the pids it recorded in STATE_DIR/pids (never by name),
# in reverse start order: TERM, up to 20 s to exit, then KILL; then removes the configs it wrote.
set -uo pipefail
STATE=${1:?usage: teardown.sh STATE_DIR}
for name in slurmd slurmctld slurmdbd mariadbd munged; do
    pidfile=$STATE/pids/$name.pid
    [ -f "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 40); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.5
        done
        if kill -0 "$pid" 2>/dev/null; then
            echo "[slurm-teardown] $name (pid $pid) ignored TERM; killing"
            kill -KILL "$pid"
        fi
    fi
    rm -f "$pidfile"
    echo "[slurm-teardown] stopped $name (pid $pid)"
done
# the configs setup.sh wrote (only those carrying its marker)
if [ -f "$STATE/conf_dir" ]; then
    conf_dir=$(cat "$STATE/conf_dir")
    for conf in slurm.conf slurmdbd.conf gres.conf; do
        if grep -qF "written by layerwise tests/integration/slurm/setup.sh" "$conf_dir/$conf" 2>/dev/null; then
            rm -f "$conf_dir/$conf"
        fi
    done
fi
