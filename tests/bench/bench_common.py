"""Helpers shared by the benchmark drivers (relay_bench.py, tls/tls_bench.py): stderr logging,
a free loopback port, and waiting for an SMTP 220 banner. Standard library only."""

import socket
import sys
import time


def log(msg):
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------
# Small subcommands used by the shell script.

def cmd_free_port(_args):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])
    return 0


def read_banner(port, timeout):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        data = b""
        while b"\r\n" not in data:
            chunk = s.recv(512)
            if not chunk:
                break
            data += chunk
        if data.startswith(b"220"):
            s.sendall(b"QUIT\r\n")
        return data


def cmd_wait_banner(args):
    """Waits until 127.0.0.1:PORT greets with 220 (through every hop in front of the sink)."""
    deadline = time.monotonic() + args.timeout
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            banner = read_banner(args.port, 2.0)
            if banner.startswith(b"220"):
                return 0
            last = repr(banner[:80])
        except OSError as e:
            last = str(e)
        time.sleep(0.05)
    log(f"port {args.port} did not greet with 220 within {args.timeout}s ({last})")
    return 1


