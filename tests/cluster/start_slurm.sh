#!/usr/bin/env bash
# Bring up a real one-node SLURM cluster (munged, MariaDB, slurmdbd, slurmctld,
# slurmd) on this machine, with all state, configs, pid files and logs under
# STATE_DIR. Idempotent: daemons whose pid file points at a live process are
# left alone. Needs root. Stop it again with tests/cluster/stop_slurm.sh.
#
#   tests/cluster/start_slurm.sh STATE_DIR
#   . STATE_DIR/env.sh        # SLURM_CONF, SLURM_CI_PARTITION, SLURM_CI_ACCOUNT
#
# Tunables (environment): SLURM_CI_CLUSTER (ci), SLURM_CI_PARTITION (debug),
# SLURM_CI_ACCOUNT (ci), SLURM_CI_MYSQL_PORT (13306), SLURM_CI_TIMEOUT (60 s per wait).
set -euo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 2
fi
if [[ $(id -u) -ne 0 ]]; then
    echo "$0: must run as root" >&2
    exit 2
fi

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"
CLUSTER=${SLURM_CI_CLUSTER:-ci}
PARTITION=${SLURM_CI_PARTITION:-debug}
ACCOUNT=${SLURM_CI_ACCOUNT:-ci}
MYSQL_PORT=${SLURM_CI_MYSQL_PORT:-13306}
TIMEOUT=${SLURM_CI_TIMEOUT:-60}
T0=$EPOCHREALTIME

log() { printf '[start_slurm %5.1fs] %s\n' "$(awk -v a="$T0" -v b="$EPOCHREALTIME" 'BEGIN {print b - a}')" "$*" >&2; }
die() { echo "start_slurm: ERROR: $*" >&2; exit 1; }

# wait_for DESC CMD...: poll CMD (an executable, not a function; each try cut
# at 15 s) every 0.2 s until it succeeds, at most TIMEOUT s in all.
wait_for() {
    local desc=$1; shift
    local deadline=$(($(date +%s) + TIMEOUT))
    until timeout 15 "$@" </dev/null >/dev/null 2>&1; do
        if (($(date +%s) >= deadline)); then
            echo "start_slurm: timed out after ${TIMEOUT}s waiting for: $desc" >&2
            return 1
        fi
        sleep 0.2
    done
}

# pid_alive PIDFILE: the pid file exists and names a live (non-zombie) process.
pid_alive() {
    local pid
    [[ -s $1 ]] || return 1
    pid=$(cat "$1")
    kill -0 "$pid" 2>/dev/null && [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]
}

# show_log FILE: print the tail of a daemon log after a failure.
show_log() {
    [[ -f $1 ]] && { echo "---- tail of $1" >&2; tail -n 30 "$1" >&2; }
    return 0
}

# ---------------------------------------------------------------- packages
have_all() {
    command -v sbatch && command -v sacct && command -v sacctmgr &&
        command -v slurmctld && command -v slurmd && command -v slurmdbd &&
        command -v munged && command -v mungekey &&
        { command -v mariadbd || command -v mysqld; } &&
        command -v mariadb-install-db
} >/dev/null 2>&1

if ! have_all; then
    log "installing slurm-wlm munge mariadb-server slurmdbd (apt-get)"
    # Without systemd, the packages' postinst scripts would start a system
    # MariaDB and munged through invoke-rc.d. A policy-rc.d that answers 101
    # forbids that; Docker images usually ship one, otherwise add one just for
    # the install.
    tmp_policy=""
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        tmp_policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' >"$tmp_policy"
        chmod 755 "$tmp_policy"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends \
        slurm-wlm munge mariadb-server slurmdbd >/dev/null
    [[ -n $tmp_policy ]] && rm -f "$tmp_policy"
    have_all || die "packages installed but a command is still missing"
    log "packages installed"
fi
MARIADBD=$(command -v mariadbd || command -v mysqld)

# ---------------------------------------------------------------- layout
mkdir -p "$1"
S=$(cd "$1" && pwd -P)
# The daemons that drop root (munged as munge, mariadbd as mysql) must reach
# their own subfolders: STATE_DIR and every parent need the x bit for others.
chmod 755 "$S"
for u in munge mysql; do
    runuser -u "$u" -- test -x "$S" ||
        die "user $u cannot enter $S; pick a STATE_DIR whose parents are world-searchable (e.g. under /tmp)"
