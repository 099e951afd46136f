#!/usr/bin/env python3
"""Send one HL7 v2.5 ADT message to Relais over MLLP and print the ACK.

Standard library only. The message is read from a file (segments on
separate lines) and sent in the character set its MSH-18 declares
(8859/1 or UNICODE UTF-8).

    python3 send_adt.py --host relais.chu.example --port 2575 adt_a28.hl7

Exit status: 0 when Relais answers AA, 1 for AE or AR (the ERR segment
says where the fault is), 2 when there is no answer.
"""
import argparse
import socket
import sys

VT, FS, CR = b"\x0b", b"\x1c", b"\x0d"


def charset_of(text):
    msh = text.split("\r", 1)[0].split("|")
    declared = msh[17] if len(msh) > 17 else ""
    return "latin-1" if declared.startswith("8859/1") else "utf-8"


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=2575)
    p.add_argument("file")
    a = p.parse_args()
    with open(a.file, encoding="utf-8") as f:
        text = "\r".join(line.rstrip("\r\n") for line in f if line.strip()) + "\r"
    data = text.encode(charset_of(text))
    with socket.create_connection((a.host, a.port), timeout=30) as s:
        s.sendall(VT + data + FS + CR)
        reply = b""
        while not reply.endswith(FS + CR):
            chunk = s.recv(65536)
            if not chunk:
                print("no answer from Relais", file=sys.stderr)
                sys.exit(2)
            reply += chunk
    ack = reply.strip(VT + FS + CR).decode(charset_of(reply.decode("latin-1")))
    print(ack.replace("\r", "\n"))
    msa = [seg for seg in ack.split("\r") if seg.startswith("MSA|")]
    sys.exit(0 if msa and msa[0].split("|")[1] == "AA" else 1)


if __name__ == "__main__":
    main()
