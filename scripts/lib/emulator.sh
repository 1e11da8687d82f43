# scripts/lib/emulator.sh: start and stop the local AWS emulator (moto,
# behind scripts/moto_server_serial.py). Sourced by scripts/test and
# examples/quickstart.sh; expects $root (the repository), $ci (true|false)
# and the functions step, warn and die.

moto_cmd=()
moto_pid=""
moto_log=""

find_moto() {
    # moto's own app, behind a lock so conditional writes are linearizable
    # (see scripts/moto_server_serial.py); needs moto[server] importable.
    if python3 -c 'import moto.server, werkzeug' >/dev/null 2>&1; then
        moto_cmd=(python3 "$root/scripts/moto_server_serial.py")
    else
        return 1
    fi
}

ensure_moto() {
    step "checking for the AWS emulator (moto_server)"
    if ! find_moto; then
        echo "moto_server not found; installing with: python3 -m pip install --quiet 'moto[server]'"
        python3 -m pip install --quiet 'moto[server]' || echo "pip install failed" >&2
        hash -r
        command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
    fi
    if find_moto; then
        echo "using: ${moto_cmd[*]}"
        return 0
    fi
    moto_cmd=()
    if [[ $ci == true ]]; then
        die "moto_server is required under CI=true but is not available and 'python3 -m pip install moto[server]' did not provide it"
    fi
    warn "moto_server is not available: tests that need the AWS emulator will be SKIPPED (install with: python3 -m pip install 'moto[server]')"
}

stop_emulator() {
    [[ -n $moto_pid ]] || return 0
    local pid=$moto_pid
    moto_pid=""
    # The emulator runs in its own session/process group (setsid): signal the
    # whole group, fall back to the pid.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    local i
    for ((i = 0; i < 50; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    echo "stopped the AWS emulator (pid $pid)"
}

# probe URL: succeeds when URL answers with a 2xx status.
probe() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 1 "$1" 2>/dev/null
    else
        python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=1)' "$1" >/dev/null 2>&1
    fi
}

start_emulator() {
    [[ ${#moto_cmd[@]} -gt 0 ]] || return 0
    step "starting the AWS emulator"
    local port url i
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
    url="http://127.0.0.1:$port"
    moto_log=$(mktemp "${TMPDIR:-/tmp}/sentinel-moto.XXXXXX")
    if command -v setsid >/dev/null 2>&1; then
        setsid "${moto_cmd[@]}" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 </dev/null &
    else
        "${moto_cmd[@]}" -H 127.0.0.1 -p "$port" >"$moto_log" 2>&1 </dev/null &
    fi
    moto_pid=$!
    for ((i = 0; i < 100; i++)); do
        if probe "$url/moto-api/"; then
            break
        fi
        if ! kill -0 "$moto_pid" 2>/dev/null; then
            echo "--- emulator log ($moto_log) ---" >&2
            tail -n 30 "$moto_log" >&2 || true
            die "moto_server exited before answering on $url"
        fi
        sleep 0.2
    done
    if ((i == 100)); then
        echo "--- emulator log ($moto_log), last lines ---" >&2
        tail -n 30 "$moto_log" >&2 || true
        die "moto_server did not answer on $url/moto-api/ within 20 s"
    fi
    echo "moto_server (pid $moto_pid) listening on $url"
    export SENTINEL_TEST_AWS_ENDPOINT=$url
}


# ensure_aws_cli: the end-to-end tests and the quickstart drive the real
# `aws` CLI. Installed from PyPI (awscli) when missing; required under
# CI=true, otherwise a warning.
ensure_aws_cli() {
    step "checking for the aws CLI"
    if ! command -v aws >/dev/null 2>&1; then
        echo "aws CLI not found; installing with: python3 -m pip install --quiet awscli"
        python3 -m pip install --quiet awscli || echo "pip install failed" >&2
        hash -r
        command -v pyenv >/dev/null 2>&1 && pyenv rehash >/dev/null 2>&1 || true
        # pip may have installed into the user's script directory.
        local user_bin
        user_bin=$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts", "posix_user"))' 2>/dev/null || true)
        if ! command -v aws >/dev/null 2>&1 && [[ -n $user_bin && -x $user_bin/aws ]]; then
            export PATH="$user_bin:$PATH"
        fi
    fi
    if command -v aws >/dev/null 2>&1; then
        echo "using: $(command -v aws) ($(aws --version 2>&1 | head -n 1))"
        return 0
    fi
    if [[ $ci == true ]]; then
        die "the aws CLI is required under CI=true but is not available and 'python3 -m pip install awscli' did not provide it"
    fi
    warn "the aws CLI is not available: the sentinel-cli end-to-end tests will fail (install with: python3 -m pip install awscli)"
}
