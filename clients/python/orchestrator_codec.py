"""The orchestrator's payload codec for Temporal's Python SDK (temporalio).

The worker encrypts every payload it sends to Temporal (workflow and activity inputs and results,
memo, signals, queries), so a Python client that starts ``orchestrateRequest`` or reads its result
needs the same codec and the same keys. This module implements exactly the wire format of the
TypeScript codec (src/privacy/payload-codec.ts):

    metadata["encoding"]               = b"binary/encrypted"
    metadata["encryption-key-id"]      = the key's id (decoding picks the key by it)
    metadata["encryption-cipher"]      = b"AES-256-GCM"
    metadata["encryption-compression"] = b"zlib" when the plaintext was deflated first (absent otherwise)
    data = 12-byte nonce || ciphertext || 16-byte tag, of the protobuf-serialized original Payload
           (zlib-deflated first when it is at least 4096 bytes and deflating shrinks it)
    associated data = "<key id>\\n<compression or empty>"

Keys use the same syntax as the worker's ``PAYLOAD_KEYS`` / ``PAYLOAD_KEYS_FILE``:
``<id>:<base64 of 32 bytes>`` entries, comma- or newline-separated, newest first (the newest
encrypts, every listed key decrypts; ``#`` starts a comment line in a file).

    import dataclasses, temporalio.converter
    from temporalio.client import Client
    from orchestrator_codec import OrchestratorPayloadCodec

    codec = OrchestratorPayloadCodec.from_env()          # PAYLOAD_KEYS or PAYLOAD_KEYS_FILE
    client = await Client.connect(
        "127.0.0.1:7233",
        data_converter=dataclasses.replace(temporalio.converter.DataConverter.default, payload_codec=codec),
    )

Needs ``cryptography`` (PyPI) besides ``temporalio``. Run as a script it is a small tool used by the
project's cross-language tests: ``python orchestrator_codec.py encode|decode`` reads a JSON list of
payloads (``{"metadata": {name: base64}, "data": base64}``) on standard input and writes the
encoded or decoded list.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import sys
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from temporalio.api.common.v1 import Payload
from temporalio.converter import PayloadCodec

ENCRYPTED_ENCODING = b"binary/encrypted"
KEY_ID_METADATA = "encryption-key-id"
CIPHER_METADATA = "encryption-cipher"
COMPRESSION_METADATA = "encryption-compression"
CIPHER = b"AES-256-GCM"
NONCE_BYTES = 12
TAG_BYTES = 16
PAYLOAD_KEY_BYTES = 32
DEFAULT_COMPRESS_ABOVE = 4096  # as the TypeScript codec: below that, deflating costs more than it saves

_KEY_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_BASE64 = re.compile(r"^[A-Za-z0-9+/]+={0,2}$")


class PayloadKeyError(ValueError):
    """The configured keys are malformed or missing (names the variable and entry, never key material)."""


class PayloadDecryptionError(Exception):
    """A payload could not be decrypted: its key is not configured, or it was altered."""


@dataclass(frozen=True)
class PayloadKey:
    id: str
    key: bytes

    def __repr__(self) -> str:  # never print key material
        return f"PayloadKey(id={self.id!r})"


def parse_payload_keys(text: str, variable: str = "PAYLOAD_KEYS") -> list[PayloadKey]:
    """``<id>:<base64>`` entries (comma- or newline-separated; ``#`` starts a comment line), newest first."""
    entries = [
        entry.strip()
        for line in text.split("\n")
        if not line.strip().startswith("#")
        for entry in line.split(",")
        if entry.strip() != ""
    ]
    if not entries:
        raise PayloadKeyError(f"{variable} holds no key")
    keys: list[PayloadKey] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{variable}[{i}]"
        colon = entry.find(":")
        if colon <= 0:
            raise PayloadKeyError(f"{where} must be <id>:<base64 of {PAYLOAD_KEY_BYTES} bytes>")
        key_id, encoded = entry[:colon], entry[colon + 1 :]
        if not _KEY_ID.match(key_id):
            raise PayloadKeyError(f"{where}: key id '{key_id[:64]}' must be 1-64 characters of [A-Za-z0-9._-]")
        if key_id in seen:
            raise PayloadKeyError(f"{where}: key id '{key_id}' is listed twice")
        seen.add(key_id)
        try:
            key = base64.b64decode(encoded, validate=True) if _BASE64.match(encoded) else b""
        except binascii.Error:
            key = b""
        if len(key) != PAYLOAD_KEY_BYTES:
            raise PayloadKeyError(
                f"{where}: key '{key_id}' must be {PAYLOAD_KEY_BYTES} bytes in base64 (e.g. openssl rand -base64 32), got {len(key)} bytes"
            )
        keys.append(PayloadKey(key_id, key))
    return keys


def load_payload_keys(env: Mapping[str, str] | None = None) -> list[PayloadKey] | None:
    """The keys the environment names (PAYLOAD_KEYS or PAYLOAD_KEYS_FILE), or None when PAYLOAD_ENCRYPTION=off."""
    env = os.environ if env is None else env
    if env.get("PAYLOAD_ENCRYPTION", "on") == "off":
        return None
    inline, file = env.get("PAYLOAD_KEYS", ""), env.get("PAYLOAD_KEYS_FILE", "")
    if inline and file:
        raise PayloadKeyError("set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE, not both")
    if inline:
        return parse_payload_keys(inline, "PAYLOAD_KEYS")
    if file:
        try:
            with open(file, encoding="utf-8") as f:
                text = f.read()
        except OSError as err:
            raise PayloadKeyError(f"cannot read PAYLOAD_KEYS_FILE {file}: {err.strerror or err}") from err
        return parse_payload_keys(text, f"PAYLOAD_KEYS_FILE ({file})")
    raise PayloadKeyError(
        "no payload key configured: set PAYLOAD_KEYS or PAYLOAD_KEYS_FILE to the keys the worker uses "
        "(a development checkout keeps its key in .data/payload-keys)"
    )


def _associated_data(key_id: str, compression: str) -> bytes:
    return f"{key_id}\n{compression}".encode()


class OrchestratorPayloadCodec(PayloadCodec):
    """AES-256-GCM payload codec, wire-compatible with the TypeScript AesGcmPayloadCodec."""

    def __init__(self, keys: Sequence[PayloadKey], compress_above: float = DEFAULT_COMPRESS_ABOVE) -> None:
        if not keys:
            raise PayloadKeyError("OrchestratorPayloadCodec needs at least one key")
        self._encrypt_with = keys[0]
        self._by_id = {k.id: AESGCM(k.key) for k in keys}
        self._compress_above = compress_above

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> OrchestratorPayloadCodec:
        keys = load_payload_keys(env)
        if keys is None:
            raise PayloadKeyError("PAYLOAD_ENCRYPTION=off: no codec to build")
        return cls(keys)

    @property
    def key_id(self) -> str:
        """The id new payloads are encrypted with."""
        return self._encrypt_with.id

    @property
    def key_ids(self) -> list[str]:
        return list(self._by_id)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.encrypt_one(p) for p in payloads]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [self.decrypt_one(p) for p in payloads]

    def encrypt_one(self, payload: Payload) -> Payload:
        plain = payload.SerializeToString()
        compression = ""
        if len(plain) >= self._compress_above:
            deflated = zlib.compress(plain, 1)
            if len(deflated) < len(plain):
                plain, compression = deflated, "zlib"
        key_id = self._encrypt_with.id
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._by_id[key_id].encrypt(nonce, plain, _associated_data(key_id, compression))  # ciphertext || tag
        metadata = {
            "encoding": ENCRYPTED_ENCODING,
            KEY_ID_METADATA: key_id.encode(),
            CIPHER_METADATA: CIPHER,
        }
        if compression:
            metadata[COMPRESSION_METADATA] = compression.encode()
        return Payload(metadata=metadata, data=nonce + sealed)

    def decrypt_one(self, payload: Payload) -> Payload:
        if payload.metadata.get("encoding") != ENCRYPTED_ENCODING:
            return payload  # plain payloads (older histories, clients without the codec) pass through
        key_id = payload.metadata.get(KEY_ID_METADATA, b"").decode()
        aead = self._by_id.get(key_id)
        if aead is None:
            raise PayloadDecryptionError(
                f"payload is encrypted with key '{key_id}', which is not among the configured keys "
                f"({', '.join(self._by_id)}): add it to PAYLOAD_KEYS"
            )
        compression = payload.metadata.get(COMPRESSION_METADATA, b"").decode()
        if compression not in ("", "zlib"):
            raise PayloadDecryptionError(f"payload uses unknown compression '{compression}'")
        data = payload.data
        if len(data) < NONCE_BYTES + TAG_BYTES:
            raise PayloadDecryptionError(f"encrypted payload is {len(data)} bytes, shorter than nonce and tag")
        try:
            plain = aead.decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], _associated_data(key_id, compression))
        except InvalidTag as err:
            raise PayloadDecryptionError(
                f"payload encrypted with key '{key_id}' failed authentication (altered, or a different key under the same id)"
            ) from err
        if compression == "zlib":
            plain = zlib.decompress(plain)
        decoded = Payload()
        decoded.ParseFromString(plain)
        return decoded


