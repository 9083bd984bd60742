#!/usr/bin/env python3
"""Recompute RevenueLedger's hash chain from an export (docs/audit.md) with nothing of the ledger's code.

usage: verify_export.py EXPORT.jsonl [--digest DIGEST.json ...]
Prints "intact: N events, head hash H" (exit 0) or "broken at position P: why" (exit 1).
A digest's signature is checked with openssl (docs/audit.md); here, that the export holds its position and hash.
"""
import hashlib, json, sys


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def broken(position, why):
    print(f"broken at position {position}: {why}")
    return 1


def verify(path, digests):
    signed = {}
    for d in digests:  # openssl checks the signature over "statement": the fields must be what it says
        fields = "|".join(f"{k}={d[k]}" for k in ("position", "headHash", "headRecordedAt", "signedAt", "keyId"))
        if d.get("statement") != f"revenueledger.digest.v1|{fields}":
            return broken(0, "a digest's fields are not the statement it signs")
        signed.setdefault(d["position"], []).append(d)
    with open(path, "rb") as f:
        header = json.loads(f.readline())
        if header.get("format") != "revenueledger.export.v1":
            return broken(0, "not a revenueledger.export.v1 file")
        previous, expected = "0" * 64, 1
        for line in f:
            e = json.loads(line)
            if not all(isinstance(e.get(k), str) for k in ("recordedAt", "accountId", "storedType", "eventId", "payload", "hash")):
                return broken(expected, "an export line lacks a field or holds a non-text one")
            if e["position"] != expected:
                return broken(expected, f"position {expected} is missing (found {e['position']} next)")
            content = "|".join([e["accountId"], e["storedType"], e["eventId"], e["payload"]]).encode("utf-8")
            link = f"{e['position']}|{e['streamVersion']}|{e['recordedAt']}|{previous}|{sha256_hex(content)}"
            if sha256_hex(link.encode("ascii", errors="replace")) != e["hash"]:
                return broken(expected, "hash mismatch: its content, position or predecessor was altered")
            try:
                payload = json.loads(e["payload"])
            except ValueError as x:
                return broken(expected, f"payload unreadable: {x}")
            if not isinstance(payload, dict):
                return broken(expected, "payload unreadable: not a JSON object")
            # Exchange rates ("$fx") and reason catalogue entries ("$reasons") carry no accountId: their stream is the row's.
            if payload.get("eventId") != e["eventId"] or payload.get("accountId", e["accountId"] if e["accountId"] in ("$fx", "$reasons") else None) != e["accountId"]:
                return broken(expected, "indexed eventId/accountId differ from the payload")
            for d in signed.get(expected, []):
                if d["headHash"] != e["hash"]:
                    return broken(expected, f"the digest signed {d['signedAt']} says {d['headHash']}: rewritten up to here")
            previous, expected = e["hash"], expected + 1
    last = expected - 1
    beyond = [d["position"] for d in digests if d["position"] > last]
    if beyond:
        return broken(expected, f"the export ends at {last}, a digest says {min(beyond)}: the tail was removed")
    if header["headPosition"] != last or header["headHash"] != previous:
        return broken(min(header["headPosition"], expected), f"the log ends at {last}, the head records {header['headPosition']}")
    print(f"intact: {last} events, head hash {previous}")
    return 0


def main(argv):
    args, digests = list(argv[1:]), []
    while "--digest" in args:
        i = args.index("--digest")
        with open(args[i + 1], encoding="utf-8") as d:
            digests.append(json.load(d))
        del args[i:i + 2]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    return verify(args[0], digests)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
