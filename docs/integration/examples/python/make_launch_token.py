#!/usr/bin/env python3
"""Make a Relais contextual launch token, as an EHR does, and print it.

Needs PyJWT with its crypto extra (Debian: apt-get install python3-jwt
python3-cryptography; elsewhere: pip install "pyjwt[crypto]").

    python3 make_launch_token.py --key ehr.pem --ehr dpi-chg --site chu-bordeaux \
        --user u42 --user-name "Dr Claire Martin" --role MED \
        --ipp 7001 --ins 206127511100564 --birth-name DUPONT --first-names Marie \
        --birth-date 2006-12-14 --sex F

The EHR then posts the token to https://RELAIS/launch in a form field named
"token" (see docs/integration/launch.md). A token opens Relais once and
expires 60 seconds after it is made at most.
"""
import argparse
import hashlib
import json
import time
import uuid

import jwt  # PyJWT
from cryptography.hazmat.primitives import serialization


def thumbprint(public_key):
    """RFC 7638 JWK thumbprint (SHA-256, hex): the key id Relais computes."""
    jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(public_key))
    canon = json.dumps({"crv": jwk["crv"], "kty": "EC", "x": jwk["x"], "y": jwk["y"]},
                       separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(canon.encode()).hexdigest()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--key", required=True, help="the EHR's EC P-256 private key (PEM)")
    p.add_argument("--ehr", required=True, help="the EHR's id at the site (iss)")
    p.add_argument("--site", required=True, help="the Relais site's id (aud)")
    p.add_argument("--user", required=True, help="the user's id in the EHR (sub)")
    p.add_argument("--user-name", required=True)
    p.add_argument("--role", required=True, help="the user's role code in the EHR")
    p.add_argument("--rpps", default="")
    p.add_argument("--ipp", required=True)
    p.add_argument("--ins", default="", help="INS matricule, 15 characters (qualified identities only)")
    p.add_argument("--ins-oid", default="1.2.250.1.213.1.4.8")
    p.add_argument("--birth-name", required=True)
    p.add_argument("--used-name", default="")
    p.add_argument("--first-names", required=True, help="comma-separated, the usual one first")
    p.add_argument("--birth-date", required=True, help="YYYY-MM-DD")
    p.add_argument("--sex", required=True, choices=["M", "F", "U"])
    p.add_argument("--purpose", default="care")
    a = p.parse_args()

    with open(a.key, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), password=None)
    now = int(time.time())
    ins = {"status": "provisional"}
    if a.ins:
        ins = {"matricule": a.ins.replace(" ", ""), "oid": a.ins_oid, "status": "qualified"}
    user = {"id": a.user, "name": a.user_name, "role": a.role}
    if a.rpps:
        user["rpps"] = a.rpps
    patient = {"ipp": a.ipp, "ins": ins, "birth_name": a.birth_name,
               "first_names": [n.strip() for n in a.first_names.split(",") if n.strip()],
               "birth_date": a.birth_date, "sex": a.sex}
    if a.used_name:
        patient["used_name"] = a.used_name
    claims = {"iss": a.ehr, "aud": a.site, "sub": a.user, "iat": now, "exp": now + 60,
              "jti": str(uuid.uuid4()), "user": user, "patient": patient, "purpose": a.purpose}
    token = jwt.encode(claims, key, algorithm="ES256",
                       headers={"kid": thumbprint(key.public_key()), "typ": "JWT"})
    print(token)


if __name__ == "__main__":
    main()
