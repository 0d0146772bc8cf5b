#!/usr/bin/env bash
# Stop the one-node SLURM cluster started by tests/cluster/start_slurm.sh.
# Every daemon is stopped by the PID in its pid file under STATE_DIR (never by
# name), with SIGTERM, then SIGKILL after a bounded wait. Already-stopped
# daemons and missing pid files are fine. Jobs still in the queue are cancelled
# first (by job ID), so no slurmstepd outlives slurmd.
#
#   tests/cluster/stop_slurm.sh STATE_DIR
set -uo pipefail

if [[ $# -ne 1 || -z "$1" ]]; then
    echo "usage: $0 STATE_DIR" >&2
    exit 2
fi
if [[ ! -d $1 ]]; then
    echo "stop_slurm: $1 does not exist, nothing to stop" >&2
    exit 0
fi
S=$(cd "$1" && pwd -P)
export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:${PATH}"
export SLURM_CONF="$S/etc/slurm.conf"
TIMEOUT=${SLURM_CI_STOP_TIMEOUT:-30}
rc=0

pid_of() { [[ -s $1 ]] && cat "$1"; }

# alive PID: the process exists and is not a zombie. The daemons are re-parented
# to PID 1, which on some container machines reaps only every few seconds.
alive() {
    kill -0 "$1" 2>/dev/null || return 1
    local state
    state=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [[ $state != Z ]]
}

# stop_pid NAME PIDFILE EXPECTED_COMM
stop_pid() {
    local name=$1 pidfile=$2 comm=$3 pid
    pid=$(pid_of "$pidfile") || { echo "stop_slurm: $name: no pid file"; return 0; }
    if ! alive "$pid"; then
        echo "stop_slurm: $name: not running (stale pid $pid)"
        rm -f "$pidfile"
        return 0
    fi
    # Guard against a recycled PID: only signal the daemon we started.
    if [[ $(cat "/proc/$pid/comm" 2>/dev/null) != "$comm" ]]; then
        echo "stop_slurm: $name: pid $pid is $(cat "/proc/$pid/comm" 2>/dev/null), not $comm; left alone"
        rm -f "$pidfile"
        return 0
    fi
    kill -TERM "$pid" 2>/dev/null
    local deadline=$(($(date +%s) + TIMEOUT))
    while alive "$pid"; do
        if (($(date +%s) >= deadline)); then
            echo "stop_slurm: $name (pid $pid) ignored SIGTERM for ${TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null
            sleep 0.5
            alive "$pid" && { echo "stop_slurm: $name (pid $pid) still alive"; rc=1; }
            break
        fi
        sleep 0.1
    done
    alive "$pid" || { rm -f "$pidfile"; echo "stop_slurm: $name stopped (pid $pid)"; }
}

# Cancel leftover jobs by ID while slurmctld still answers; wait until no
# job step process (slurmstepd) is left.
if [[ -n $(pid_of "$S/run/slurmctld.pid") ]] && alive "$(pid_of "$S/run/slurmctld.pid")" &&
    command -v squeue >/dev/null && timeout 10 scontrol ping >/dev/null 2>&1; then
    jobs=$(timeout 10 squeue -h -o %A -t PENDING,RUNNING,SUSPENDED,COMPLETING 2>/dev/null | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
        echo "stop_slurm: cancelling jobs $jobs"
        # shellcheck disable=SC2086
        timeout 10 scancel $jobs || true
        deadline=$(($(date +%s) + TIMEOUT))
        while [[ -n $(timeout 10 squeue -h -o %A 2>/dev/null) ]] && (($(date +%s) < deadline)); do
            sleep 0.2
        done
    fi
fi

stop_pid slurmctld "$S/run/slurmctld.pid" slurmctld
stop_pid slurmd "$S/run/slurmd.pid" slurmd
stop_pid slurmdbd "$S/run/slurmdbd.pid" slurmdbd
stop_pid mariadbd "$S/mysql/mariadbd.pid" mariadbd
stop_pid munged "$S/munge/munged.pid" munged
# start_slurm.sh links /etc/slurm/slurm.conf to STATE_DIR's config: drop the
# link when it still points here.
if [[ -L /etc/slurm/slurm.conf && $(readlink /etc/slurm/slurm.conf) == "$S/etc/slurm.conf" ]]; then
    rm -f /etc/slurm/slurm.conf
    echo "stop_slurm: removed /etc/slurm/slurm.conf symlink"
fi
exit $rc