def _payload_from_json(o: Mapping[str, object]) -> Payload:
    metadata = o.get("metadata") or {}
    assert isinstance(metadata, Mapping)
    return Payload(
        metadata={k: base64.b64decode(str(v)) for k, v in metadata.items()},
        data=base64.b64decode(str(o.get("data") or "")),
    )


def _payload_to_json(p: Payload) -> dict[str, object]:
    return {
        "metadata": {k: base64.b64encode(v).decode() for k, v in p.metadata.items()},
        "data": base64.b64encode(p.data).decode(),
    }


def _main(argv: Sequence[str]) -> int:
    if len(argv) != 1 or argv[0] not in ("encode", "decode"):
        print("usage: python orchestrator_codec.py encode|decode < payloads.json  (keys: PAYLOAD_KEYS or PAYLOAD_KEYS_FILE)", file=sys.stderr)
        return 2
    try:
        codec = OrchestratorPayloadCodec.from_env()
        payloads = [_payload_from_json(o) for o in json.load(sys.stdin)]
        convert = codec.encrypt_one if argv[0] == "encode" else codec.decrypt_one
        print(json.dumps([_payload_to_json(convert(p)) for p in payloads]))
    except (PayloadKeyError, PayloadDecryptionError) as err:
        print(f"{type(err).__name__}: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
