"""Canary: a method that opens a socket to the evaluation server (whose port it somehow knows: the
worst case) to ask it for scores. The jail has a network namespace of its own."""

import json
import socket
import sys

PORT = 0  # the evaluation server's port, written in by whoever runs this canary


def train(strong_model_dir, transfer_path, out_dir, seed):
    body = json.dumps({"split": "test", "seed": seed, "method": "canary", "student": out_dir}).encode()
    request = (
        f"POST /score HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Client: canary network\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode() + body
    try:
        with socket.create_connection(("127.0.0.1", PORT), timeout=5) as s:
            s.sendall(request)
            answer = s.recv(4096).decode(errors="replace").splitlines()[0]
    except OSError as e:
        print(f"canary network: no connection ({type(e).__name__}: {e})")
        sys.exit(1)
    print(f"canary network: connected to the evaluation server, which answered {answer!r}")
