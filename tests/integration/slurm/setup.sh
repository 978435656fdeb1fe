#!/usr/bin/env bash
# Start a single-node SLURM cluster with accounting, as plain background processes
# (no systemd): munged, mariadbd, slurmdbd, slurmctld, slurmd. Everything lives in
# STATE_DIR: configs, spool, logs, and one pid file per daemon in STATE_DIR/pids
# (teardown.sh stops exactly those pids). Installs Debian's packages when missing.
#
#   tests/integration/slurm/setup.sh STATE_DIR
#
# The configs go to /etc/slurm (SLURM_TEST_CONF_DIR): the executor plugin's job step
# drops SLURM_CONF before its inner srun, so only the default location works inside
# jobs. An existing slurm.conf not written by this script is never overwritten;
# teardown.sh removes only files carrying this script's marker line.
#
# Two simulated GPUs (gres.conf File= symlinks to character devices) let `--gpus=N`
# be scheduled and make SLURM set CUDA_VISIBLE_DEVICES. Ports are private (16817-16819,
# 13306) so a real cluster's defaults on the same machine are not touched.
set -euo pipefail

STATE=${1:?usage: setup.sh STATE_DIR}
mkdir -p "$STATE"
STATE=$(cd "$STATE" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
CTLD_PORT=${SLURM_TEST_CTLD_PORT:-16817}
SLURMD_PORT=${SLURM_TEST_SLURMD_PORT:-16818}
DBD_PORT=${SLURM_TEST_DBD_PORT:-16819}
DB_PORT=${SLURM_TEST_DB_PORT:-13306}
PIDS=$STATE/pids
CONF_DIR=${SLURM_TEST_CONF_DIR:-/etc/slurm}
MARKER="# written by layerwise tests/integration/slurm/setup.sh"
mkdir -p "$PIDS" "$STATE/log" "$CONF_DIR" "$STATE/spool/ctld" "$STATE/spool/slurmd" "$STATE/dev" "$STATE/munge"

say() { echo "[slurm-setup] $*"; }

# wait_for DESCRIPTION TIMEOUT_S COMMAND...: poll until COMMAND succeeds
wait_for() {
    local what=$1 timeout=$2
    shift 2
    local start=$SECONDS
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS - start > timeout)); then
            say "timed out after ${timeout}s waiting for $what; logs in $STATE/log:"
            tail -n 20 "$STATE"/log/*.log >&2 || true
            exit 1
        fi
        sleep 0.5
    done
}

# start NAME COMMAND...: run a daemon in the foreground mode, in the background; record its pid
start() {
    local name=$1
    shift
    "$@" >>"$STATE/log/$name.out" 2>&1 &
    echo $! >"$PIDS/$name.pid"
    say "started $name (pid $!)"
}

# --- packages ---------------------------------------------------------------------
PKGS="slurmctld slurmd slurm-client slurmdbd munge mariadb-server"
if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null ||
    ! command -v munged >/dev/null || ! command -v mariadbd >/dev/null || ! command -v sacct >/dev/null; then
    if [ "$(id -u)" != 0 ]; then
        say "SLURM is not installed and this is not root: apt-get install $PKGS" >&2
        exit 1
    fi
    say "installing $PKGS"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # the packages' own service starts are blocked (no systemd/runlevel): we start them below
    apt-get install -y -qq --no-install-recommends $PKGS >"$STATE/log/apt.log" 2>&1 ||
        { tail -n 30 "$STATE/log/apt.log" >&2; exit 1; }
fi

HOST=$(hostname -s)
CPUS=8 # declared above the real count (config_overrides) so rules asking for a few threads still fit
MEM_MB=$(awk '/MemTotal/ {print int($2 / 1024 * 0.6)}' /proc/meminfo)

for conf in slurm.conf slurmdbd.conf gres.conf; do
    if [ -e "$CONF_DIR/$conf" ] && ! grep -qF "$MARKER" "$CONF_DIR/$conf"; then
        say "$CONF_DIR/$conf exists and was not written by this script; not touching a real" \
            "cluster's configuration (run on a machine without SLURM, or set SLURM_TEST_CONF_DIR)" >&2
        exit 1
    fi
done
echo "$CONF_DIR" >"$STATE/conf_dir"

# --- munge ------------------------------------------------------------------------
MUNGE_SOCKET=$STATE/munge/munge.socket
if [ ! -s "$STATE/munge/munge.key" ]; then
    dd if=/dev/urandom of="$STATE/munge/munge.key" bs=1024 count=1 status=none
fi
chmod 700 "$STATE/munge"
chmod 400 "$STATE/munge/munge.key"
start munged munged --foreground --force --key-file="$STATE/munge/munge.key" \
    --socket="$MUNGE_SOCKET" --pid-file="$STATE/munge/munged.pid" \
    --log-file="$STATE/log/munged.log" --seed-file="$STATE/munge/seed"
wait_for munged 30 test -S "$MUNGE_SOCKET"

# --- mariadb (accounting storage) -------------------------------------------------
DB_SOCKET=$STATE/mysql/mysqld.sock
if [ ! -d "$STATE/mysql/data/mysql" ]; then
    mkdir -p "$STATE/mysql"
    mariadb-install-db --no-defaults --user=root --datadir="$STATE/mysql/data" \
        --auth-root-authentication-method=socket >"$STATE/log/mariadb-install.log" 2>&1
fi
start mariadbd mariadbd --no-defaults --user=root --datadir="$STATE/mysql/data" \
    --socket="$DB_SOCKET" --pid-file="$STATE/mysql/mariadbd.pid" --port="$DB_PORT" \
    --bind-address=127.0.0.1 --skip-name-resolve --log-error="$STATE/log/mariadbd.log" \
    --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900
wait_for mariadbd 60 mariadb --no-defaults -S "$DB_SOCKET" -u root -e "SELECT 1"
mariadb --no-defaults -S "$DB_SOCKET" -u root -e "
    CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurm-test';
    GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
    FLUSH PRIVILEGES;"

# --- configuration ----------------------------------------------------------------
for i in 0 1; do
    # simulated GPUs: gres File= must be character devices, or the node drains
    ln -sfn "$([ $i = 0 ] && echo /dev/null || echo /dev/zero)" "$STATE/dev/gpu$i"
done
export STATE HOST CPUS MEM_MB CTLD_PORT SLURMD_PORT DBD_PORT DB_PORT MUNGE_SOCKET
for conf in slurm.conf slurmdbd.conf gres.conf; do
    # envsubst-like fill of ${VAR} placeholders, without needing gettext
    { echo "$MARKER ($STATE)"; perl -pe 's/\$\{(\w+)\}/exists $ENV{$1} ? $ENV{$1} : die "unset $1"/ge' \
        "$HERE/$conf.in"; } >"$CONF_DIR/$conf.tmp"
    mv "$CONF_DIR/$conf.tmp" "$CONF_DIR/$conf"
done
chmod 600 "$CONF_DIR/slurmdbd.conf" # slurmdbd refuses a readable password file
export SLURM_CONF=$CONF_DIR/slurm.conf

# --- slurmdbd, then the cluster's record, then the controller and the node ---------
start slurmdbd slurmdbd -D
wait_for slurmdbd 60 sacctmgr -n list cluster
sacctmgr -i add cluster layerwise >/dev/null 2>&1 || true
start slurmctld slurmctld -D -i
wait_for slurmctld 60 scontrol ping
start slurmd slurmd -D
wait_for "node $HOST idle" 90 bash -c "sinfo -h -N -o %T | grep -qx idle"
say "cluster up: $(sinfo -h -N -o '%N %T cpus=%c mem=%m gres=%G')"
say "export SLURM_CONF=$SLURM_CONF"