done
mkdir -p "$S/etc" "$S/run" "$S/log" "$S/slurmctld" "$S/slurmd" "$S/munge" "$S/mysql"
chown munge:munge "$S/munge"
chmod 700 "$S/munge"
chown mysql:mysql "$S/mysql"
chmod 750 "$S/mysql"
MYSQL_SOCK="$S/mysql/mysqld.sock"
((${#MYSQL_SOCK} < 100)) || die "STATE_DIR path too long for a unix socket: $MYSQL_SOCK"

export SLURM_CONF="$S/etc/slurm.conf"

# ---------------------------------------------------------------- munge
if [[ ! -s /etc/munge/munge.key ]]; then
    log "creating /etc/munge/munge.key"
    mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
# munged's socket stays at the default /run/munge/munge.socket.2, which is where
# slurm's auth/munge looks; /run may be a fresh tmpfs, so recreate its folder.
mkdir -p /run/munge
chown munge:munge /run/munge
chmod 755 /run/munge
if pid_alive "$S/munge/munged.pid"; then
    log "munged already running"
else
    log "starting munged"
    runuser -u munge -- munged \
        --pid-file="$S/munge/munged.pid" \
        --log-file="$S/munge/munged.log" \
        --seed-file="$S/munge/munged.seed" </dev/null >/dev/null 2>&1 ||
        { show_log "$S/munge/munged.log"; die "munged failed to start"; }
fi
wait_for "munge round trip" sh -c 'munge -n | unmunge' ||
    { show_log "$S/munge/munged.log"; die "munge does not work"; }

# ---------------------------------------------------------------- MariaDB
# A private MariaDB: fresh datadir in STATE_DIR, own port and socket, no
# my.cnf (--no-defaults), so it never touches a system MariaDB.
DATADIR="$S/mysql/data"
MYSQL_CLIENT=(mariadb --no-defaults --protocol=socket --socket="$MYSQL_SOCK" -uroot)
if [[ ! -d $DATADIR/mysql ]]; then
    log "initialising MariaDB datadir"
    rm -rf "$DATADIR"
    mariadb-install-db --no-defaults --user=mysql --datadir="$DATADIR" \
        --auth-root-authentication-method=socket --skip-test-db \
        >"$S/log/mariadb-install-db.log" 2>&1 ||
        { show_log "$S/log/mariadb-install-db.log"; die "mariadb-install-db failed"; }
fi
if pid_alive "$S/mysql/mariadbd.pid"; then
    log "mariadbd already running"
else
    log "starting mariadbd on 127.0.0.1:$MYSQL_PORT"
    setsid "$MARIADBD" --no-defaults --user=mysql --datadir="$DATADIR" \
        --socket="$MYSQL_SOCK" --port="$MYSQL_PORT" --bind-address=127.0.0.1 \
        --pid-file="$S/mysql/mariadbd.pid" --log-error="$S/mysql/mariadbd.err" \
        --innodb-buffer-pool-size=128M --innodb-lock-wait-timeout=900 \
        </dev/null >/dev/null 2>&1 &
fi
wait_for "MariaDB" "${MYSQL_CLIENT[@]}" -e 'SELECT 1' ||
    { show_log "$S/mysql/mariadbd.err"; die "MariaDB did not come up"; }

if [[ ! -s $S/etc/dbpass ]]; then
    (umask 077; od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$S/etc/dbpass")
fi
DBPASS=$(cat "$S/etc/dbpass")
"${MYSQL_CLIENT[@]}" <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
CREATE USER IF NOT EXISTS 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'localhost' IDENTIFIED BY '$DBPASS';
ALTER USER 'slurm'@'127.0.0.1' IDENTIFIED BY '$DBPASS';
CREATE DATABASE IF NOT EXISTS slurm_acct_db;
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';
FLUSH PRIVILEGES;
SQL

# ---------------------------------------------------------------- configs
# The node's real size, as slurmd itself measures it (RealMemory must not be
# larger than what slurmd finds, or the node is drained as "Low RealMemory").
HW=$(slurmd -C 2>/dev/null | head -n 1)
CPUS=$(sed -n 's/.*CPUs=\([0-9]*\).*/\1/p' <<<"$HW")
MEM=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$HW")
[[ -n $CPUS ]] || CPUS=$(nproc)
[[ -n $MEM ]] || MEM=$(($(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024))

write_if_changed() { # FILE MODE: stdin -> FILE, only rewritten when different
    local tmp
    tmp=$(mktemp "$1.XXXX")
    cat >"$tmp"
    chmod "$2" "$tmp"
    if [[ -f $1 ]] && cmp -s "$tmp" "$1"; then rm -f "$tmp"; else mv -f "$tmp" "$1"; fi
}

# slurmdbd finds slurmdbd.conf beside $SLURM_CONF; it must be mode 600 and owned
# by its SlurmUser (root here).
write_if_changed "$S/etc/slurmdbd.conf" 600 <<EOF
AuthType=auth/munge
DbdHost=localhost
DbdPort=6819
SlurmUser=root
PidFile=$S/run/slurmdbd.pid
LogFile=$S/log/slurmdbd.log
DebugLevel=info
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$MYSQL_PORT
StorageUser=slurm
StoragePass=$DBPASS
StorageLoc=slurm_acct_db
EOF

write_if_changed "$SLURM_CONF" 644 <<EOF
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
ReturnToService=2
MinJobAge=300
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=$S/slurmctld
SlurmdSpoolDir=$S/slurmd
SlurmctldPidFile=$S/run/slurmctld.pid
SlurmdPidFile=$S/run/slurmd.pid
SlurmctldLogFile=$S/log/slurmctld.log
SlurmdLogFile=$S/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=6819
AccountingStorageEnforce=associations
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=30
JobCompType=jobcomp/none
SchedulerType=sched/backfill
MailProg=/bin/true
InactiveLimit=0
KillWait=10
Waittime=0
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$MEM State=UNKNOWN
PartitionName=$PARTITION Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF

# /etc/slurm/slurm.conf must exist: inside a job, snakemake-executor-plugin-
# slurm-jobstep strips every SLURM_* variable except the job's identity
# (SLURM_CONF included) before it calls `srun`, so srun only finds the
# compiled-in default path. A symlink to our config keeps STATE_DIR the one
# source; stop_slurm.sh removes it again. A real file there is never replaced.
if [[ -e /etc/slurm/slurm.conf && ! -L /etc/slurm/slurm.conf ]]; then
    die "/etc/slurm/slurm.conf is a regular file; refusing to replace it"
fi
mkdir -p /etc/slurm
ln -sfn "$SLURM_CONF" /etc/slurm/slurm.conf

# ---------------------------------------------------------------- slurmdbd
if pid_alive "$S/run/slurmdbd.pid"; then
    log "slurmdbd already running"
else
    log "starting slurmdbd"
    slurmdbd </dev/null >/dev/null 2>&1 || { show_log "$S/log/slurmdbd.log"; die "slurmdbd failed"; }
fi
wait_for "slurmdbd" sacctmgr -n list cluster ||
    { show_log "$S/log/slurmdbd.log"; die "slurmdbd does not answer"; }

# Cluster, account and user must exist before slurmctld registers.
# sacctmgr asks "Are you sure you want to continue? (N/y)" for some queries
# (e.g. `list user NAME account=X`) and, with stdin at EOF, prints "Y or N
# please" forever: always give it </dev/null, a timeout, and only ask `list
# assoc` for associations.
sam() { timeout 30 sacctmgr "$@" </dev/null; }
if [[ -z $(sam -n -P list cluster "$CLUSTER" format=cluster) ]]; then
    sam -i add cluster "$CLUSTER" >/dev/null
fi
if [[ -z $(sam -n -P list account "$ACCOUNT" format=account) ]]; then
    sam -i add account "$ACCOUNT" cluster="$CLUSTER" \
        description="CI account" organization=ci >/dev/null
fi
if [[ -z $(sam -n -P list assoc cluster="$CLUSTER" account="$ACCOUNT" user=root format=user) ]]; then
    sam -i add user root account="$ACCOUNT" defaultaccount="$ACCOUNT" \
        cluster="$CLUSTER" >/dev/null
fi
[[ -n $(sam -n -P list assoc cluster="$CLUSTER" account="$ACCOUNT" user=root format=user) ]] ||
    die "association root/$ACCOUNT/$CLUSTER missing"

# ---------------------------------------------------------------- slurmctld, slurmd
if pid_alive "$S/run/slurmctld.pid"; then
    log "slurmctld already running"
else
    log "starting slurmctld"
    slurmctld </dev/null >/dev/null 2>&1 || { show_log "$S/log/slurmctld.log"; die "slurmctld failed"; }
fi
wait_for "slurmctld" scontrol ping ||
    { show_log "$S/log/slurmctld.log"; die "slurmctld does not answer"; }

if pid_alive "$S/run/slurmd.pid"; then
    log "slurmd already running"
else
    log "starting slurmd"
    slurmd -N localhost </dev/null >/dev/null 2>&1 || { show_log "$S/log/slurmd.log"; die "slurmd failed"; }
fi
wait_for "node localhost idle" sh -c '[ "$(sinfo -h -n localhost -o %T)" = idle ]' ||
    { sinfo -N -l >&2 || true; show_log "$S/log/slurmd.log"; show_log "$S/log/slurmctld.log"; die "node not idle"; }
wait_for "sacct" sacct -n -X --starttime now-1hour ||
    { show_log "$S/log/slurmdbd.log"; die "sacct does not answer"; }

# ---------------------------------------------------------------- env
write_if_changed "$S/env.sh" 644 <<EOF
# Source this to use the CI SLURM cluster started by tests/cluster/start_slurm.sh
export SLURM_CONF=$SLURM_CONF
export SLURM_CI_STATE_DIR=$S
export SLURM_CI_CLUSTER=$CLUSTER
export SLURM_CI_PARTITION=$PARTITION
export SLURM_CI_ACCOUNT=$ACCOUNT
EOF
log "SLURM cluster '$CLUSTER' up: node localhost ($CPUS CPUs, ${MEM} MB), partition $PARTITION, account $ACCOUNT"
cat "$S/env.sh" | grep '^export'
